"""Commands about what an environment is: `versions`, `init`; the Project every command gets."""

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from mwaa_local.cli.output import err, out, print_json, print_table, warn
from mwaa_local.errors import MwaaLocalError, SettingsError
from mwaa_local.runtime.state import LockHolder, StateDir
from mwaa_local.scaffold.project import lay_out
from mwaa_local.spec import versions
from mwaa_local.spec.from_environment import render_settings_yaml, settings_from_get_environment
from mwaa_local.spec.settings import Environment, environment_from_text, load_environment


@dataclass
class Project:
    """The project folder and its settings, loaded once and only when a command needs them."""

    project_dir: Path
    settings_file: Path | None
    _environment: Environment | None = field(default=None, repr=False)

    @property
    def environment(self) -> Environment:
        if self._environment is None:
            self.require_folder()
            self._environment = load_environment(self.project_dir, self.settings_file)
            for message in self._environment.warnings:
                warn(message)
        return self._environment

    def require_folder(self) -> None:
        """A project folder that is missing is an error, not an environment that never ran."""
        if not self.project_dir.is_dir():
            state = "is not a folder" if self.project_dir.exists() else "does not exist"
            raise MwaaLocalError(
                f"The project folder {self.project_dir} {state}.",
                hint="Name an existing folder with --project-dir (or MWAA_LOCAL_PROJECT_DIR), "
                f"or lay out a new project there: mwaa-local --project-dir {self.project_dir} "
                "init",
            )

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

            with state.lock(command, on_wait=waiting) as left:
                if left is not None:
                    warn(
                        f"Found what {left.describe()} left: it was interrupted before it "
                        f"finished. `mwaa-local {command}` carries on from there."
                    )
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
    print_table(table)


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
    """Lay out a project: settings, the example DAG, requirements, startup script, plugins."""
    target = output or project.settings_file or project.project_dir / "mwaa-local.yaml"
    dropped: list[str] = []
    if from_environment:
        if target.exists():
            raise MwaaLocalError(
                f"{target} already exists; mwaa-local never rewrites your files.",
                hint="Name another file with --output, or move the existing one away.",
            )
        mapping, dropped = read_get_environment(from_environment)
        text = render_settings_yaml(mapping, dropped, from_environment.name)
    elif target.exists():
        mapping, text = {}, None
    else:
        mapping = {"AirflowVersion": versions.DEFAULT.airflow}
        text = render_settings_yaml(mapping, [], "mwaa-local defaults")
    if text is None:
        environment = load_environment(project.project_dir, target)
        out.print(f"Kept {target} (exists).", markup=False)
    else:
        environment = checked_settings(text, project, target, from_environment)
        write_new_file(target, text)
        out.print(f"Wrote {target} ({len(mapping)} settings).", markup=False)
    for line in dropped:
        out.print(f"  dropped {line}", markup=False)
    for part in lay_out(environment):
        if part.created:
            out.print(f"Wrote {shown_path(part.path)} ({part.what}).", markup=False)
        else:
            out.print(f"Kept {shown_path(part.covered_by)} (exists; {part.what}).", markup=False)
    where = "" if project.project_dir == Path(".") else f"--project-dir {project.project_dir} "
    out.print(f"Next: mwaa-local {where}start", markup=False)


def shown_path(path: Path | None) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def read_get_environment(source: Path) -> tuple[dict, list[str]]:
    try:
        data = source.read_bytes()
    except OSError as e:
        raise MwaaLocalError(f"Cannot read {source}: {e.strerror or e}.") from e
    return settings_from_get_environment(data)


def checked_settings(text: str, project: Project, target: Path, source: Path | None) -> Environment:
    """The environment `text` describes, checked before it is written: an invalid file is never
    left behind."""
    try:
        return environment_from_text(text, project.project_dir, target, os.environ)
    except SettingsError as e:
        if source is None:
            raise
        raise SettingsError(
            e.problems,
            source=f"{source} (as {target.name})",
            hint="Nothing was written. Fix these values in the JSON (or write the settings file "
            "by hand) and run init again.",
        ) from e


def write_new_file(path: Path, text: str) -> None:
    """Write a new file; never over an existing one; an unwritable place is an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MwaaLocalError(
            f"Cannot write {path}: cannot make the folder {path.parent}: {e.strerror or e}.",
            hint="Name a place you can write to with --output or --project-dir.",
        ) from e
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError as e:
        raise MwaaLocalError(
            f"{path} already exists; mwaa-local never rewrites your files.",
            hint="Name another file with --output, or move the existing one away.",
        ) from e
    except OSError as e:
        raise MwaaLocalError(
            f"Cannot write {path}: {e.strerror or e}.",
            hint="Name a place you can write to with --output or --project-dir.",
        ) from e


COMMANDS = [versions_command, init_command]
