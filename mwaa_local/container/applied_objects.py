"""The applied object versions (plugins.zip, startup.sh, requirements.txt) as the start sequence
reads them from the version store.

On the host the store is owner-only (README "Security"): files 0600 in 0700 folders, owned by
whoever ran mwaa-local, mounted read-only. The airflow user reads them directly when it is that
user (the same uid); otherwise through its passwordless sudo, which it has as on MWAA. The start
sequence then works on its own copy.

Runs inside the container: standard library only.
"""

import os
import subprocess
from pathlib import Path

from mwaa_local.errors import MwaaLocalError


def read_applied(source: Path) -> bytes:
    try:
        return source.read_bytes()
    except PermissionError:
        pass
    done = subprocess.run(
        ["sudo", "-n", "cat", "--", str(source)], capture_output=True, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        error = done.stderr.decode(errors="replace").strip()
        raise MwaaLocalError(
            f"cannot read {source} from the version store as user {os.getuid()}, nor with sudo: "
            f"{error}"
        )
    return done.stdout


def applied_exists(source: Path) -> bool:
    """Whether the store holds the file, asked as read_applied reads it (directly, else sudo)."""
    try:
        return source.is_file()
    except PermissionError:
        test = ["sudo", "-n", "test", "-f", str(source)]
        return subprocess.run(test, capture_output=True, stdin=subprocess.DEVNULL).returncode == 0


def copy_applied(source: Path, dest: Path) -> Path:
    """Copy an applied object to `dest`, readable by this user only."""
    content = read_applied(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(content)
    os.replace(tmp, dest)
    return dest
