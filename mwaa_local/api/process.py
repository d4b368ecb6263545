"""The environment's MWAA API endpoint as a process: `serve()` runs it in the foreground
(`mwaa-local api`); `ensure_api()` starts it detached (`mwaa-local start`), `stop_api()` stops it
(`mwaa-local stop`), `running_api()` finds it (`status`). Its pid and port are kept in
.mwaa-local/<Name>/api.json, its log in api.log there.

It listens on 127.0.0.1 only and holds no AWS credentials: every AWS_* variable but the region
is dropped from its environment, and the shared credential and config files are pointed at
/dev/null, so nothing in it can sign AWS requests with the user's keys. It exits when its
project's state folder is removed.
"""

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mwaa_local.errors import MwaaLocalError
from mwaa_local.prereqs.checks import port_free
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import Environment

if TYPE_CHECKING:
    from mwaa_local.api.server import ApiServer

BIND_HOST = "127.0.0.1"  # as api/server.py binds
STATE_FILE_NAME = "api.json"
LOG_FILE_NAME = "api.log"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10
WATCH_SECONDS = 2.0
LOG_TAIL_LINES = 20
# The region names the environment's ARN; nothing else of AWS_* may reach the process.
KEPT_AWS_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
PORT_HINT = "Set Local.ApiPort in mwaa-local.yaml or MWAA_LOCAL_API_PORT to a free port."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiProcess:
    pid: int
    port: int

    @property
    def endpoint_url(self) -> str:
        return f"http://{BIND_HOST}:{self.port}"


def _state(environment: Environment) -> StateDir:
    return StateDir.for_environment(environment.project_dir, environment.name)


def state_file(environment: Environment) -> Path:
    return _state(environment).path / STATE_FILE_NAME


def log_file(environment: Environment) -> Path:
    return _state(environment).path / LOG_FILE_NAME


def without_aws_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` with no way to AWS credentials: AWS_* dropped (the region kept), the shared
    files and the instance metadata service turned off."""
    kept = {k: v for k, v in environ.items() if not k.startswith("AWS_") or k in KEPT_AWS_VARIABLES}
    kept.update(
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
    )
    return kept


def _is_api_process(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # not ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no /proc (macOS): a live pid is the best there is
        return True
    with contextlib.suppress(OSError):
        words = cmdline.read_bytes().split(b"\0")
        return b"api" in words and any(b"mwaa_local" in w or b"mwaa-local" in w for w in words)
    return False


def _read_state(environment: Environment) -> ApiProcess | None:
    try:
        raw = json.loads(state_file(environment).read_text())
        return ApiProcess(int(raw["pid"]), int(raw["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_api(environment: Environment) -> ApiProcess | None:
    """The environment's API process, when one runs."""
    found = _read_state(environment)
    return found if found and _is_api_process(found.pid) else None


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((BIND_HOST, port), timeout=1):
        return True
    return False


def ensure_api(environment: Environment) -> tuple[ApiProcess, bool]:
    """The environment's API process, started detached when none runs (or it runs on another
    port than the settings ask for now); True when it was started now."""
    port = environment.local.api_endpoint_port
    current = running_api(environment)
    if current and current.port == port:
        return current, False
    if current:
        stop_api(environment)
    if not _port_frees_up(port):
        raise MwaaLocalError(
            f"Port {port} on {BIND_HOST} is in use, so the MWAA API cannot start.", hint=PORT_HINT
        )
    command = [sys.executable, "-m", "mwaa_local.cli"]
    command += ["--project-dir", str(environment.project_dir.resolve())]
    if environment.settings_file is not None:
        command += ["--settings", str(environment.settings_file.resolve())]
    command.append("api")
    logs = log_file(environment)
    logs.parent.mkdir(parents=True, exist_ok=True)
    with open(logs, "ab") as output:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            env=without_aws_credentials(os.environ),
            start_new_session=True,  # it outlives the shell's Ctrl-C and the terminal
            close_fds=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise MwaaLocalError(
                f"The MWAA API exited at start (code {child.returncode}):\n{_tail(logs)}",
                hint=f"Its log: {logs}. Run it in the foreground with `mwaa-local api`.",
            )
        found = _read_state(environment)
        if found and found.pid == child.pid and _answers(found.port):
            return found, True
        time.sleep(0.1)
    child.terminate()
    raise MwaaLocalError(
        f"The MWAA API did not answer within {START_TIMEOUT_SECONDS} s.", hint=f"Its log: {logs}"
    )


def _port_frees_up(port: int, seconds: float = 3.0) -> bool:
    """Whether the port is free now or within a few seconds: a process that was just killed
    has released its memory (its /proc cmdline reads empty) before the kernel closes its
    listening socket."""
    deadline = time.monotonic() + seconds
    while not port_free(BIND_HOST, port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    return ""


def stop_api(environment: Environment) -> ApiProcess | None:
    """Stop the environment's API process; the one stopped, or None when none ran."""
    found = running_api(environment)
    if found is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(found.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while _is_api_process(found.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _is_api_process(found.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(found.pid, signal.SIGKILL)
    state_file(environment).unlink(missing_ok=True)
    return found


def serve(
    environment: Environment, on_ready: Callable[["ApiServer"], None] = lambda server: None
) -> None:
    """Serve the environment's MWAA API until SIGTERM, Ctrl-C, or its state folder is removed."""
    # Here, not at the top: `start`, `stop` and `status` import this module and need neither
    # botocore's model nor the server.
    from mwaa_local.api import serverless_workflows
    from mwaa_local.api.environment_backend import EnvironmentBackend
    from mwaa_local.api.server import ApiServer
    from mwaa_local.api.stack_telemetry import StackTelemetry

    clean = without_aws_credentials(os.environ)
    os.environ.clear()
    os.environ.update(clean)
    other = running_api(environment)
    if other is not None and other.pid != os.getpid():
        raise MwaaLocalError(
            f"The MWAA API of {environment.name} runs already (pid {other.pid}) at "
            f"{other.endpoint_url}.",
            hint="Use it, or stop it with `mwaa-local stop` first.",
        )
    backend = EnvironmentBackend(environment.project_dir, environment.settings_file)
    telemetry = StackTelemetry(backend.stack, lambda stack: backend.arn(stack.environment))
    server = ApiServer(
        backend,
        environment.local.api_endpoint_port,
        validate_responses=True,
        telemetry=telemetry,
        workflows=serverless_workflows.for_environment(environment, backend.region),
    )
    state = _state(environment)
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *args: stopping.set())
    server.start()
    try:
        state.path.mkdir(parents=True, exist_ok=True)
        state_file(environment).write_text(
            json.dumps({"pid": os.getpid(), "port": server.port}) + "\n"
        )
        log.info("MWAA API of %s: %s, pid %d", environment.name, server.endpoint_url, os.getpid())
        on_ready(server)
        while not stopping.wait(WATCH_SECONDS):
            if not state.path.is_dir():
                log.info("%s is gone: stopping", state.path)
                break
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)
        found = _read_state(environment)
        if found and found.pid == os.getpid():
            state_file(environment).unlink(missing_ok=True)
        log.info("MWAA API of %s stopped", environment.name)
