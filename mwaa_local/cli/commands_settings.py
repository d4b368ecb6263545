"""Commands about what an environment is: `versions`, `init`; the Project every command gets."""

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mwaa_local.cli.output import err, out, print_json, warn
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.state import LockHolder, StateDir
from mwaa_local.spec import versions
from mwaa_local.spec.from_environment import render_settings_yaml, settings_from_get_environment
from mwaa_local.spec.settings import Environment, load_environment


@dataclass
class Project:
    """The project folder and its settings, loaded once and only when a command needs them."""

    project_dir: Path
    settings_file: Path | None
    _environment: Environment | None = field(default=None, repr=False)

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            self._environment = load_environment(self.project_dir, self.settings_file)
            for message in self._environment.warnings:
                warn(message)
        return self._environment

    @property
    def cache_dir(self) -> Path:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(base) / "mwaa-local"


def changes_environment(command: str) -> Callable:
    """For a command that changes the environment: hold its lock while it runs, so a second such
    command (another terminal, a CI job) waits for it, then fails naming it."""

    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def locked(project: Project, *args: Any, **kwargs: Any) -> Any:
            environment = project.environment
            state = StateDir.for_environment(environment.project_dir, environment.name)

            def waiting(holder: LockHolder | None) -> None:
                who = holder.describe() if holder else "another mwaa-local command"
                err.print(f"Waiting for {who} to finish ...", markup=False)

            with state.lock(command, on_wait=waiting):
                return function(project, *args, **kwargs)

        return locked

    return decorate


@click.command("airflow-versions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def versions_command(as_json: bool) -> None:
    """List MWAA's Airflow versions with their Python version and components."""
    rows = [
        {
            "AirflowVersion": v.airflow,
            "PythonVersion": v.python,
            "Components": list(v.components),
            "Default": v == versions.DEFAULT,
            "ConstraintsUrl": v.constraints_url,
        }
        for v in versions.SUPPORTED
    ]
    if as_json:
        print_json(rows)
        return
    table = Table("Airflow", "Python", "Components", "")
    for row in rows:
        default = "default" if row["Default"] else ""
        table.add_row(
            row["AirflowVersion"], row["PythonVersion"], ", ".join(row["Components"]), default
        )
    out.print(table)


@click.command("init")
@click.option(
    "--from-environment",
    "from_environment",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON printed by `aws mwaa get-environment --name NAME`.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the settings (default: PROJECT_DIR/mwaa-local.yaml).",
)
@click.pass_obj
def init_command(project: Project, from_environment: Path | None, output: Path | None) -> None:
    """Write a settings file, optionally from a real environment's get-environment JSON."""
    target = output or project.settings_file or project.project_dir / "mwaa-local.yaml"
    if target.exists():
        raise MwaaLocalError(
            f"{target} already exists; mwaa-local never rewrites your files.",
            hint="Name another file with --output, or move the existing one away.",
        )
    if from_environment:
        mapping, dropped = settings_from_get_environment(from_environment.read_text())
        text = render_settings_yaml(mapping, dropped, from_environment.name)
    else:
        mapping, dropped = {"AirflowVersion": versions.DEFAULT.airflow}, []
        text = render_settings_yaml(mapping, dropped, "mwaa-local defaults")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    # Validate what was written, so a value MWAA accepts but mwaa-local does not shows up now.
    load_environment(target.parent, target)
    out.print(f"Wrote {target} ({len(mapping)} settings).")
    for line in dropped:
        out.print(f"  dropped {line}")


COMMANDS = [versions_command, init_command]
