"""The `mwaa-local` command group."""

import warnings
from pathlib import Path

import click

from mwaa_local import __version__
from mwaa_local.cli import (
    commands_api,
    commands_bucket,
    commands_credentials,
    commands_dags,
    commands_image,
    commands_metrics,
    commands_mwaa,
    commands_objects,
    commands_packaging,
    commands_prereqs,
    commands_pytest,
    commands_settings,
    commands_stack,
    commands_upgrade,
    commands_workflows,
)
from mwaa_local.cli.output import render_error, warn
from mwaa_local.errors import MwaaLocalError, MwaaLocalWarning


class Group(click.Group):
    """Renders MwaaLocalError as a message and a hint, without a traceback, and exits non-zero;
    prints each MwaaLocalWarning as a warning."""

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("always", MwaaLocalWarning)
            shown = warnings.showwarning

            def show(message, category, *args, **kwargs):
                if issubclass(category, MwaaLocalWarning):
                    warn(str(message))
                else:
                    shown(message, category, *args, **kwargs)

            warnings.showwarning = show
            try:
                return super().invoke(ctx)
            except MwaaLocalError as e:
                render_error(e)
                ctx.exit(e.exit_code)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    envvar="MWAA_LOCAL_PROJECT_DIR",
    help="The project folder: dags/, plugins/, requirements/, startup/ and mwaa-local.yaml.",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The settings file (default: PROJECT_DIR/mwaa-local.yaml).",
)
@click.version_option(__version__, prog_name="mwaa-local")
@click.pass_context
def cli(ctx: click.Context, project_dir: Path, settings_file: Path | None) -> None:
    """A local Amazon MWAA: an MWAA-shaped Celery stack that starts the way MWAA starts."""
    ctx.obj = commands_settings.Project(project_dir, settings_file)


COMMAND_GROUPS = (
    commands_settings,
    commands_image,
    commands_stack,
    commands_bucket,
    commands_credentials,
    commands_dags,
    commands_metrics,
    commands_pytest,
    commands_objects,
    commands_mwaa,
    commands_packaging,
    commands_prereqs,
    commands_upgrade,
    commands_api,
    commands_workflows,
)
for group in COMMAND_GROUPS:
    for command in group.COMMANDS:
        cli.add_command(command)
