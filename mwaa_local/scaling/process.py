"""The autoscaler as a host process: started by `start`, stopped by `stop`, one per environment.

It runs on the host, beside the engine's socket the CLI already uses, so no container, and no
Airflow container where tasks run user code, gets that socket. A lock file held for its whole
life says whether it runs (a stale pid file cannot fool it); its log and its last decision are
in the environment's state folder.
"""

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import mwaa_local

LOCK_NAME = "autoscaler.lock"
LOG_NAME = "autoscaling.log"
STATE_NAME = "autoscaling.json"
STOP_WAIT_SECONDS = 15


def hold_lock(path: Path) -> IO | None:
    """The lock file, locked for as long as the returned file stays open; None when another
    process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def running_pid(folder: Path) -> int | None:
    """The autoscaler's pid when one holds the lock, else None."""
    path = folder / LOCK_NAME
    if not path.is_file():
        return None
    with path.open("r") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            text = path.read_text().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def start_autoscaler(folder: Path, project_dir: Path, settings_file: Path | None) -> int:
    """Start the autoscaler unless one runs; return its pid."""
    pid = running_pid(folder)
    if pid is not None:
        return pid
    command = [
        sys.executable, "-m", "mwaa_local.scaling.loop", "--project-dir", str(project_dir),
    ]  # fmt: skip
    if settings_file is not None:
        command += ["--settings", str(settings_file)]
    folder.mkdir(parents=True, exist_ok=True)
    # The same mwaa_local as this process, wherever the child starts.
    package_root = str(Path(mwaa_local.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    with (folder / LOG_NAME).open("a") as log:
        process = subprocess.Popen(
            command,
            cwd=folder,
            env={**os.environ, "PYTHONPATH": path},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives the `start` command and its terminal
            close_fds=True,
        )
    # It takes the lock at once; wait for that, so a second `start` sees it.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.poll() is None:
        if running_pid(folder) == process.pid:
            break
        time.sleep(0.1)
    return process.pid


def stop_autoscaler(folder: Path) -> bool:
    """Stop the autoscaler if one runs; True when one was stopped."""
    pid = running_pid(folder)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while time.monotonic() < deadline and running_pid(folder) is not None:
        time.sleep(0.1)
    return True


def autoscaler_state(folder: Path) -> dict[str, Any]:
    """What the autoscaler last wrote, with Running saying whether it runs now."""
    state: dict[str, Any] = {}
    path = folder / STATE_NAME
    if path.is_file():
        with contextlib.suppress(ValueError, OSError):
            state = json.loads(path.read_text())
    pid = running_pid(folder)
    return {**state, "Running": pid is not None, "Pid": pid, "Log": str(folder / LOG_NAME)}
