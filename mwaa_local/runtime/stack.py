"""One environment's compose stack: its env files, its containers and their health.

The CLI asks this module for what it needs and never reaches into Docker itself.
"""

import contextlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import docker
import docker.errors

from mwaa_local.aws import task_aws
from mwaa_local.bucket.access import container_endpoint
from mwaa_local.bucket.staged_constraints import stage_official_constraints
from mwaa_local.bucket.versions import Objects, objects_as_env
from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.airflow_config import (
    MWAA_DEFAULT_OPTIONS,
    configuration_options_as_env,
    env_file_text,
    parsing_options,
)
from mwaa_local.mwaa.components import HYBRID, component_limit, component_replicas, container_of
from mwaa_local.mwaa.log_streams import PHASE_MARKER, read_phases
from mwaa_local.mwaa.logging_levels import group_name, log_types
from mwaa_local.runtime.common import (
    BUCKET_SYNC_SERVICE,
    ONE_SHOT_SERVICES,
    RuntimeCommon,
)
from mwaa_local.runtime.compose import compose_file, compose_tool
from mwaa_local.runtime.compose_project import (
    OWNER_LABEL,
    PROJECT_DIR_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    owner_token,
    project_name,
)
from mwaa_local.runtime.direct_exec import AIRFLOW_CLI, with_component_env
from mwaa_local.runtime.image import ensure_pulled, image_tag
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.state import Secrets, StateDir, write_private
from mwaa_local.spec.settings import Environment, local_env_var

UV_CACHE_VOLUME = "mwaa-local-uv-cache"
# The StatsD collector (container/statsd_collector.py) is one: Airflow sends its metrics there.
METRICS_SERVICE = "metrics"
BACKING_SERVICES = ("postgres", "redis", METRICS_SERVICE)
# The bucket-sync container (runtime/common.py) mirrors an s3:// bucket into this volume, which
# the Airflow containers mount where a bucket folder would be.
BUCKET_MIRROR_VOLUME = "bucket-mirror"
LOG_TAIL_LINES = 40


def legacy_owner(container) -> str | None:
    """The owner of a container an earlier mwaa-local made without labels: its Postgres
    password says which environment's it is (None for the other services)."""
    if container.labels.get(SERVICE_LABEL) != "postgres":
        return None
    for item in container.attrs.get("Config", {}).get("Env") or []:
        name, _, value = item.partition("=")
        if name == "POSTGRES_PASSWORD":
            return owner_token(value)
    return None


def airflow_services(environment: Environment) -> tuple[str, ...]:
    """The Airflow components that run: the version's, laid out for the class (mw1.micro's
    hybrid holds the scheduler, triggerer and worker)."""
    return tuple(c for c, n in component_replicas(environment).items() if n)


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
        "MWAA_LOCAL_INSTALLER": environment.local.installer,
        "MWAA_LOCAL_CONFIG_OPTION_KEYS": ",".join(sorted(options)),
        "MWAA_LOCAL_DAG_SYNC_INTERVAL": str(environment.local.sync_interval),
        "AIRFLOW_ENV_NAME": environment.name,
        # mwaa-behaviour.md 7.2: MWAA collects Airflow's StatsD metrics; so does the stack.
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": METRICS_SERVICE,
        "AIRFLOW__METRICS__STATSD_PORT": "8125",
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        **logging_environment(environment),
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


def logging_environment(environment: Environment) -> dict[str, str]:
    """LoggingConfiguration in the components (mwaa-behaviour.md 7.1): an enabled Task or
    DAGProcessing type writes its files into its group's folder, a disabled one outside every
    group; the levels apply in container/logging_config.py."""
    types = log_types(environment.logging_configuration)
    env = {
        "MWAA_LOCAL_LOGGING": json.dumps(
            {name: {"Enabled": t.enabled, "LogLevel": t.level} for name, t in types.items()}
        ),
        "AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS": (
            "mwaa_local.container.logging_config.LOGGING_CONFIG"
        ),
    }
    if types["Task"].enabled:
        folder = paths.STREAMS_ROOT / group_name(environment.name, "Task")
        env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] = str(folder)
    if types["DAGProcessing"].enabled and environment.airflow_version.major < 3:
        folder = paths.STREAMS_ROOT / group_name(environment.name, "DAGProcessing")
        env["AIRFLOW__SCHEDULER__CHILD_PROCESS_LOG_DIRECTORY"] = str(folder)
    return env


@dataclass(frozen=True)
class ServiceState:
    service: str
    container: str
    status: str  # created, running, restarting, exited, ...
    health: str | None  # starting, healthy, unhealthy; None without a healthcheck
    exit_code: int
    restarts: int
    cpus: float = 0.0  # the container's limits; 0: none
    memory: int = 0
    replicas: int = 1

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


class Stack(RuntimeCommon):
    # Celery workers (what autoscaling scales) and a StatsD collector; the host runtime has
    # neither (runtime/host.py).
    has_workers = True
    collects_metrics = True

    def __init__(self, environment: Environment, client: docker.DockerClient) -> None:
        self.environment = environment
        self.client = client
        self.project = project_name(environment)
        self.state = StateDir.for_environment(environment.project_dir, environment.name)
        self._owner_checked = False
        self._engine_size: tuple[int, int] | None = None

    def services(self) -> tuple[str, ...]:
        return long_running_services(self.environment)

    def airflow_components(self) -> tuple[str, ...]:
        return airflow_services(self.environment)

    # --- files -----------------------------------------------------------------------------

    @property
    def image(self) -> str:
        return image_tag(self.environment.airflow_version)

    @property
    def profiles(self) -> tuple[str, ...]:
        major = f"airflow{self.environment.airflow_version.major}"
        micro = ("micro",) if self.environment.class_spec.hybrid else ()
        return (major, *micro, "s3") if self.environment.bucket_is_s3 else (major, *micro)

    def write_env_files(self, objects: Objects | None = None) -> None:
        """Write compose.env and airflow.env; the Airflow containers get `objects` (default:
        the applied versions)."""
        secrets = self.state.secrets()
        local = self.environment.local
        username, password = self.admin_credentials()
        if objects is None:
            objects = self.record().applied or {}
        store = self.versions
        store.secure()
        s3 = self.environment.bucket_is_s3
        compose_env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "MWAA_LOCAL_OWNER": owner_token(secrets.postgres_password),
            "MWAA_LOCAL_PROJECT_DIR": str(self.environment.project_dir.resolve()),
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
            **self.limits_env(),
            **self.task_aws.compose_variables(self.environment, self.state),
        }
        write_private(self.state.compose_env_file, env_file_text(compose_env))
        aws_env = self.task_aws.container_variables()
        write_private(self.state.path / task_aws.AWS_ENV_FILE, env_file_text(aws_env))
        # The official constraints URLs the requirements name, readable offline in the store.
        stage_official_constraints(self.environment, store, objects)
        objects_env = objects_as_env(store, objects)
        airflow_env = airflow_environment(
            self.environment, secrets, objects_env, self.task_aws.airflow_variables()
        )
        write_private(self.state.airflow_env_file, env_file_text(airflow_env))

    # --- compose ---------------------------------------------------------------------------

    def engine_cli(self, docker: str) -> list[str]:
        """The docker CLI on this stack's engine (the podman runtime points it at its socket)."""
        return [docker]

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
        self.check_owner()
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

    def pull_images(self, on_pull: Callable[[str], None] = lambda image: None) -> None:
        """Pull the Postgres and Redis images the engine lacks, so that one it cannot have is
        named with the setting to change (compose would print its own text)."""
        local = self.environment.local
        for setting, image in (
            ("PostgresImage", local.postgres_image),
            ("RedisImage", local.redis_image),
        ):
            where = f"Local.{setting} in the settings or {local_env_var(setting)}"
            ensure_pulled(self.client, image, where, on_pull)

    def up(self, services: tuple[str, ...] = ()) -> None:
        self.pull_images()
        try:
            self.client.images.get(self.image)
        except docker.errors.ImageNotFound:
            raise MwaaLocalError(
                f"The image {self.image} has not been built on this engine.",
                hint="Build it with `mwaa-local build-image` (`mwaa-local start` builds it too).",
            ) from None
        self.write_env_files()
        self.compose("up", "--detach", "--remove-orphans", *self.scale_args(services), *services)

    def scale_args(self, services: tuple[str, ...] = ()) -> tuple[str, ...]:
        """`--scale SERVICE=N` for each Airflow component (of `services`, or all): the class's
        layout (mwaa/components.py), with the worker replicas the autoscaler runs kept within
        [MinWorkers, MaxWorkers], since compose's `up` would otherwise set them back to one."""
        up = sum(
            1
            for c in self.containers()
            if c.labels.get(SERVICE_LABEL) == "worker" and c.status == "running"
        )
        workers = min(max(up, self.environment.min_workers), self.environment.max_workers)
        replicas = component_replicas(self.environment, workers)
        return tuple(
            arg
            for service, count in replicas.items()
            if service != HYBRID and (not services or service in services)
            for arg in ("--scale", f"{service}={count}")
        )

    def engine_size(self) -> tuple[int, int]:
        """The engine's CPUs and memory in bytes."""
        if self._engine_size is None:
            info = self.client.info()
            self._engine_size = (int(info.get("NCPU", 0)), int(info.get("MemTotal", 0)))
        return self._engine_size

    def limits_env(self) -> dict[str, str]:
        """Each component's container limits for the compose file (0: none)."""
        cpus, _ = self.engine_size()
        env = {}
        for service in (*self.environment.airflow_version.components, HYBRID):
            limit = component_limit(
                self.environment.class_spec, service, self.environment.local.resource_scale, cpus
            )
            key = service.upper().replace("-", "_")
            env[f"MWAA_LOCAL_{key}_CPUS"] = f"{limit.cpus:g}"
            env[f"MWAA_LOCAL_{key}_MEMORY"] = f"{limit.memory_bytes // 2**20}m"
        return env

    def show_logs(self, services: tuple[str, ...] = (), tail: str = "all", follow: bool = False):
        """Print the components' logs on stdout (all of them when none is named), without the
        start sequence's machine lines (PHASE_MARKER), in colour only on a terminal."""
        if not self.state.compose_env_file.is_file():
            self.write_env_files()
        terminal = sys.stdout.isatty()
        args = ["logs", "--tail", tail] + (["--follow"] if follow else [])
        if not terminal:
            args.append("--no-color")
        elif compose_tool().command == ("docker", "compose"):
            args = ["--ansi", "always", *args]  # compose v2 colours only its own terminal
        command = self.compose_command(*args, *services)
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, errors="replace"
        ) as shown:
            assert shown.stdout is not None
            for line in shown.stdout:
                if PHASE_MARKER not in line:
                    sys.stdout.write(line)
                    sys.stdout.flush()

    def stop(self) -> None:
        """Stop every container; the metadata database volume stays."""
        self.compose("stop")

    def restart(self, services: tuple[str, ...] = ()) -> None:
        self.compose("restart", *services)

    def recreate(self, services: tuple[str, ...]) -> None:
        """Replace these components' containers with new ones from the current env files."""
        scale = self.scale_args(services)
        self.compose("up", "--detach", "--no-deps", "--force-recreate", *scale, *services)

    def remove_database(self) -> None:
        """Remove the containers and the metadata database volume (and only that volume)."""
        self.compose("down", "--remove-orphans")
        volume = f"{self.project}_postgres-data"
        with contextlib.suppress(docker.errors.NotFound):
            self.client.volumes.get(volume).remove()

    def down(self, volumes: bool = False, uv_cache: bool = False) -> dict[str, list[str]]:
        """Remove the environment's containers and network; with `volumes`, every volume it made
        too (the metadata database, the logs, an S3 bucket's mirror); with `uv_cache`, the uv
        cache all environments on this engine share. Returns what was removed, by kind."""
        label = {"label": f"{PROJECT_LABEL}={self.project}"}
        containers = self.containers()
        removed: dict[str, list[str]] = {"containers": [c.name for c in containers]}
        if containers and self.state.compose_env_file.is_file():
            # compose stops them in order, each with time to shut down cleanly.
            self.compose("down", "--remove-orphans", "--timeout", "10", check=False)
        # Whatever compose left (another profile's services, a file from an older release).
        for container in self.containers():
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        removed["networks"] = []
        for network in self.client.networks.list(filters=label):
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
                removed["networks"].append(network.name)
        removed["volumes"] = []
        names = {f"{self.project}_{v}" for v in ("postgres-data", "logs", BUCKET_MIRROR_VOLUME)}
        if volumes:
            # The shared cache carries the label of whichever project created it first.
            names |= {v.name for v in self.client.volumes.list(filters=label)}
            names.discard(UV_CACHE_VOLUME)
        else:
            names = set()
        if uv_cache:
            names.add(UV_CACHE_VOLUME)
        for name in sorted(names):
            try:
                self.client.volumes.get(name).remove()
            except docker.errors.NotFound:
                continue
            except docker.errors.APIError as e:
                raise MwaaLocalError(
                    f"Volume {name} was not removed: {' '.join(str(e.explanation).split())}",
                    hint="Another environment's containers use it: `mwaa-local down` there first.",
                ) from e
            removed["volumes"].append(name)
        return removed

    # --- containers ------------------------------------------------------------------------

    def _project_containers(self) -> list:
        label = f"{PROJECT_LABEL}={self.project}"
        return self.client.containers.list(all=True, filters={"label": label})

    def containers(self) -> list:
        self.check_owner()
        return self._project_containers()

    def check_owner(self) -> None:
        """Refuse a compose project whose containers another environment made (another folder
        with this Name, a Name differing only in case, or this folder before its .mwaa-local/
        was deleted): they would share its containers and its metadata database."""
        if self._owner_checked:
            return
        # A folder that never started has no secrets and owns nothing; none are made here.
        known = self.state.secrets_file.is_file()
        ours = owner_token(self.state.secrets().postgres_password) if known else None
        for container in self._project_containers():
            owner = container.labels.get(OWNER_LABEL) or legacy_owner(container)
            if owner is not None and owner != ours:
                raise ProjectTaken(self, container.labels.get(PROJECT_DIR_LABEL))
        self._owner_checked = True

    def states(self) -> dict[str, ServiceState]:
        """Each service's state; a service with several replicas shows its least healthy one,
        with the replicas counted and their restarts added up."""
        states: dict[str, ServiceState] = {}
        for container in self.containers():
            attrs = container.attrs
            service = container.labels.get(SERVICE_LABEL, container.name)
            health = attrs["State"].get("Health")
            host = attrs.get("HostConfig", {})
            state = ServiceState(
                service=service,
                container=container.name,
                status=attrs["State"]["Status"],
                health=health["Status"] if health else None,
                exit_code=attrs["State"].get("ExitCode", 0),
                restarts=attrs.get("RestartCount", 0),
                cpus=(host.get("NanoCpus") or 0) / 1e9,
                memory=host.get("Memory") or 0,
            )
            seen = states.get(service)
            if seen is not None:
                worst = max(seen, state, key=lambda s: (s.failed, not s.ready))
                state = replace(
                    worst, replicas=seen.replicas + 1, restarts=seen.restarts + state.restarts
                )
            states[service] = state
        return states

    def container_for(self, service: str):
        service = container_of(self.environment, service)
        for container in self.containers():
            if container.labels.get(SERVICE_LABEL) == service:
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
        self.check_owner()
        wrapped = with_component_env(command)
        docker = shutil.which("docker")
        if docker:
            # The engine's own CLI rather than `compose exec`: finding docker-compose v1 (a
            # Python program) and running it cost 1.5 s of every `mwaa-local airflow` call.
            container = self.container_for(service)
            flags = ["--interactive", "--tty"] if tty else ["--interactive"]
            command = [*self.engine_cli(docker), "exec", *flags, container.id, *wrapped]
            return subprocess.run(command).returncode
        flags = [] if tty else ["-T"]
        return subprocess.run(self.compose_command("exec", *flags, service, *wrapped)).returncode

    def exec_streaming(
        self, service: str, command: list[str], on_line: Callable[[str], None]
    ) -> tuple[int, str, str]:
        """Run `command` in a component's container with the component's environment, after a
        DAG sync; stream its stderr to `on_line`; return its exit code, its stdout (the sync's
        report line first) and the last lines of its stderr."""
        container = self.container_for(service)
        script = (
            f"[ -f {paths.COMPONENT_ENV_FILE} ] && . {paths.COMPONENT_ENV_FILE}; "
            'python -m mwaa_local.container.dag_sync --once; exec "$@"'
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

    def exec_capture(self, service: str, command: list[str]) -> tuple[int, bytes, bytes]:
        """Run `command` in a component's container with the component's environment (no TTY,
        no DAG sync first); return its exit code, stdout and stderr."""
        container = self.container_for(service)
        load = f'[ -f {paths.COMPONENT_ENV_FILE} ] && . {paths.COMPONENT_ENV_FILE}; exec "$@"'
        api = self.client.api
        exec_id = api.exec_create(container.id, ["bash", "-c", load, "mwaa-local", *command])
        stdout, stderr = api.exec_start(exec_id["Id"], demux=True)
        exit_code = api.exec_inspect(exec_id["Id"])["ExitCode"]
        return exit_code, stdout or b"", stderr or b""

    def exec_airflow(self, args: tuple[str, ...]) -> int:
        """Run `airflow ARGS` in the scheduler container, with the stack's settings; its stdout
        is the command's output only (warnings go to stderr: container/airflow_cli.py)."""
        return self.exec_in("scheduler", [*AIRFLOW_CLI, *args])

    def phase_reports(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The start-sequence reports (plugins, startup_script, requirements) of each Airflow
        component, from the lines its entrypoint wrote in its log."""
        reports = {}
        reporting = (*airflow_services(self.environment), BUCKET_SYNC_SERVICE)
        for container in self.containers():
            service = container.labels.get(SERVICE_LABEL, "")
            if service in reporting:
                text = container.logs(stdout=True, stderr=False).decode(errors="replace")
                reports[service] = read_phases(text)
        return reports

    def export_log_streams(self) -> Path:
        """Copy the CloudWatch-shaped log streams from the logs volume into the state folder."""
        target = self.state.path / "logs"
        for container in self.containers():
            service = container.labels.get(SERVICE_LABEL, "")
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

    def log_tail(self, service: str, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of a component's log, for people: without the machine lines."""
        try:
            container = self.container_for(service)
        except MwaaLocalError:
            return ""
        text = container.logs(tail=lines).decode(errors="replace")
        return "\n".join(line for line in text.splitlines() if PHASE_MARKER not in line)


class ProjectTaken(MwaaLocalError):
    def __init__(self, stack: Stack, other_dir: str | None) -> None:
        where = (
            f"the environment in {other_dir}"
            if other_dir
            else "an environment an earlier mwaa-local started"
        )
        name = stack.environment.name
        super().__init__(
            f"The compose project {stack.project} belongs to {where}, not to this one "
            f"({name} in {stack.environment.project_dir.resolve()}). Environments with the same "
            "Name, or Names that differ only in case, would share its containers and its "
            "metadata database, so mwaa-local does not touch it.",
            hint=f"Give this environment another Name in its settings, or remove the other one "
            f"first: docker compose -p {stack.project} down --volumes (its database is lost). "
            "If this folder's .mwaa-local/ was deleted, that other one was this one's.",
        )


class ComponentFailed(MwaaLocalError):
    def __init__(
        self,
        stack: RuntimeCommon,
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
        self.what, self.log_lines = what, tail.strip().splitlines()
        message = f"{what}. Last lines of its log:\n{tail}" if tail else f"{what}."
        super().__init__(
            message,
            hint=f"Full log: mwaa-local logs {service}. Status: mwaa-local status.",
        )


def environment_status(environment: Environment, states: Mapping[str, ServiceState]) -> str:
    return status_of(long_running_services(environment), states)


def status_of(services: tuple[str, ...], states: Mapping[str, ServiceState]) -> str:
    """The environment's status in MWAA's words (mwaa-behaviour.md 6.3) from its long-running
    `services`, plus STOPPED, which MWAA has no word for: stopped, the database kept."""
    present = [states[s] for s in services if s in states]
    if not any(s.status == "running" for s in present):
        return "STOPPED"
    if any(s.failed for s in present) or len(present) < len(services):
        return "UNAVAILABLE"
    if all(s.ready for s in present):
        return "AVAILABLE"
    return "CREATING"
