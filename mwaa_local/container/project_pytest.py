"""`python -m mwaa_local.container.project_pytest [PYTEST ARGS]`: the project's tests, after the
start sequence, with what MWAA's components import from: the DAG folder and $AIRFLOW_HOME/plugins on
sys.path (appended, as Airflow does), the requirements installed.

pytest is not in the image and stays out of the user's requirements: when the environment does
not have it, uv installs it into a throwaway folder appended last to sys.path, pinned to every
version already installed, so the environment's packages win and nothing they need changes.
pytest's output goes to stderr; stdout carries one JSON report line, `{"exit_code": N}` or
`{"fatal": "..."}`. Exits with pytest's exit code. Runs inside the container: standard library
only (until pytest).
"""

import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from mwaa_local.container import paths

INTERNAL_ERROR = 3  # pytest's own code for "internal error"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def installed_pins(distributions: Iterable[tuple[str, str]]) -> list[str]:
    """`name==version` for each installed distribution, first one on sys.path winning."""
    pins: dict[str, str] = {}
    for name, version in distributions:
        if name and _NAME.match(name):
            pins.setdefault(canonicalize_name(name), version)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def install_command(target: str, constraints: str, env: Mapping[str, str]) -> list[str]:
    command = [
        "uv", "pip", "install", "--no-progress", "--python", sys.executable,
        "--target", target, "--constraint", constraints, "pytest",
    ]  # fmt: skip
    # A private index set for pip (e.g. by the startup script), which uv does not read.
    if env.get("PIP_INDEX_URL") and not env.get("UV_DEFAULT_INDEX", env.get("UV_INDEX_URL")):
        command += ["--default-index", env["PIP_INDEX_URL"]]
    return command


def sys_path_additions(airflow_home: str, dags_folder: str | None) -> list[str]:
    """What Airflow appends to sys.path on MWAA: the DAG folder and the plugins folder."""
    return [dags_folder or f"{airflow_home}/dags", f"{airflow_home}/plugins"]


def install_pytest(env: Mapping[str, str]) -> str:
    """Install pytest into a new temporary folder; return the folder."""
    folder = tempfile.mkdtemp(prefix="mwaa-local-pytest-")
    constraints = Path(folder) / "installed.txt"
    distributions = ((d.metadata["Name"], d.version) for d in importlib.metadata.distributions())
    constraints.write_text("\n".join(installed_pins(distributions)) + "\n")
    target = str(Path(folder) / "site")
    command = install_command(target, str(constraints), env)
    print("[mwaa-local] installing pytest (outside the environment's packages)", file=sys.stderr)
    done = subprocess.run(command, env=dict(env), stdout=sys.stderr, stderr=sys.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"`uv pip install pytest` exited with {done.returncode}")
    return target


def report_stream() -> int:
    """A descriptor for the report alone; fd 1 then points at stderr, for pytest's output."""
    report_fd = os.dup(1)
    os.dup2(2, 1)
    return report_fd


def run(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    home = env.get("AIRFLOW_HOME", str(paths.AIRFLOW_HOME))
    additions = sys_path_additions(home, env.get("AIRFLOW__CORE__DAGS_FOLDER"))
    sys.path += [p for p in additions if p not in sys.path]
    if importlib.util.find_spec("pytest") is None:
        sys.path.append(install_pytest(env))
    import pytest

    return {"exit_code": int(pytest.main(args))}


def main(argv: list[str]) -> int:
    report_fd = report_stream()
    report: dict[str, Any]
    try:
        report = run(argv)
    except Exception as e:
        report = {"fatal": f"{type(e).__name__}: {e}", "exit_code": INTERNAL_ERROR}
    os.write(report_fd, (json.dumps(report) + "\n").encode())
    return int(report["exit_code"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
