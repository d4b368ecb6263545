"""The keeper of one host-runtime component, what a container and its restart policy are to the
docker runtime: `python -m mwaa_local.runtime.host_supervisor STATUS LOG RESTART -- COMMAND...`.

It runs COMMAND in a process group of its own with its output appended to LOG, keeps STATUS (a
JSON file) saying what it does, and when COMMAND exits starts it again after a pause
(RESTART=always, the compose file's `unless-stopped`) or ends (RESTART=no, the one-shot
migrate-db). SIGTERM stops COMMAND's whole process group and, on Linux, whatever COMMAND started
outside it (the keeper is their subreaper), then the keeper. Standard library only: it runs
detached from the `mwaa-local` command that started it.
"""

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BACKOFF_SECONDS = (1, 2, 4, 8, 10)
ORPHAN_PATIENCE_SECONDS = 3
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


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


def become_subreaper() -> bool:
    """On Linux, adopt what the component leaves behind when it dies (a background loop it
    started in a session of its own), as a container's end takes everything with it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def children() -> list[int]:
    """This process's children (Linux: from /proc)."""
    found = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_file.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and int(fields[1]) == os.getpid():
            found.append(int(stat_file.parent.name))
    return found


def wait_for(child: subprocess.Popen) -> int:
    """`child`'s exit status, reaping on the way the orphans adopted as a subreaper."""
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == child.pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return child.returncode


def end_orphans() -> None:
    """SIGTERM what was adopted (and its group), SIGKILL what is left after a moment, reap."""
    orphans = children()
    for pid in orphans:
        signal_group(pid, signal.SIGTERM)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + ORPHAN_PATIENCE_SECONDS
    while orphans and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        orphans = children()
        time.sleep(0.05)
    for pid in orphans:
        signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


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
    subreaper = become_subreaper()
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
        code = exit_code(wait_for(child) if subreaper else child.wait())
        # What the component left behind in its group (a task, a web worker) goes with it, and
        # so does what it started outside its group.
        signal_group(child.pid, signal.SIGKILL)
        if subreaper:
            end_orphans()
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
