"""Running a start-sequence step as MWAA's image does: in its own process group, output streamed
line by line, a hard time cap, and on time-out SIGTERM to the whole group, a few seconds'
patience, then SIGKILL (anchor-amazon-mwaa-docker-images.md 3.4, 3.6)."""

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TERM_PATIENCE_SECONDS = 5
# After the command exits, how long to keep reading output a background child still writes.
DRAIN_SECONDS = 2


@dataclass(frozen=True)
class Finished:
    returncode: int | None  # None when it timed out
    timed_out: bool
    pid: int
    seconds: float


def run_capped(
    command: list[str],
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None],
) -> Finished:
    """Run `command`, passing each output line to `on_line` (in this thread). A background job
    it started may keep the pipe open: once the command itself has exited, that is not waited
    for."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for raw in process.stdout:
            lines.put(raw.rstrip("\r\n"))
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = started + timeout
    exited_at: float | None = None
    timed_out = False
    while True:
        now = time.monotonic()
        if now >= deadline:
            timed_out = process.poll() is None
            break
        try:
            line = lines.get(timeout=min(0.2, deadline - now))
        except queue.Empty:
            if process.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > DRAIN_SECONDS:
                    break
            continue
        if line is None:
            break
        on_line(line)
    seconds = time.monotonic() - started
    if timed_out:
        stop_group(process)
    returncode = None if timed_out else process.wait()
    reader.join(timeout=1)
    while True:  # what was read but not yet passed on
        try:
            line = lines.get_nowait()
        except queue.Empty:
            break
        if line is not None:
            on_line(line)
    return Finished(returncode, timed_out, process.pid, seconds)


def stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the whole group, SIGKILL after the patience; then nothing of it is left."""
    _signal_group(process, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=TERM_PATIENCE_SECONDS)
    _signal_group(process, signal.SIGKILL)  # children that outlived the leader
    process.wait()


def _signal_group(process: subprocess.Popen, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
