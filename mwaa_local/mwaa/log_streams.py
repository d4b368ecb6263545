"""Logs in MWAA's shape: one folder per CloudWatch log group (`airflow-<Name>-<Type>`), one file
per stream (`startup_script_execution_<host>`, `requirements_install_<host>`), as MWAA names them
(mwaa-behaviour.md 7.1). In the containers they live in the shared logs volume; `mwaa-local logs
--streams` reads them from there.
"""

import json
import socket
import sys
import time
from pathlib import Path
from typing import Any, TextIO

STARTUP_SCRIPT = "startup_script_execution"
REQUIREMENTS = "requirements_install"
PHASE_MARKER = "MWAA_LOCAL_PHASE "

# mwaa-behaviour.md 1.2 and 8.2: Airflow 3's API server runs in the web server component, the
# DAG processor and triggerer in the scheduler's; their startup output goes to those groups.
LOG_GROUP_TYPES = {
    "webserver": "WebServer",
    "api-server": "WebServer",
    "scheduler": "Scheduler",
    "dag-processor": "Scheduler",
    "triggerer": "Scheduler",
    "worker": "Worker",
    # mwaa-behaviour.md 1.2: the hybrid's startup output goes to the Worker group.
    "hybrid": "Worker",
}


def log_group(environment_name: str, component: str) -> str:
    return f"airflow-{environment_name}-{LOG_GROUP_TYPES.get(component, 'Worker')}"


def stream_path(root: Path, environment_name: str, component: str, stream: str) -> Path:
    return root / log_group(environment_name, component) / f"{stream}_{socket.gethostname()}"


class Stream:
    """A CloudWatch-like log stream: `[LEVEL] - message` lines in a file, echoed to stderr."""

    def __init__(self, path: Path | None, echo: TextIO | None = None) -> None:
        self.path = path
        self.echo = echo
        self._file = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def write(self, message: str, level: str = "INFO") -> None:
        line = f"[{level}] - {message}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        if self._file:
            self._file.write(f"{stamp} {line}\n")
            self._file.flush()
        print(line, file=self.echo or sys.stderr, flush=True)

    def info(self, message: str) -> None:
        self.write(message, "INFO")

    def warning(self, message: str) -> None:
        self.write(message, "WARNING")

    def error(self, message: str) -> None:
        self.write(message, "ERROR")

    def close(self) -> None:
        if self._file:
            self._file.close()


def report_phase(
    phase: str, component: str, result: dict[str, Any], out: TextIO | None = None
) -> None:
    """One machine-readable line in the container's log; `start` and `status` read it back."""
    record = {"phase": phase, "component": component, "host": socket.gethostname(), **result}
    print(PHASE_MARKER + json.dumps(record, sort_keys=True), file=out or sys.stdout, flush=True)


def read_phases(log_text: str) -> dict[str, dict[str, Any]]:
    """The last report of each phase found in a container's log."""
    phases = {}
    for line in log_text.splitlines():
        index = line.find(PHASE_MARKER)
        if index >= 0:
            try:
                record = json.loads(line[index + len(PHASE_MARKER) :])
            except json.JSONDecodeError:
                continue
            phases[record.get("phase", "?")] = record
    return phases
