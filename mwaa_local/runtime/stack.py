"""One environment's compose stack: its env files, its containers and their health.

The CLI asks this module for what it needs and never reaches into Docker itself.
"""

import contextlib
import functools
import io
import subprocess
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from mwaa_local.aws import task_aws
from mwaa_local.bucket.access import container_endpoint
from mwaa_local.bucket.source import open_bucket
from mwaa_local.bucket.versions import Objects, VersionStore, objects_as_env, read_objects
from mwaa_local.container import paths
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.airflow_config import (
    MWAA_DEFAULT_OPTIONS,
    configuration_options_as_env,
    env_file_text,
    parsing_options,
)
from mwaa_local.mwaa.log_streams import read_phases
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.compose import compose_file, compose_tool
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.state import Secrets, StateDir, write_private
from mwaa_local.spec.settings import Environment

ONE_SHOT_SERVICES = ("migrate-db",)
UV_CACHE_VOLUME = "mwaa-local-uv-cache"
BACKING_SERVICES = ("postgres", "redis")
# For an s3:// bucket, one container mirrors the bucket's DAG folder into this volume, which the
# Airflow containers mount where a bucket folder would be.
BUCKET_SYNC_SERVICE = "bucket-sync"
BUCKET_MIRROR_VOLUME = "bucket-mirror"
START_TIMEOUT_SECONDS = 600
LOG_TAIL_LINES = 40


def project_name(environment: Environment) -> str:
    # Compose project names are lower case; MWAA names may not be.
    return environment.name.lower()


def airflow_services(environment: Environment) -> tuple[str, ...]:
    return environment.airflow_version.components


def long_running_services(environment: Environment) -> tuple[str, ...]:
    extra = (BUCKET_SYNC_SERVICE,) if environment.bucket_is_s3 else ()
    if task_aws.recorded_mode(environment) not in (None, task_aws.NONE):
        extra += (task_aws.CREDENTIALS_SERVICE,)
    return BACKING_SERVICES + extra + airflow_services(environment)


def airflow_environment(
    environment: Environment,
    secrets: Secrets,
    objects_env: Mapping[str, str] | None = None,
    aws_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The Airflow containers' environment, in MWAA's precedence (mwaa-behaviour.md 1.4):
    MWAA's defaults < AirflowConfigurationOptions < what MWAA owns (executor, database, broker,
    keys, the AWS region), which no option can change. `objects_env` names the applied object
    versions; `aws_env` holds the region and AWS endpoints (aws/task_aws.py)."""
    version = environment.airflow_version
    concurrency = environment.class_spec.worker_concurrency
    defaults = {
        **configuration_options_as_env(MWAA_DEFAULT_OPTIONS),
        **configuration_options_as_env(parsing_options(version.major, environment.local.dag_sync)),
        # mwaa-behaviour.md 4.4: worker_autoscale is the class's "N,N".
        "AIRFLOW__CELERY__WORKER_AUTOSCALE": f"{concurrency},{concurrency}",
        "AIRFLOW_CONN_AWS_DEFAULT": "aws://",
        # One web worker is plenty for one local user and saves memory.
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "AIRFLOW__API__WORKERS": "1",
    }
    options = configuration_options_as_env(environment.airflow_configuration_options)
    database = f"airflow:{secrets.postgres_password}@postgres:5432/airflow"
    owned = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
        "AIRFLOW__CELERY__BROKER_URL": "redis://redis:6379/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{database}",
        "AIRFLOW__CORE__FERNET_KEY": secrets.fernet_key,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "MWAA_LOCAL_ENVIRONMENT_NAME": environment.name,
        "MWAA_LOCAL_DAG_S3_PATH": environment.dag_s3_path,
        "MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT": str(environment.local.startup_script_timeout),
        "MWAA_LOCAL_REQUIREMENTS_TIMEOUT": str(environment.local.requirements_timeout),
        "MWAA_LOCAL_CONFIG_OPTION_KEYS": ",".join(sorted(options)),
        "MWAA_LOCAL_DAG_SYNC_INTERVAL": str(environment.local.sync_interval),
        "AIRFLOW_ENV_NAME": environment.name,
        **(objects_env or {}),
        **(aws_env or {}),
    }
    if version.major >= 3:
        owned |= {
            "AIRFLOW__API__SECRET_KEY": secrets.webserver_secret_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.jwt_secret,
            # mwaa-behaviour.md 8.2: MWAA keeps Flask-AppBuilder auth on Airflow 3.
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
            ),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://api-server:8080/execution/",
        }
    else:
        owned |= {
            "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.webserver_secret_key,
            "AIRFLOW__API__AUTH_BACKENDS": (
                "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"
            ),
        }
    return {**defaults, **options, **owned}


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    status: str  # created, running, restarting, exited, ...
    health: str | None  # starting, healthy, unhealthy; None without a healthcheck
    exit_code: int
    restarts: int

    @property
    def failed(self) -> bool:
        if self.service in ONE_SHOT_SERVICES:
            return self.status == "exited" and self.exit_code != 0
        return self.status in ("exited", "dead", "restarting") or self.health == "unhealthy"

    @property
    def ready(self) -> bool:
        if self.service in ONE_SHOT_SERVICES:
            return self.status == "exited" and self.exit_code == 0
        return self.status == "running" and self.health in (None, "healthy")


class Stack:
    def __init__(self, environment: Environment, client: docker.DockerClient) -> None:
        self.environment = environment
        self.client = client
        self.project = project_name(environment)
        self.state = StateDir.for_environment(environment.project_dir, environment.name)

    # --- files -----------------------------------------------------------------------------

    @property
    def image(self) -> str:
        return image_tag(self.environment.airflow_version)

    @property
    def profiles(self) -> tuple[str, ...]:
        major = f"airflow{self.environment.airflow_version.major}"
        return (major, "s3") if self.environment.bucket_is_s3 else (major,)

    @functools.cached_property
    def task_aws(self) -> task_aws.TaskAws:
        """The containers' AWS (credentials mode, region, endpoints); `start` sets it."""
        return task_aws.current_task_aws(self.environment)

    @property
    def versions(self) -> VersionStore:
        return VersionStore(self.state.path / "versions")

    @property
    def record_file(self) -> Path:
        return self.state.path / "environment.json"

    def record(self) -> EnvironmentRecord:
        return EnvironmentRecord.load(self.record_file)

    def bucket(self):
        return open_bucket(self.environment)

    def bucket_objects(self) -> Objects:
        """plugins.zip, requirements.txt and startup.sh as the settings ask for them now (the
        pinned versions, else the current ones), recorded in the version store."""
        return read_objects(self.environment, self.bucket(), self.versions)

    def api(self) -> AirflowApi:
        """A client for the environment's published Airflow API, logged in as the admin."""
        local = self.environment.local
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(local.bind_address, local.bind_address)
        if ":" in host:
            host = f"[{host}]"
        username, password = self.admin_credentials()
        major = self.environment.airflow_version.major
        return AirflowApi(f"http://{host}:{local.webserver_port}", username, password, major)

    def admin_credentials(self) -> tuple[str, str]:
        local = self.environment.local
        return local.admin_username, local.admin_password or self.state.secrets().admin_password

    def write_env_files(self, objects: Objects | None = None) -> None:
        """Write compose.env and airflow.env; the Airflow containers get `objects` (default:
        the applied versions)."""
        secrets = self.state.secrets()
        local = self.environment.local
        username, password = self.admin_credentials()
        if objects is None:
            objects = self.record().applied or {}
        store = self.versions
        store.root.mkdir(parents=True, exist_ok=True)
        store.root.chmod(0o755)
        s3 = self.environment.bucket_is_s3
        compose_env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "COMPOSE_PROFILES": ",".join(self.profiles),
            "MWAA_LOCAL_AIRFLOW_IMAGE": self.image,
            "MWAA_LOCAL_POSTGRES_IMAGE": local.postgres_image,
            "MWAA_LOCAL_REDIS_IMAGE": local.redis_image,
            "MWAA_LOCAL_BIND_ADDRESS": local.bind_address,
            "MWAA_LOCAL_WEBSERVER_PORT": str(local.webserver_port),
            # A named volume for an S3 bucket's mirror, else the bucket folder bind-mounted.
            "MWAA_LOCAL_BUCKET": (
                BUCKET_MIRROR_VOLUME if s3 else str(self.environment.bucket_folder)
            ),
            "MWAA_LOCAL_VERSIONS": str(store.root),
            "MWAA_LOCAL_S3_BUCKET_URL": local.bucket if s3 else "",
            "MWAA_LOCAL_S3_ENDPOINT_URL": container_endpoint(local.bucket_endpoint_url),
            "MWAA_LOCAL_DAG_S3_PATH": self.environment.dag_s3_path,
            "MWAA_LOCAL_DAG_SYNC_INTERVAL": str(local.sync_interval),
            "MWAA_LOCAL_AIRFLOW_ENV_FILE": str(self.state.airflow_env_file),
            "MWAA_LOCAL_POSTGRES_PASSWORD": secrets.postgres_password,
            "MWAA_LOCAL_ADMIN_USERNAME": username,
            "MWAA_LOCAL_ADMIN_PASSWORD": password,
            **self.task_aws.compose_variables(self.environment, self.state),
        }
        write_private(self.state.compose_env_file, env_file_text(compose_env))
        aws_env = self.task_aws.container_variables()
        write_private(self.state.path / task_aws.AWS_ENV_FILE, env_file_text(aws_env))
        objects_env = objects_as_env(store, objects)
        airflow_env = airflow_environment(
            self.environment, secrets, objects_env, self.task_aws.airflow_variables()
        )
        write_private(self.state.airflow_env_file, env_file_text(airflow_env))

    # --- compose ---------------------------------------------------------------------------

    def compose_command(self, *args: str) -> list[str]:
        profiles = [flag for p in self.profiles for flag in ("--profile", p)]
        files = [compose_file()] + ([task_aws.compose_file()] if self.task_aws.enabled else [])
        return [
            *compose_tool().command,
            "--project-name", self.project,
            *[flag for path in files for flag in ("--file", str(path))],
            "--env-file", str(self.state.compose_env_file),
            *profiles,
            *args,
        ]  # fmt: skip

    def compose(self, *args: str, capture: bool = True, check: bool = True) -> str:
        if not self.state.compose_env_file.is_file():
            self.write_env_files()
        done = subprocess.run(
            self.compose_command(*args),
            capture_output=capture,
            text=True,
            stdin=subprocess.DEVNULL if capture else None,
        )
        if check and done.returncode != 0:
            detail = (done.stderr or done.stdout or "").strip()[-2000:] if capture else ""
            raise MwaaLocalError(f"`{' '.join(args[:2])}` failed for {self.project}: {detail}")
        return done.stdout or ""

    def up(self, services: tuple[str, ...] = ()) -> None:
        self.write_env_files()
        self.compose("up", "--detach", "--remove-orphans", *services)

    def show_logs(self, services: tuple[str, ...] = (), tail: str = "all", follow: bool = False):
        """Print the components' logs on this terminal (all of them when none is named)."""
        args = ["logs", "--tail", tail] + (["--follow"] if follow else [])
        self.compose(*args, *services, capture=False, check=False)

    def stop(self) -> None:
        """Stop every container; the metadata database volume stays."""
        self.compose("stop")

    def restart(self, services: tuple[str, ...] = ()) -> None:
        self.compose("restart", *services)

    def recreate(self, services: tuple[str, ...]) -> None:
        """Replace these components' containers with new ones from the current env files."""
        self.compose("up", "--detach", "--no-deps", "--force-recreate", *services)

    def remove_database(self) -> None:
        """Remove the containers and the metadata database volume (and only that volume)."""
        self.compose("down", "--remove-orphans")
        volume = f"{self.project}_postgres-data"
        with contextlib.suppress(docker.errors.NotFound):
            self.client.volumes.get(volume).remove()

    # --- containers ------------------------------------------------------------------------

    def containers(self) -> list:
        label = f"com.docker.compose.project={self.project}"
        return self.client.containers.list(all=True, filters={"label": label})

    def states(self) -> dict[str, ServiceState]:
        states = {}
        for container in self.containers():
            attrs = container.attrs
            service = container.labels.get("com.docker.compose.service", container.name)
            health = attrs["State"].get("Health")
            states[service] = ServiceState(
                service=service,
                container=container.name,
                status=attrs["State"]["Status"],
                health=health["Status"] if health else None,
                exit_code=attrs["State"].get("ExitCode", 0),
                restarts=attrs.get("RestartCount", 0),
            )
        return states

    def is_running(self) -> bool:
        return any(s.status == "running" for s in self.states().values())

    def require_running(self) -> None:
        if not self.is_running():
            raise MwaaLocalError(
                f"Environment {self.environment.name} is not running.",
                hint="Start it first: mwaa-local start",
            )

    def container_for(self, service: str):
        for container in self.containers():
            if container.labels.get("com.docker.compose.service") == service:
                return container
        raise MwaaLocalError(
            f"{service} has no container in environment {self.environment.name}.",
            hint="Start the environment first: mwaa-local start",
        )

    def check_service(self, service: str) -> str:
        known = long_running_services(self.environment) + ONE_SHOT_SERVICES
        if service not in known:
            raise MwaaLocalError(
                f"{service!r} is not a component of this environment.",
                hint="Components: " + ", ".join(known),
            )
        return service

    def exec_in(self, service: str, command: list[str], tty: bool = False) -> int:
        """Run `command` in a component's container with the component's own environment."""
        load = f'[ -f {paths.COMPONENT_ENV_FILE} ] && . {paths.COMPONENT_ENV_FILE}; exec "$@"'
        wrapped = ["bash", "-c", load, "mwaa-local", *command]
        flags = [] if tty else ["-T"]
        return subprocess.run(self.compose_command("exec", *flags, service, *wrapped)).returncode

    def exec_streaming(
        self, service: str, command: list[str], on_line: Callable[[str], None]
    ) -> tuple[int, str, str]:
        """Run `command` in a component's container with the component's environment, after a
        DAG sync; stream its stderr to `on_line`; return its exit code, its stdout and the last
        lines of its stderr."""
        container = self.container_for(service)
        script = (
            f"[ -f {paths.COMPONENT_ENV_FILE} ] && . {paths.COMPONENT_ENV_FILE}; "
            'python -m mwaa_local.container.dag_sync --once >&2; exec "$@"'
        )
        api = self.client.api
        exec_id = api.exec_create(container.id, ["bash", "-c", script, "mwaa-local", *command])
        stdout, stderr = [], LineStream(on_line)
        for out_chunk, err_chunk in api.exec_start(exec_id["Id"], stream=True, demux=True):
            if out_chunk:
                stdout.append(out_chunk)
            if err_chunk:
                stderr.feed(err_chunk)
        tail = stderr.close()
        exit_code = api.exec_inspect(exec_id["Id"])["ExitCode"]
        return exit_code, b"".join(stdout).decode(errors="replace"), tail

    def exec_airflow(self, args: tuple[str, ...]) -> int:
        """Run `airflow ARGS` in the scheduler container, with the stack's settings."""
        return self.exec_in("scheduler", ["airflow", *args])

    def phase_reports(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The start-sequence reports (plugins, startup_script, requirements) of each Airflow
        component, from the lines its entrypoint wrote in its log."""
        reports = {}
        reporting = (*airflow_services(self.environment), BUCKET_SYNC_SERVICE)
        for container in self.containers():
            service = container.labels.get("com.docker.compose.service", "")
            if service in reporting:
                text = container.logs(stdout=True, stderr=False).decode(errors="replace")
                reports[service] = read_phases(text)
        return reports

    def failed_requirements(self) -> dict[str, dict[str, Any]]:
        """Components whose requirements install failed, with the report of each."""
        return {
            service: phases["requirements"]
            for service, phases in self.phase_reports().items()
            if not phases.get("requirements", {}).get("ok", True)
        }

    def export_log_streams(self) -> Path:
        """Copy the CloudWatch-shaped log streams from the logs volume into the state folder."""
        target = self.state.path / "logs"
        for container in self.containers():
            service = container.labels.get("com.docker.compose.service", "")
            if service not in airflow_services(self.environment):
                continue
            try:
                chunks, _ = container.get_archive(str(paths.STREAMS_ROOT))
            except docker.errors.NotFound:
                continue
            with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
                target.mkdir(parents=True, exist_ok=True)
                # The "data" filter refuses links and paths outside target (Python >= 3.11.4).
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(target, **safe)
            break
        return target / paths.STREAMS_ROOT.name

    def sync_dags_now(self) -> dict[str, int]:
        """Sync the bucket's DAG folder into every running Airflow component now (an S3
        bucket's mirror first)."""
        codes = {}
        states = self.states()
        mirror = states.get(BUCKET_SYNC_SERVICE)
        if mirror and mirror.status == "running":
            command = ["python", "-m", "mwaa_local.container.s3_mirror", "--once"]
            codes[BUCKET_SYNC_SERVICE] = self.exec_in(BUCKET_SYNC_SERVICE, command)
        for service, state in states.items():
            if service in airflow_services(self.environment) and state.status == "running":
                command = ["python", "-m", "mwaa_local.container.dag_sync", "--once"]
                codes[service] = self.exec_in(service, command)
        return codes

    def log_tail(self, service: str, lines: int = LOG_TAIL_LINES) -> str:
        try:
            container = self.container_for(service)
        except MwaaLocalError:
            return ""
        return container.logs(tail=lines).decode(errors="replace")

    def wait_until_ready(
        self,
        timeout: float = START_TIMEOUT_SECONDS,
        on_progress: Callable[[Mapping[str, ServiceState]], None] = lambda states: None,
        services: tuple[str, ...] = (),
    ) -> dict[str, ServiceState]:
        """Poll until every service (or these) is ready; raise, naming the component, when one
        fails."""
        expected = services or long_running_services(self.environment) + ONE_SHOT_SERVICES
        deadline = time.monotonic() + timeout
        # A component that crashed and was restarted by its restart policy has failed too.
        restarts = {service: state.restarts for service, state in self.states().items()}
        while True:
            states = self.states()
            on_progress(states)
            for service in expected:
                state = states.get(service)
                if state and (state.failed or state.restarts > restarts.get(service, 0)):
                    raise ComponentFailed(self, service, state)
            if all(service in states and states[service].ready for service in expected):
                return states
            if time.monotonic() > deadline:
                waiting = [s for s in expected if not (s in states and states[s].ready)]
                raise ComponentFailed(self, waiting[0], states.get(waiting[0]), timed_out=timeout)
            time.sleep(1)


class ComponentFailed(MwaaLocalError):
    def __init__(
        self,
        stack: Stack,
        service: str,
        state: ServiceState | None,
        timed_out: float | None = None,
    ) -> None:
        self.service = service
        if timed_out is not None:
            what = f"{service} did not become healthy within {timed_out:.0f} s"
        elif state and state.service in ONE_SHOT_SERVICES:
            what = f"{service} exited with code {state.exit_code}"
        elif state and state.health == "unhealthy":
            what = f"{service} is unhealthy"
        else:
            what = f"{service} failed to start ({state.status if state else 'no container'})"
        tail = stack.log_tail(service)
        message = f"{what}. Last lines of its log:\n{tail}" if tail else f"{what}."
        super().__init__(
            message,
            hint=f"Full log: mwaa-local logs {service}. Status: mwaa-local status.",
        )


def environment_status(environment: Environment, states: Mapping[str, ServiceState]) -> str:
    """The environment's status in MWAA's words (mwaa-behaviour.md 6.3), plus STOPPED, which
    MWAA has no word for: the containers are stopped and the database is kept."""
    services = long_running_services(environment)
    present = [states[s] for s in services if s in states]
    if not any(s.status == "running" for s in present):
        return "STOPPED"
    if any(s.failed for s in present) or len(present) < len(services):
        return "UNAVAILABLE"
    if all(s.ready for s in present):
        return "AVAILABLE"
    return "CREATING"
