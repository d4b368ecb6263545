"""What the bench scripts share: running a command or `mwaa-local` and timing it whole."""

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], ok_codes: tuple[int, ...] = (0,)) -> float:
    """Seconds `command` took; exit with its output when it fails."""
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode not in ok_codes:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return seconds


def mwaa_local(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mwaa_local.cli", "--project-dir", str(project), *args]


def cli(project: Path, *args: str) -> float:
    """Run `mwaa-local ARGS` on `project`; the seconds it took."""
    return timed(mwaa_local(project, *args))


def project_with(settings: dict, dags: Path | None = REPO / "dags") -> Path:
    """A throwaway project the containers' airflow user can read: `settings` as
    mwaa-local.yaml and a copy of `dags` (default: the repository's example DAG folder)."""
    project = Path(tempfile.mkdtemp(prefix="mwaa-local-bench-"))
    project.chmod(0o755)
    if dags is not None:
        shutil.copytree(dags, project / "dags")
    (project / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    return project
