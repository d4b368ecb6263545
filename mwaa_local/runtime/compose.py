"""The compose project: which compose tool there is, and the calls mwaa-local makes to it.

Users mostly have `docker compose` (v2); some machines only `docker-compose` (v1). Both read the
same file.
"""

import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import mwaa_local
from mwaa_local.errors import MwaaLocalError


@dataclass(frozen=True)
class ComposeTool:
    command: tuple[str, ...]
    version: str


@cache
def compose_tool() -> ComposeTool:
    """`docker compose` (v2) when the plugin answers, else `docker-compose` (v1)."""
    for command in (("docker", "compose"), ("docker-compose",)):
        if not shutil.which(command[0]):
            continue
        try:
            done = subprocess.run(
                [*command, "version", "--short"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0 and done.stdout.strip():
            return ComposeTool(command, done.stdout.strip())
    raise MwaaLocalError(
        "Neither `docker compose` (v2) nor `docker-compose` (v1) is installed.",
        hint="Install the Docker Compose plugin (it comes with Docker Desktop) or docker-compose.",
    )


def compose_file() -> Path:
    path = Path(mwaa_local.__file__).resolve().parent.parent / "compose" / "docker-compose.yaml"
    if not path.is_file():
        raise MwaaLocalError(
            f"The compose file is missing ({path}).",
            hint="Install mwaa-local from its source checkout: pip install -e .",
        )
    return path
