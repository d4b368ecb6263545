"""A new project, laid out where its environment reads the bucket (`mwaa-local init`): the example
DAG, a requirements file, a startup script, a plugins folder and a .gitignore for the state
folder. Like `astro dev init`, whatever exists is kept as it is: nothing is ever overwritten.

The files are the sample project's, shipped as package data (mwaa_local/data/project/), so an
installed mwaa-local lays out the same project as a source checkout.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mwaa_local.bucket.versions import DEFAULT_PLUGINS_KEYS
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import Environment

EXAMPLE_DAG = "mwaa_local_example.py"


@dataclass(frozen=True)
class Placed:
    path: Path  # where the file is (or would have gone)
    what: str  # what it is for
    created: bool  # False: something was there already and was kept
    covered_by: Path | None = None  # the existing file or folder that made it unnecessary


def template(name: str) -> bytes:
    return (resources.files("mwaa_local.data") / "project" / name).read_bytes()


def planned(environment: Environment) -> list[tuple[str, str, Path, Path]]:
    """(template, what it is, where it goes, what already there makes it unnecessary)."""
    plans = []
    if not environment.bucket_is_s3:
        bucket = environment.bucket_folder
        dags = bucket / environment.dag_s3_path
        plans.append(("dags/" + EXAMPLE_DAG, "the example DAG", dags / EXAMPLE_DAG, dags))
        if environment.requirements_s3_path:
            path = bucket / environment.requirements_s3_path
            plans.append(("requirements/requirements.txt", "requirements", path, path))
        if environment.startup_script_s3_path:
            path = bucket / environment.startup_script_s3_path
            plans.append(("startup/startup.sh", "the startup script", path, path))
        if not environment.plugins_s3_path and not any(
            (bucket / key).exists() for key in DEFAULT_PLUGINS_KEYS
        ):
            folder = bucket / DEFAULT_PLUGINS_KEYS[1]
            plans.append(("plugins/README.md", "the plugins folder", folder / "README.md", folder))
    gitignore = environment.project_dir / ".gitignore"
    plans.append(("gitignore", "git ignores the state folder", gitignore, gitignore))
    return plans


def lay_out(environment: Environment) -> list[Placed]:
    """Create each part of the project that is missing; keep every part that exists."""
    placed = []
    for name, what, path, covered_by in planned(environment):
        if _in_use(covered_by):
            placed.append(Placed(path, what, created=False, covered_by=covered_by))
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MwaaLocalError(
                f"Cannot write {path}: cannot make the folder {path.parent}: {e.strerror or e}.",
                hint="Run init in a folder you can write to (--project-dir).",
            ) from e
        try:
            with path.open("xb") as f:  # never over a file that appeared meanwhile
                f.write(template(name))
        except FileExistsError:
            placed.append(Placed(path, what, created=False, covered_by=path))
            continue
        except OSError as e:
            raise MwaaLocalError(
                f"Cannot write {path}: {e.strerror or e}.",
                hint="Run init in a folder you can write to (--project-dir).",
            ) from e
        placed.append(Placed(path, what, created=True))
    return placed


def _in_use(path: Path) -> bool:
    """Something is there: a file, a link, or a folder with anything in it (an empty folder
    gets the file it was made for)."""
    if path.is_symlink() or path.is_file():
        return True
    if path.is_dir():
        return any(path.iterdir())
    return path.exists()
