"""The keeper of one host-runtime component, what a container and its restart policy are to the
docker runtime: `python -m mwaa_local.runtime.host_supervisor STATUS LOG RESTART -- COMMAND...`.

It runs COMMAND in a process group of its own with its output appended to LOG, keeps STATUS (a
JSON file) saying what it does, and when COMMAND exits starts it again after a pause
(RESTART=always, the compose file's `unless-stopped`) or ends (RESTART=no, the one-shot
migrate-db). SIGTERM stops COMMAND's whole process group, then the keeper. Standard library
only: it runs detached from the `mwaa-local` command that started it.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BACKOFF_SECONDS = (1, 2, 4, 8, 10)


def write_status(path: Path, status: dict) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(status))
    temporary.replace(path)


def exit_code(returncode: int) -> int:
    """A shell's (and Docker's) exit code: 128 + N for a process ended by signal N."""
    return 128 - returncode if returncode < 0 else returncode


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def main(argv: list[str]) -> int:
    status_file, log_file, restart = Path(argv[0]), Path(argv[1]), argv[2]
    command = argv[4:] if argv[3:4] == ["--"] else argv[3:]
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            signal_group(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    restarts = 0
    status = {"supervisor": os.getpid(), "restarts": 0, "exit_code": None}
    while True:
        with log_file.open("ab") as log:
            child = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        status.update(state="running", pid=child.pid, started_at=time.time(), restarts=restarts)
        write_status(status_file, status)
        if stopping:  # SIGTERM came before the child existed
            signal_group(child.pid, signal.SIGTERM)
        code = exit_code(child.wait())
        # What the component left behind in its group (a task, a web worker) goes with it.
        signal_group(child.pid, signal.SIGKILL)
        status.update(exit_code=code, ended_at=time.time())
        if stopping or restart != "always":
            status.update(state="exited", stopped=stopping)
            write_status(status_file, status)
            return 0 if stopping else code
        restarts += 1
        status.update(state="restarting", restarts=restarts)
        write_status(status_file, status)
        pause = BACKOFF_SECONDS[min(restarts, len(BACKOFF_SECONDS)) - 1]
        deadline = time.monotonic() + pause
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
        if stopping:
            status.update(state="exited", stopped=True)
            write_status(status_file, status)
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
