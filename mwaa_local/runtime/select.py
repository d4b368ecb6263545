"""Which runtime an environment runs on: `Local.Runtime` (MWAA_LOCAL_RUNTIME) when set, else the
one it last started on, else the first that works of docker, podman and host.

Each runtime that cannot run says why and what to install or start, naming the others.
"""

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.errors import DockerUnavailableError, MwaaLocalError
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.host import HostRuntime
from mwaa_local.runtime.host_venv import uv_command
from mwaa_local.runtime.interface import RUNTIMES, Runtime
from mwaa_local.runtime.podman import PodmanRuntime, is_podman, podman_client
from mwaa_local.runtime.state import StateDir, atomic_write
from mwaa_local.spec.settings import Environment

DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"


@dataclass(frozen=True)
class Chosen:
    runtime: Runtime
    why: str  # how it was chosen, for `start` to say


def recorded(state: StateDir) -> str | None:
    """The runtime the environment last started on."""
    name = state.recorded_runtime()
    return name if isinstance(name, str) and name in RUNTIMES else None


def record(state: StateDir, name: str) -> None:
    state.path.mkdir(parents=True, exist_ok=True)
    atomic_write(state.runtime_file, json.dumps({"Runtime": name}) + "\n", 0o644)


def docker_installed() -> bool:
    return bool(
        os.environ.get("DOCKER_HOST")
        or shutil.which("docker")
        or Path(DEFAULT_DOCKER_SOCKET).exists()
    )


def docker_url() -> str:
    """Where the Docker engine answers: DOCKER_HOST, else the default socket."""
    return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_DOCKER_SOCKET}"


def open_docker(environment: Environment) -> Runtime:
    """The docker runtime on the engine at DOCKER_HOST (or the default socket)."""
    if not docker_installed():
        raise DockerUnavailableError(
            "Docker is not installed (no `docker` command, no engine socket at "
            f"{DEFAULT_DOCKER_SOCKET}, DOCKER_HOST unset).",
            hint="Install Docker (Docker Desktop, or `apt-get install docker.io docker-compose`), "
            "or choose another runtime: Local.Runtime: podman | host (MWAA_LOCAL_RUNTIME).",
        )
    try:
        client = docker_client()
    except DockerUnavailableError as e:
        raise DockerUnavailableError(
            e.message, hint=f"{e.hint} Or choose another runtime: Local.Runtime: podman | host."
        ) from e
    url = docker_url()
    if is_podman(client):
        raise MwaaLocalError(
            f"The engine at {url} is Podman, not Docker.",
            hint="Set Local.Runtime: podman (MWAA_LOCAL_RUNTIME=podman); mwaa-local then runs "
            "the health checks Podman leaves to systemd.",
        )
    return DockerRuntime(environment, client, url)


def open_podman(environment: Environment) -> Runtime:
    client, url = podman_client()
    return PodmanRuntime(environment, client, url)


def open_host(environment: Environment) -> Runtime:
    uv_command()  # an error naming what to install when there is no uv
    return HostRuntime(environment)


OPENERS = {"docker": open_docker, "podman": open_podman, "host": open_host}


def first_that_works(environment: Environment) -> Chosen:
    """docker, else podman, else host. A DOCKER_HOST that is set names the engine: it is used
    (Docker or Podman) or it is an error, never passed over."""
    docker_host = os.environ.get("DOCKER_HOST")
    if docker_host:
        client = docker_client()
        if is_podman(client):
            runtime = PodmanRuntime(environment, client, docker_host)
        else:
            runtime = DockerRuntime(environment, client, docker_host)
        return Chosen(runtime, "the engine at DOCKER_HOST")
    reasons = []
    for name in ("docker", "podman"):
        try:
            runtime = OPENERS[name](environment)
        except MwaaLocalError as e:
            reasons.append(f"{name}: {e.message}")
            continue
        passed = f"; {'; '.join(reasons)}" if reasons else ""
        return Chosen(runtime, f"the first that works{passed}")
    runtime = open_host(environment)
    return Chosen(runtime, "the first that works; " + "; ".join(reasons))


def choose_runtime(environment: Environment) -> Chosen:
    """The runtime to use for `environment`, and why."""
    state = StateDir.for_environment(environment.project_dir, environment.name)
    wanted = environment.local.runtime
    if wanted:
        return Chosen(OPENERS[wanted](environment), "Local.Runtime")
    last = recorded(state)
    if last:
        return Chosen(OPENERS[last](environment), "the runtime it last started on")
    return first_that_works(environment)


def open_runtime(environment: Environment) -> Runtime:
    return choose_runtime(environment).runtime


def runtime_for_start(environment: Environment) -> Chosen:
    """The runtime `start` uses, recorded for the commands after it. Moving a running
    environment to another runtime is refused: it would run twice on one port and two
    databases."""
    chosen = choose_runtime(environment)
    state = StateDir.for_environment(environment.project_dir, environment.name)
    last = recorded(state)
    if last and last != chosen.runtime.name:
        try:
            previous = OPENERS[last](environment)
            running = previous.is_running()
        except MwaaLocalError:
            running = False  # that runtime is gone, and the environment with it
        if running:
            raise MwaaLocalError(
                f"Environment {environment.name} is running on {last}; it would start a second "
                f"time on {chosen.runtime.name}.",
                hint=f"Stop it there first: MWAA_LOCAL_RUNTIME={last} mwaa-local stop",
            )
    record(state, chosen.runtime.name)
    return chosen
