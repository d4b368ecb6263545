"""The host runtime: no engine. The same start sequence (container/entrypoint.py, unchanged) and
Airflow components run as processes on this machine, from a virtual environment per environment
and Airflow version (runtime/host_venv.py), each kept by a supervisor process
(runtime/host_supervisor.py) with its pid and status in the state folder:

    .mwaa-local/<Name>/host/
        venv-<airflow>-py<python>/   Airflow and MWAA's base providers (the image's part)
        home/<component>/            each component's AIRFLOW_HOME (its DAG copy, plugins, ...)
        logs/                        the logs every component shares (tasks, CloudWatch streams)
        output/<component>.log       what each component printed (`mwaa-local logs`)
        run/<component>.pid|.json    its supervisor's pid and status
        airflow.db                   the metadata database (SQLite)
        python/mwaa_local            the container half of mwaa-local, on PYTHONPATH

What cannot be as on MWAA here is in `differences()`, which `start` prints.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from mwaa_local.aws.task_aws import NONE as NO_CREDENTIALS
from mwaa_local.aws.task_aws import TaskAws, endpoint_variable
from mwaa_local.bucket.staged_constraints import stage_official_constraints
from mwaa_local.bucket.versions import Objects, VersionStore, objects_as_env
from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.log_streams import read_phases
from mwaa_local.runtime.common import (
    BUCKET_SYNC_SERVICE,
    ONE_SHOT_SERVICES,
    START_TIMEOUT_SECONDS,
    RuntimeCommon,
)
from mwaa_local.runtime.host_venv import (
    HostVenv,
    build_venv,
    default_cache_dir,
    uv_command,
    venv_constraints,
)
from mwaa_local.runtime.image import PLATFORM_MACHINES, package_dir
from mwaa_local.runtime.interface import Mounts
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.one_off import bucket_folder
from mwaa_local.runtime.stack import (
    LOG_TAIL_LINES,
    ServiceState,
    airflow_environment,
    project_name,
    status_of,
)
from mwaa_local.runtime.state import StateDir, write_private
from mwaa_local.spec.settings import Environment
from mwaa_local.spec.versions import AirflowVersion

MIGRATE_DB = "migrate-db"
# The Celery worker has no counterpart here: the scheduler's executor runs the tasks.
NOT_ON_HOST = ("worker",)
# As the compose file's health checks: a heartbeat at most this old, this long to first health.
HEARTBEAT_THRESHOLD_SECONDS = 30
START_PERIOD_SECONDS = 300
STOP_PATIENCE_SECONDS = 20
JOB_TYPES = {
    "scheduler": "SchedulerJob",
    "triggerer": "TriggererJob",
    "dag-processor": "DagProcessorJob",
}
HEALTH_PATHS = {"webserver": "/health", "api-server": "/api/v2/monitor/health"}
# What a component's process environment never takes from the shell that runs mwaa-local: the
# user's own Airflow settings and Python setup would change what MWAA's rules set.
# What Local.Credentials none keeps from the components (the containers never see them).
SHELL_CREDENTIALS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)
SHELL_PREFIXES = ("AIRFLOW", "MWAA_", "PYTHON", "VIRTUAL_ENV", "CONDA_", "UV_PROJECT")


@dataclass(frozen=True)
class HostStateDir(StateDir):
    """The environment's state folder, with the host runtime's own env file: what `update`
    keeps in its journal and restores on a rollback (environment/update.py)."""

    @property
    def host(self) -> Path:
        return self.path / "host"

    @property
    def host_env_file(self) -> Path:
        return self.host / "airflow-env.json"

    @property
    def env_files(self) -> tuple[Path, ...]:  # type: ignore[override]
        return (self.host_env_file,)


def host_environment(
    environment: Environment, airflow_env: dict[str, str], venv: HostVenv, root: Path
) -> dict[str, str]:
    """The Airflow components' environment under the host runtime: the containers' (MWAA's
    precedence, runtime/stack.py) with what MWAA owns replaced by what runs here: SQLite, the
    scheduler's executor, ports on this machine, the virtual environment."""
    version = environment.airflow_version
    local = environment.local
    env = {k: v for k, v in airflow_env.items() if not k.startswith("AIRFLOW__CELERY__")}
    # The containers' log folders (LoggingConfiguration's groups) are under the environment's
    # logs folder here, which every component's AIRFLOW_HOME links to.
    logs = str(paths.AIRFLOW_HOME / "logs")
    for key, value in env.items():
        if value == logs or value.startswith(logs + "/"):
            env[key] = str(root / "logs") + value[len(logs) :]
    # No StatsD collector runs here (the stack's metrics container): Airflow sends no metrics.
    env["AIRFLOW__METRICS__STATSD_ON"] = "False"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(local.bind_address, local.bind_address)
    host_url = f"[{host}]" if ":" in host else host
    env |= {
        # Airflow 2 refuses SQLite with any executor but the sequential one.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor" if version.major >= 3 else "SequentialExecutor",
        # The LocalExecutor forks `parallelism` processes at the first task; MWAA's 10000 (a
        # Celery setting there) would fill the machine. One worker's slots instead.
        "AIRFLOW__CORE__PARALLELISM": str(environment.worker_concurrency),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
        "AIRFLOW_VERSION": version.airflow,
        "AIRFLOW_CONSTRAINTS_FILE": str(venv.constraints_file),
        "MWAA_ESSENTIAL_CONSTRAINTS_FILE": str(venv.essential_constraints_file),
        "MWAA_LOCAL_INSTALL_PREFIX": str(venv.path),
        "MWAA_LOCAL_BUCKET_MOUNT": str(
            root / "bucket-mirror" if environment.bucket_is_s3 else environment.bucket_folder
        ),
        "PYTHONUNBUFFERED": "1",
    }
    if version.major >= 3:
        env |= {
            "AIRFLOW__API__HOST": local.bind_address,
            "AIRFLOW__API__PORT": str(local.webserver_port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://{host_url}:{local.webserver_port}/execution/"
            ),
        }
    else:
        env |= {
            "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": local.bind_address,
            "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(local.webserver_port),
        }
    return env


def host_paths(env: Mapping[str, str], store: VersionStore) -> dict[str, str]:
    """The object-version variables with the store's host folder for its in-container mount."""
    mount = str(paths.VERSIONS_MOUNT)
    return {
        key: str(store.root) + value[len(mount) :] if value.startswith(mount) else value
        for key, value in env.items()
    }


def _command_line(pid: int) -> str | None:
    """The command line of process `pid`, or None when there is no such process."""
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.parent.is_dir():
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
    try:
        done = subprocess.run(
            ["ps", "-p", str(pid), "-o", "command="], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _parse_time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def heartbeat_age(database: Path, job_type: str, since: float) -> float | None:
    """Seconds since the last heartbeat of a running `job_type` job that started after `since`
    (a Unix time; the database is this environment's alone), or None when there is none yet."""
    if not database.is_file():
        return None
    try:
        connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=2)
    except sqlite3.Error:
        return None
    try:
        rows = connection.execute(
            "SELECT latest_heartbeat, start_date FROM job WHERE job_type = ? AND state = 'running'",
            (job_type,),
        ).fetchall()
    except sqlite3.Error:
        return None
    finally:
        connection.close()
    now = datetime.now(UTC)
    ages = []
    for latest, started in rows:
        start = _parse_time(str(started or ""))
        beat = _parse_time(str(latest or ""))
        if beat is None or start is None or start.timestamp() < since - 5:
            continue
        ages.append((now - beat).total_seconds())
    return min(ages) if ages else None


def http_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return (body.get("metadatabase") or {}).get("status") == "healthy"


class HostRuntime(RuntimeCommon):
    READY_POLL_SECONDS = 0.5
    name = "host"
    # No Celery workers (the scheduler's executor runs the tasks), so nothing to autoscale; no
    # StatsD collector, so no metrics.
    has_workers = False
    collects_metrics = False

    def __init__(self, environment: Environment, cache_dir: Path | None = None) -> None:
        self.environment = environment
        folder = StateDir.for_environment(environment.project_dir, environment.name).path
        self.state = HostStateDir(folder)
        self.root = self.state.host
        self.cache_dir = cache_dir or default_cache_dir()
        self.venv = self.venv_for(environment.airflow_version)
        self.project = project_name(environment)

    # --- what runs where ------------------------------------------------------------------

    def venv_for(self, version: AirflowVersion) -> HostVenv:
        return HostVenv(self.root / f"venv-{version.airflow}-py{version.python}", version)

    def airflow_components(self) -> tuple[str, ...]:
        return tuple(c for c in self.environment.airflow_version.components if c not in NOT_ON_HOST)

    def services(self) -> tuple[str, ...]:
        extra = (BUCKET_SYNC_SERVICE,) if self.environment.bucket_is_s3 else ()
        return extra + self.airflow_components()

    def differences(self) -> tuple[str, ...]:
        version = self.environment.airflow_version
        executor = (
            "Airflow's LocalExecutor in the scheduler"
            if version.major >= 3
            else "Airflow's SequentialExecutor in the scheduler, one at a time (Airflow 2 "
            "allows no other with SQLite)"
        )
        return (
            f"Tasks run by {executor}, not on Celery workers: there is no worker component "
            "and no autoscaling (MinWorkers, MaxWorkers, celery.* options have no effect), at "
            f"most {self.environment.worker_concurrency} at once (one worker's slots: "
            "core.parallelism), and they see the scheduler's environment "
            "(MWAA_AIRFLOW_COMPONENT=scheduler).",
            f"The metadata database is SQLite ({self.root / 'airflow.db'}), not PostgreSQL.",
            "No container isolation: the components are processes of your user on this "
            f"machine, with its operating system (not Amazon Linux), its files and network "
            f"(the UI on {self.environment.local.bind_address}); the startup script runs "
            "with your rights, without MWAA's passwordless sudo.",
            f"Python {version.python} comes from this machine or uv, packages from "
            f"{self.venv.path}: requirements install there, so a package removed from "
            "requirements.txt, or installed by an update that rolled back, stays until "
            "`mwaa-local reset-db` rebuilds it.",
            "One of each component, without limits: the EnvironmentClass's sizes, Schedulers "
            "and mw1.micro's hybrid layout do not apply.",
            "No credentials service: the tasks use this shell's AWS credentials "
            "(Local.Credentials: profile) or none; the execution role needs docker or podman.",
            "No StatsD collector: Airflow sends no metrics (`mwaa-local metrics` needs docker "
            "or podman).",
        )

    def describe(self) -> str:
        return f"host (processes on this machine, {self.venv.path.name})"

    def check_service(self, service: str) -> str:
        known = self.services() + ONE_SHOT_SERVICES
        if service in NOT_ON_HOST:
            raise MwaaLocalError(
                f"{service!r} is not a component under the host runtime: the scheduler's "
                "executor runs the tasks.",
                hint="Components: " + ", ".join(known),
            )
        if service not in known:
            raise MwaaLocalError(
                f"{service!r} is not a component of this environment.",
                hint="Components: " + ", ".join(known),
            )
        return service

    # --- the environment's files -----------------------------------------------------------

    def airflow_env(self, objects: Objects | None, venv: HostVenv | None = None) -> dict[str, str]:
        store = self.versions
        store.secure()
        objects_env = host_paths(objects_as_env(store, objects or {}), store)
        aws = self.task_aws
        base = airflow_environment(
            self.environment, self.state.secrets(), objects_env, host_aws_variables(aws)
        )
        return host_environment(self.environment, base, venv or self.venv, self.root)

    # --- the tasks' AWS credentials (issue 12) ----------------------------------------------

    def check_task_aws(self, aws: TaskAws) -> None:
        """The credentials modes the host runtime can honour without the credentials service
        container: `profile` (the components are processes of this shell, with its AWS
        credentials) and `none` (they get none); `execution-role` needs the service."""
        if aws.mode == "execution-role":
            raise MwaaLocalError(
                f"The tasks' credentials are the execution role "
                f"{self.environment.execution_role_arn or ''} (Local.Credentials: "
                "execution-role), which the credentials service container assumes and "
                "refreshes; the host runtime runs no containers.",
                hint="Use Local.Runtime: docker | podman (MWAA_LOCAL_RUNTIME) for the execution "
                "role, or Local.Credentials: profile (the tasks use this shell's AWS "
                "credentials) or none.",
            )

    def write_env_files(self, objects: Objects | None = None) -> None:
        """The components' environment (default: the applied object versions), owner-only."""
        if objects is None:
            objects = self.record().applied or {}
        username, password = self.admin_credentials()
        env = self.airflow_env(objects)
        env |= {"MWAA_LOCAL_ADMIN_USERNAME": username, "MWAA_LOCAL_ADMIN_PASSWORD": password}
        # The scheduler's and triggerer's log servers listen on every interface at 8793 and 8794
        # unless told otherwise: free ports, so environments run side by side as in containers.
        env |= {
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        write_private(self.state.host_env_file, json.dumps(env, indent=1, sort_keys=True))

    def read_env_file(self) -> dict[str, str]:
        if not self.state.host_env_file.is_file():
            self.write_env_files()
        return json.loads(self.state.host_env_file.read_text())

    # --- the virtual environment -----------------------------------------------------------

    def prepared(self, version: AirflowVersion, cache_dir: Path) -> bool:
        constraints = venv_constraints(self.environment.local, version, cache_dir)
        return self.venv_for(version).is_current(constraints)

    def build_label(self, version: AirflowVersion) -> str:
        return str(self.venv_for(version).path)

    def require_images(self, command: str) -> None:
        raise MwaaLocalError(
            f"`{command}` needs an image, and the host runtime has none: it runs Airflow from a "
            "virtual environment on this machine.",
            hint=f"Run it on an engine: MWAA_LOCAL_RUNTIME=docker (or podman) mwaa-local "
            f"{command} ...; the host runtime builds its virtual environment where it runs, "
            "in seconds from uv's cache.",
        )

    def save_image(self, version: AirflowVersion, target: Path) -> str:
        self.require_images("build-image --save")
        return ""

    def load_image(self, archive: Path) -> list[str]:
        self.require_images("load-image")
        return []

    def build_description(
        self, version: AirflowVersion, base_image: str | None = None, ca_bundle: Path | None = None
    ) -> str:
        return (
            f"Building the virtual environment {self.venv_for(version).path} "
            f"(Airflow {version.airflow}, Python {version.python}) with uv"
        )

    def build(
        self,
        version: AirflowVersion,
        cache_dir: Path,
        on_line: Callable[[str], None] = lambda line: None,
        base_image: str | None = None,
        ca_bundle: Path | None = None,
        platform: str | None = None,
    ) -> str:
        if platform and platform_machine() not in PLATFORM_MACHINES.get(platform, ()):
            raise MwaaLocalError(
                f"The host runtime builds for this machine ({platform_machine()}), not for "
                f"{platform}: it makes a virtual environment, not an image.",
                hint="Build the image on an engine: MWAA_LOCAL_RUNTIME=docker (or podman) "
                f"mwaa-local build-image --platform {platform}",
            )
        if self.is_running() and version == self.environment.airflow_version:
            raise MwaaLocalError(
                f"Environment {self.environment.name} runs from {self.venv.path}.",
                hint="Stop it first: mwaa-local stop",
            )
        venv = self.venv_for(version)
        seconds = build_venv(venv, self.environment.local, cache_dir, on_line)
        return f"{venv.path} built in {seconds:.1f} s"

    def _require_venv(self) -> None:
        if not self.venv.marker.is_file():
            raise MwaaLocalError(
                f"The virtual environment for Airflow {self.venv.version.airflow} is missing "
                f"({self.venv.path}).",
                hint="`mwaa-local start` builds it (or `mwaa-local build-image`).",
            )

    # --- the components' processes ---------------------------------------------------------

    def _home(self, component: str) -> Path:
        return self.root / "home" / component

    def _output(self, component: str) -> Path:
        return self.root / "output" / f"{component}.log"

    def _status_file(self, component: str) -> Path:
        return self.root / "run" / f"{component}.json"

    def _pid_file(self, component: str) -> Path:
        return self.root / "run" / f"{component}.pid"

    def _layout(self) -> None:
        for folder in ("home", "logs", "output", "run", "python"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        if self.environment.bucket_is_s3:
            (self.root / "bucket-mirror").mkdir(exist_ok=True)
        link = self.root / "python" / "mwaa_local"
        if not (link.is_symlink() and link.resolve() == package_dir()):
            link.unlink(missing_ok=True)
            link.symlink_to(package_dir(), target_is_directory=True)

    def base_env(self, venv: HostVenv | None = None) -> dict[str, str]:
        """This shell's environment without what would change MWAA's settings, with the venv
        first on PATH, uv next, and mwaa-local's in-container half importable."""
        venv = venv or self.venv
        env = {k: v for k, v in os.environ.items() if not k.startswith(SHELL_PREFIXES)}
        if self.task_aws.mode == NO_CREDENTIALS:
            for key in SHELL_CREDENTIALS:
                env.pop(key, None)
        uv_dir = str(Path(uv_command()[0]).parent)
        env["PATH"] = os.pathsep.join([str(venv.bin), uv_dir, env.get("PATH", os.defpath)])
        env["PYTHONPATH"] = str(self.root / "python")
        return env

    def component_env(self, component: str) -> dict[str, str]:
        home = self._home(component)
        env = {**self.base_env(), **self.read_env_file(), "AIRFLOW_HOME": str(home)}
        if component == BUCKET_SYNC_SERVICE:
            env |= {
                "MWAA_LOCAL_S3_BUCKET_URL": self.environment.local.bucket,
                "MWAA_LOCAL_S3_ENDPOINT_URL": self.environment.local.s3_endpoint_url or "",
                "MWAA_LOCAL_MIRROR": str(self.root / "bucket-mirror"),
            }
        return env

    def _status(self, component: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._status_file(component).read_text())
        except (OSError, ValueError):
            return None

    def _supervisor_alive(self, component: str) -> int | None:
        """The pid of the component's supervisor when it runs, else None."""
        try:
            pid = int(self._pid_file(component).read_text().strip())
        except (OSError, ValueError):
            return None
        command = _command_line(pid)
        status_file = str(self._status_file(component))
        if command and "host_supervisor" in command and status_file in command:
            return pid
        return None

    def _start(self, component: str, fresh_log: bool = False) -> None:
        """Start the component's supervisor (which starts the component) unless it runs."""
        if self._supervisor_alive(component):
            return
        home = self._home(component)
        make_home(home)
        logs = home / "logs"
        if not logs.is_symlink():
            if logs.is_dir():
                shutil.rmtree(logs)
            logs.symlink_to(self.root / "logs", target_is_directory=True)
        output = self._output(component)
        if fresh_log:
            output.unlink(missing_ok=True)
        self._status_file(component).unlink(missing_ok=True)
        restart = "no" if component in ONE_SHOT_SERVICES else "always"
        entrypoint = [str(self.venv.python), "-m", "mwaa_local.container.entrypoint", component]
        supervisor = [
            sys.executable, "-m", "mwaa_local.runtime.host_supervisor",
            str(self._status_file(component)), str(output), restart, "--", *entrypoint,
        ]  # fmt: skip
        # The supervisor runs on mwaa-local's own Python, the component on the venv's; both
        # import mwaa_local from PYTHONPATH (the link to this package).
        process = subprocess.Popen(
            supervisor,
            cwd=home,
            env=self.component_env(component),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._pid_file(component).write_text(f"{process.pid}\n")
        # The supervisor writes its first status within moments; waiting for it keeps `states`
        # from reporting a component that is starting as missing.
        deadline = time.monotonic() + 10
        while self._status(component) is None and time.monotonic() < deadline:
            if process.poll() is not None:
                code = process.returncode
                raise MwaaLocalError(f"The supervisor of {component} exited ({code}).")
            time.sleep(0.05)

    def _stop(self, components: tuple[str, ...]) -> None:
        """SIGTERM each running component's supervisor (it stops the component's process
        group), then SIGKILL what is left after STOP_PATIENCE_SECONDS."""
        running = {c: pid for c in components if (pid := self._supervisor_alive(c))}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_PATIENCE_SECONDS
        while time.monotonic() < deadline and any(self._supervisor_alive(c) for c in running):
            time.sleep(0.2)
        for component, pid in running.items():
            if self._supervisor_alive(component):
                status = self._status(component) or {}
                for target in (status.get("pid"), pid):
                    if target:
                        with contextlib.suppress(ProcessLookupError, PermissionError):
                            os.killpg(target, signal.SIGKILL)
            self._pid_file(component).unlink(missing_ok=True)

    def _wait_exit(self, component: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._supervisor_alive(component) and time.monotonic() < deadline:
            time.sleep(0.2)

    # --- lifecycle --------------------------------------------------------------------------

    def up(self, services: tuple[str, ...] = ()) -> None:
        self._require_venv()
        self._layout()
        self.write_env_files()
        if services:
            for service in services:
                self._start(service)
            return
        if self.environment.bucket_is_s3:
            self._start(BUCKET_SYNC_SERVICE)
        # As compose's `depends_on: migrate-db: service_completed_successfully`.
        self._start(MIGRATE_DB)
        self._wait_exit(MIGRATE_DB, START_TIMEOUT_SECONDS)
        migrated = self._status(MIGRATE_DB) or {}
        if migrated.get("state") != "exited" or migrated.get("exit_code") != 0:
            return  # wait_until_ready names the failure, with its log
        for component in self.airflow_components():
            self._start(component)

    def stop(self) -> None:
        self._stop((*self.services(), *ONE_SHOT_SERVICES))

    def restart(self, services: tuple[str, ...] = ()) -> None:
        if not services:
            self.stop()
            self.up()
            return
        self._stop(services)
        for service in services:
            self._start(service)

    def recreate(self, services: tuple[str, ...]) -> None:
        """Start these components afresh (a new output log) with the env file as it is now
        (`update` writes it first)."""
        self._stop(services)
        for service in services:
            self._start(service, fresh_log=True)

    def pull_images(self, on_pull: Callable[[str], None] = lambda image: None) -> None:
        """Nothing to pull: no Postgres, no Redis."""

    def containers(self) -> list:
        """None: the components are processes (their console output is in output/)."""
        return []

    def engine_size(self) -> tuple[int, int]:
        """This machine's CPUs and memory in bytes."""
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        return os.cpu_count() or 1, memory

    def down(self, volumes: bool = False, uv_cache: bool = False) -> dict[str, list[str]]:
        """Stop every component; with `volumes`, delete what the environment made here (the
        SQLite database, logs, virtual environments: the host/ folder). uv's cache is this
        user's, shared with every uv project, and is never deleted here."""
        if uv_cache:
            raise MwaaLocalError(
                "The host runtime uses uv's own cache on this machine (`uv cache dir`), which "
                "every uv project shares; mwaa-local does not delete it.",
                hint="Run `uv cache clean` yourself, or drop --uv-cache.",
            )
        running = [s.service for s in self.states().values() if s.status == "running"]
        self.stop()
        removed: dict[str, list[str]] = {"processes": running}
        if volumes and self.root.exists():
            shutil.rmtree(self.root)
            removed["folders"] = [str(self.root)]
        return removed

    def remove_database(self) -> None:
        """Stop everything and delete the metadata database, the components' homes (as new
        containers would have), and rebuild the virtual environment without what requirements
        added to it (seconds, from uv's cache)."""
        self.stop()
        for name in ("airflow.db", "airflow.db-journal", "airflow.db-wal", "airflow.db-shm"):
            (self.root / name).unlink(missing_ok=True)
        for folder in ("home", "output", "run"):
            shutil.rmtree(self.root / folder, ignore_errors=True)
        build_venv(self.venv, self.environment.local, self.cache_dir)

    def states(self) -> dict[str, ServiceState]:
        states = {}
        for component in (*self.services(), *ONE_SHOT_SERVICES):
            status = self._status(component)
            if status is None:
                continue
            supervisor = self._supervisor_alive(component)
            if supervisor is None:
                word = "exited"
            else:
                word = "restarting" if status.get("state") == "restarting" else status["state"]
            health = None
            if word == "running" and component not in ONE_SHOT_SERVICES:
                health = self._health(component, float(status.get("started_at", 0)))
            states[component] = ServiceState(
                service=component,
                container=f"pid {status.get('pid')}",
                status=word,
                health=health,
                exit_code=status.get("exit_code") or 0,
                restarts=int(status.get("restarts", 0)),
            )
        return states

    def _health(self, component: str, started: float) -> str | None:
        if component in HEALTH_PATHS:
            ok = http_healthy(self.ui_url + HEALTH_PATHS[component])
        elif component in JOB_TYPES:
            age = heartbeat_age(self.root / "airflow.db", JOB_TYPES[component], started)
            ok = age is not None and age <= HEARTBEAT_THRESHOLD_SECONDS
        else:
            return None
        if ok:
            return "healthy"
        return "starting" if time.time() - started < START_PERIOD_SECONDS else "unhealthy"

    def status(self, states: Mapping[str, ServiceState]) -> str:
        return status_of(self.services(), states)

    # --- in the components ------------------------------------------------------------------

    def _require_component(self, service: str) -> None:
        self.check_service(service)
        if self._supervisor_alive(service) is None:
            raise MwaaLocalError(
                f"{service} is not running in environment {self.environment.name}.",
                hint="Start the environment first: mwaa-local start",
            )

    def _in_component(self, service: str, script: str, command: list[str]) -> list[str]:
        env_file = self._home(service) / paths.COMPONENT_ENV_FILE.relative_to(paths.AIRFLOW_HOME)
        return ["bash", "-c", f'[ -f "{env_file}" ] && . "{env_file}"; {script}', "mwaa-local",
                *command]  # fmt: skip

    def exec_in(self, service: str, command: list[str], tty: bool = False) -> int:
        """Run `command` with the component's own environment (its startup script's exports),
        from its AIRFLOW_HOME."""
        self._require_component(service)
        # This terminal's stdin either way (a TTY or a pipe), as `compose exec [-T]` passes it.
        return subprocess.run(
            self._in_component(service, 'exec "$@"', command),
            env=self.component_env(service),
            cwd=self._home(service),
        ).returncode

    def exec_streaming(
        self, service: str, command: list[str], on_line: Callable[[str], None]
    ) -> tuple[int, str, str]:
        self._require_component(service)
        script = 'python -m mwaa_local.container.dag_sync --once >&2; exec "$@"'
        return _run_streaming(
            self._in_component(service, script, command),
            self.component_env(service),
            self._home(service),
            LineStream(on_line),
        )

    def exec_capture(self, service: str, command: list[str]) -> tuple[int, bytes, bytes]:
        """Run `command` with the component's environment (no DAG sync first); its exit code,
        stdout and stderr."""
        self._require_component(service)
        done = subprocess.run(
            self._in_component(service, 'exec "$@"', command),
            env=self.component_env(service),
            cwd=self._home(service),
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        return done.returncode, done.stdout, done.stderr

    def exec_airflow(self, args: tuple[str, ...]) -> int:
        return self.exec_in("scheduler", ["airflow", *args])

    def where(self, service: str) -> str:
        status = self._status(service) or {}
        return f"the {service} process (pid {status.get('pid')})"

    def run_one_off(
        self,
        command: list[str],
        stderr: LineStream,
        mounts: Mounts | None = None,
        with_dags: bool = True,
    ) -> tuple[int, str]:
        """An entrypoint command in a throwaway AIRFLOW_HOME and virtual environment (built
        from uv's cache in seconds), so what it installs leaves the environment's own alone."""
        version = self.environment.airflow_version
        self.root.mkdir(parents=True, exist_ok=True)
        self._layout()
        # What a user tests is what the bucket holds now, not what was applied last; the
        # official constraints URLs its requirements name, readable offline in the store.
        current = self.bucket_objects()
        stage_official_constraints(self.environment, self.versions, current)
        with (
            tempfile.TemporaryDirectory(prefix="one-off-", dir=self.root) as tmp,
            bucket_folder(self.environment, with_dags) as bucket,
        ):
            scratch = Path(tmp)
            venv = HostVenv(scratch / "venv", version)
            build_venv(venv, self.environment.local, self.cache_dir)
            home = scratch / "airflow"
            make_home(home)
            env = {**self.base_env(venv), **self.airflow_env(current, venv)}
            env |= {
                "AIRFLOW_HOME": str(home),
                # As in a one-off container, no usable metadata database: commands that need
                # one (dags test) make their own.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{scratch / 'none.db'}",
            }
            where = {str(paths.AIRFLOW_HOME): str(home)}
            if bucket is not None:
                where[str(paths.BUCKET_MOUNT)] = str(bucket)
            for host_path, mount in (mounts or {}).items():
                bind = PurePosixPath(mount["bind"])
                if bind.is_relative_to(paths.AIRFLOW_HOME):
                    link = home / bind.relative_to(paths.AIRFLOW_HOME)
                    link.parent.mkdir(parents=True, exist_ok=True)
                    link.symlink_to(host_path)
                else:
                    where[str(bind)] = host_path
            arguments = [_translate(arg, where) for arg in command]
            entrypoint = [str(venv.python), "-m", "mwaa_local.container.entrypoint", *arguments]
            code, stdout, _ = _run_streaming(entrypoint, env, home, stderr)
            return code, stdout

    # --- logs and reports -------------------------------------------------------------------

    def log_tail(self, service: str, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(_last_lines(self._output(service), lines))

    def show_logs(
        self, services: tuple[str, ...] = (), tail: str = "all", follow: bool = False
    ) -> None:
        """Print the components' output on this terminal, each line after its component's
        name (all of them when none is named), as compose does."""
        names = services or tuple(
            c for c in (*ONE_SHOT_SERVICES, *self.services()) if self._output(c).is_file()
        )
        width = max((len(n) for n in names), default=0)
        count = None if tail == "all" else int(tail)
        offsets = {}
        for name in names:
            path = self._output(name)
            for line in _last_lines(path, count):
                print(f"{name:<{width}} | {line}", flush=True)
            offsets[name] = path.stat().st_size if path.is_file() else 0
        while follow:
            time.sleep(0.5)
            for name in names:
                path = self._output(name)
                if not path.is_file() or path.stat().st_size <= offsets[name]:
                    continue
                with path.open("rb") as f:
                    f.seek(offsets[name])
                    chunk = f.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]
                offsets[name] += len(complete)
                for line in complete.decode(errors="replace").splitlines():
                    print(f"{name:<{width}} | {line}", flush=True)

    def phase_reports(self) -> dict[str, dict[str, dict[str, Any]]]:
        reports = {}
        for service in (*self.airflow_components(), BUCKET_SYNC_SERVICE):
            path = self._output(service)
            if path.is_file():
                reports[service] = read_phases(path.read_text(errors="replace"))
        return reports

    def export_log_streams(self) -> Path:
        """Copy the CloudWatch-shaped streams into the state folder, as the docker runtime does
        from its logs volume."""
        source = self.root / "logs" / paths.STREAMS_ROOT.name
        target = self.state.path / "logs" / paths.STREAMS_ROOT.name
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        return target


def platform_machine() -> str:
    return os.uname().machine.lower()


def host_aws_variables(aws: TaskAws) -> dict[str, str]:
    """The tasks' region and AWS endpoints as this machine sees them; with Local.Credentials
    none, no credentials from this shell (keys, profiles, instance metadata) either."""
    variables = {"AWS_DEFAULT_REGION": aws.region, "AWS_REGION": aws.region}
    for service, url in sorted(aws.endpoints.items()):
        variables[endpoint_variable(service)] = url
    if aws.mode == NO_CREDENTIALS:
        variables |= {  # and base_env leaves out this shell's keys and profile
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    elif aws.profile:
        variables["AWS_PROFILE"] = aws.profile
    return variables


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_home(home: Path) -> None:
    """An AIRFLOW_HOME with what the image's has: the airflow user's site folder, where the
    start sequence keeps its requirements marker."""
    (home / paths.USER_SITE.relative_to(paths.AIRFLOW_HOME)).mkdir(parents=True, exist_ok=True)


def _translate(argument: str, where: Mapping[str, str]) -> str:
    """An in-container path in `argument` as the host path standing in for it."""
    for inside in sorted(where, key=len, reverse=True):
        if argument == inside or argument.startswith(inside + "/"):
            return where[inside] + argument[len(inside) :]
    return argument


def _last_lines(path: Path, count: int | None) -> list[str]:
    if not path.is_file():
        return []
    lines = path.read_text(errors="replace").splitlines()
    return lines if count is None else lines[-count:] if count else []


def _run_streaming(
    command: list[str], env: Mapping[str, str], cwd: Path, stderr: LineStream
) -> tuple[int, str, str]:
    """Run `command`; stream its stderr to `stderr`; its exit code, stdout and stderr's tail."""
    process = subprocess.Popen(
        command,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    chunks: list[bytes] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for chunk in iter(lambda: process.stdout.read(65536), b""):
            chunks.append(chunk)

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    assert process.stderr is not None
    for chunk in iter(lambda: process.stderr.readline(), b""):
        stderr.feed(chunk)
    code = process.wait()
    reader.join()
    tail = stderr.close()
    return code, b"".join(chunks).decode(errors="replace"), tail
