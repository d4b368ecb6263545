"""The `mwaa-local` command group."""

import importlib
import warnings
from pathlib import Path

import click

from mwaa_local import __version__
from mwaa_local.cli import commands_settings
from mwaa_local.cli.output import render_error, warn
from mwaa_local.errors import MwaaLocalError, MwaaLocalWarning

# The module of each command (mwaa_local/cli/<module>.py, in its COMMANDS), imported when the
# command runs, or when --help lists them all: importing every one (boto3, the API server, the
# workflows) took about a quarter of a second of each `mwaa-local airflow ...` call.
COMMAND_MODULES = {
    "airflow": "commands_airflow",
    "airflow-versions": "commands_settings",
    "api": "commands_api",
    "build-image": "commands_image",
    "credentials": "commands_credentials",
    "dags": "commands_dags",
    "down": "commands_stack",
    "init": "commands_settings",
    "load-image": "commands_image",
    "logs": "commands_stack",
    "metrics": "commands_metrics",
    "objects": "commands_objects",
    "package-requirements": "commands_packaging",
    "pytest": "commands_pytest",
    "reset-db": "commands_stack",
    "restart": "commands_stack",
    "shell": "commands_stack",
    "start": "commands_stack",
    "status": "commands_stack",
    "stop": "commands_stack",
    "sync": "commands_stack",
    "test-requirements": "commands_mwaa",
    "test-startup-script": "commands_mwaa",
    "update": "commands_bucket",
    "upgrade-check": "commands_upgrade",
    "validate-prereqs": "commands_prereqs",
    "versions": "commands_bucket",
    "workflows": "commands_workflows",
}


class Group(click.Group):
    """Renders MwaaLocalError as a message and a hint, without a traceback, and exits non-zero;
    prints each MwaaLocalWarning as a warning. Loads each command's module when it is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMAND_MODULES:
            return super().get_command(ctx, name)
        module = importlib.import_module(f"mwaa_local.cli.{COMMAND_MODULES[name]}")
        return next(command for command in module.COMMANDS if command.name == name)

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
