"""`mwaa-local objects apply|export`: the connections, variables and pools a project's DAGs use,
kept in airflow-objects.yaml and upserted into the running environment through Airflow's REST API.
"""

import sys
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import out
from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.apply import Outcome, apply_objects, export_objects
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.select import open_runtime
from mwaa_local.spec.airflow_objects import (
    OBJECTS_FILE_NAME,
    AirflowObjects,
    dump_objects,
    load_objects,
    sensitive_names,
)
from mwaa_local.spec.settings import Environment

SENSITIVE_OPTION = "core.sensitive_var_conn_names"


def masked_names(environment: Environment) -> frozenset[str]:
    """The key parts Airflow masks in this environment: its defaults plus the configured ones."""
    return sensitive_names(environment.airflow_configuration_options.get(SENSITIVE_OPTION))


def render_outcomes(outcomes: list[Outcome], console: Console) -> None:
    table = Table("Id", "Kind", "Action")
    for outcome in outcomes:
        table.add_row(outcome.name, outcome.kind, outcome.action)
    console.print(table)
    counts = Counter(o.action for o in outcomes)
    summary = ", ".join(f"{counts[a]} {a}" for a in ("created", "updated", "unchanged"))
    console.print(f"Airflow objects: {summary}.")


def project_objects(environment: Environment) -> AirflowObjects | None:
    """PROJECT/airflow-objects.yaml, checked (a bad file raises ObjectsFileError, exit 2), or
    None when there is none. `start` reads it before starting and applies it once healthy."""
    path = environment.project_dir / OBJECTS_FILE_NAME
    return load_objects(path, None, masked_names(environment)) if path.is_file() else None


def apply_loaded(stack: Runtime, loaded: AirflowObjects, console: Console) -> None:
    names = masked_names(stack.environment)
    render_outcomes(apply_objects(stack.api(), loaded, names), console)


@click.group("objects")
def objects() -> None:
    """Seed connections, variables and pools from airflow-objects.yaml, or export them."""


@objects.command("apply")
@click.option(
    "--file",
    "objects_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"The objects file (default: PROJECT_DIR/{OBJECTS_FILE_NAME}).",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also read AIRFLOW_CONN_<ID>= and AIRFLOW_VAR_<KEY>= lines; the objects file wins.",
)
@click.pass_obj
def apply_command(project: Project, objects_file: Path | None, env_file: Path | None) -> None:
    """Create or update connections, variables and pools in the running environment."""
    environment = project.environment
    path = objects_file or project.project_dir / OBJECTS_FILE_NAME
    if objects_file is None and env_file is None and not path.is_file():
        raise MwaaLocalError(
            f"There is no {path} to apply.",
            hint=f"Write one (connections:, variables:, pools:), name one with --file, "
            f"or export the running environment's: mwaa-local objects export --output {path}",
        )
    yaml_path = path if objects_file is not None or path.is_file() else None
    names = masked_names(environment)
    # The files are checked before the stack, so a bad file fails fast (exit status 2).
    loaded = load_objects(yaml_path, env_file, names)
    stack = open_runtime(environment)
    stack.require_running()
    apply_loaded(stack, loaded, out)


@objects.command("export")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@click.pass_obj
def export_command(project: Project, output: Path | None, force: bool) -> None:
    """Print the running environment's connections, variables and pools (no passwords)."""
    if output is not None and output.exists() and not force:
        raise MwaaLocalError(
            f"{output} already exists; mwaa-local never rewrites your files unasked.",
            hint="Name another file, or add --force to overwrite it.",
        )
    stack = open_runtime(project.environment)
    stack.require_running()
    exported = export_objects(stack.api(), masked_names(project.environment))
    text = dump_objects(exported)
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    out.print(f"Wrote {len(exported)} objects to {output}.")


COMMANDS = (objects,)
