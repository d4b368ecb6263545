"""The podman runtime: the docker runtime's compose file, on Podman's Docker-compatible API socket,
run by the same compose tool (`docker compose` or `docker-compose`, DOCKER_HOST at the socket).

Podman runs health checks from systemd timers. Where there is no systemd (containers, WSL, many CI
runners) they never run, `healthy` never comes and compose would wait for ever on
`condition: service_healthy`. So while mwaa-local waits on the stack (up, restart, update,
`wait_until_ready`) and when `status` reads it, it runs the checks that are due itself, through
libpod's healthcheck endpoint on the same socket: each runs the compose file's own test in the
container, as Podman's timer would. Between commands, health is what the last check said.
"""

import contextlib
import dataclasses
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.common import START_TIMEOUT_SECONDS
from mwaa_local.runtime.compose import compose_tool
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.stack import ServiceState
from mwaa_local.spec.settings import Environment
from mwaa_local.spec.versions import AirflowVersion

# How often due health checks run while mwaa-local waits; the compose file's checks run every
# 2-3 s under Docker.
TICK_SECONDS = 2.0
# libpod's own endpoints answer under a versioned path only (Podman 4 takes any version there).
LIBPOD_API = "4.0.0"
OTHER_RUNTIMES = "or choose another runtime: Local.Runtime: docker | host (MWAA_LOCAL_RUNTIME)"
_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


class PodmanUnavailableError(MwaaLocalError):
    """Podman is not installed, or its API socket does not answer."""


def socket_candidates(environ: Mapping[str, str] | None = None) -> list[str]:
    """Where Podman's API socket usually is, most specific first: CONTAINER_HOST, the rootless
    socket of this user, the rootful one, a `podman machine`'s (macOS, Windows)."""
    environ = os.environ if environ is None else environ
    found = []
    for variable in ("CONTAINER_HOST", "DOCKER_HOST"):
        if environ.get(variable, "").startswith("unix://"):
            found.append(environ[variable])
    runtime_dir = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    found.append(f"unix://{runtime_dir}/podman/podman.sock")
    found.append("unix:///run/podman/podman.sock")
    found += machine_sockets()
    return list(dict.fromkeys(found))


def machine_sockets() -> list[str]:
    """The API socket of a running `podman machine` (the VM Podman uses on macOS and Windows)."""
    if not shutil.which("podman"):
        return []
    try:
        done = subprocess.run(
            ["podman", "machine", "inspect", "--format", "{{.ConnectionInfo.PodmanSocket.Path}}"],
            capture_output=True,
            text=True,
            timeout=15,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    paths = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return [f"unix://{path}" for path in paths] if done.returncode == 0 else []


def is_podman(client: docker.DockerClient) -> bool:
    components = client.version().get("Components") or []
    return any(str(c.get("Name", "")).startswith("Podman") for c in components)


def start_socket_hint() -> str:
    """How to start Podman's API socket for this user."""
    if os.getuid() == 0:
        return (
            "Start Podman's API socket: `systemctl enable --now podman.socket`, or without "
            "systemd `podman system service --time=0 unix:///run/podman/podman.sock &`; "
            "on macOS or Windows `podman machine start`."
        )
    return (
        "Start Podman's API socket: `systemctl --user enable --now podman.socket`, or without "
        "systemd `podman system service --time=0 &` (it listens on "
        "$XDG_RUNTIME_DIR/podman/podman.sock); on macOS or Windows `podman machine start`."
    )


def podman_client(
    environ: Mapping[str, str] | None = None,
) -> tuple[docker.DockerClient, str]:
    """A client on the first Podman API socket that answers, and its URL; an error naming what
    to install or start when there is none."""
    tried = []
    for url in socket_candidates(environ):
        if not Path(url.removeprefix("unix://")).exists():
            continue
        try:
            client = docker.DockerClient(base_url=url, timeout=300)
            client.ping()
            if not is_podman(client):
                tried.append(f"{url} (a Docker engine, not Podman)")
                continue
        except _ERRORS as e:
            tried.append(f"{url} ({type(e).__name__})")
            continue
        return client, url
    if not shutil.which("podman") and not tried:
        raise PodmanUnavailableError(
            "Podman is not installed (no `podman` command, no Podman API socket).",
            hint="Install it: `apt-get install podman docker-compose` (Debian, Ubuntu), "
            f"`dnf install podman`, `brew install podman`; {OTHER_RUNTIMES}.",
        )
    looked = ", ".join(tried) or ", ".join(socket_candidates(environ))
    raise PodmanUnavailableError(
        f"Podman's API socket does not answer (looked at {looked}).",
        hint=f"{start_socket_hint()} Or {OTHER_RUNTIMES}.",
    )


def podman_compose_tool() -> None:
    """The compose tool drives the compose file on Podman's socket too; say so when missing."""
    try:
        compose_tool()
    except MwaaLocalError as e:
        raise MwaaLocalError(
            e.message,
            hint="The podman runtime runs the compose file with the Docker Compose tool on "
            "Podman's socket: `apt-get install docker-compose`, `pip install docker-compose` or "
            f"`brew install docker-compose`; {OTHER_RUNTIMES}.",
        ) from e


def _finished_at(container_attrs: dict) -> datetime | None:
    """When the container's last health check ended, or None."""
    log = ((container_attrs.get("State") or {}).get("Health") or {}).get("Log") or []
    if not log:
        return None
    end = str(log[-1].get("End") or "")
    # Podman writes nanoseconds ("...:00.349988121Z"); fromisoformat takes microseconds.
    head, dot, rest = end.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())[:6]
        end = f"{head}.{digits}+00:00"
    try:
        stamp = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


class PodmanRuntime(DockerRuntime):
    name = "podman"

    def __init__(self, environment: Environment, client: docker.DockerClient, url: str) -> None:
        super().__init__(environment, client, url)
        self._ticking = threading.Event()

    def engine_cli(self, docker: str) -> list[str]:
        return ["env", f"DOCKER_HOST={self.url}", docker]

    def compose_command(self, *args: str) -> list[str]:
        # `env` sets DOCKER_HOST for every compose call, whoever makes it (compose, exec, logs).
        return ["env", f"DOCKER_HOST={self.url}", *super().compose_command(*args)]

    def build(
        self,
        version: AirflowVersion,
        cache_dir: Path,
        on_line: Callable[[str], None] = lambda line: None,
        base_image: str | None = None,
        ca_bundle: Path | None = None,
        platform: str | None = None,
    ) -> str:
        """As the docker runtime's; Podman's build log (buildah's) does not say whether a step
        ran, so whether anything changed is read from the image id."""
        tag = image_tag(version)
        before = self._image_id(tag)
        started = time.monotonic()
        super().build(version, cache_dir, on_line, base_image, ca_bundle, platform)
        after = self._image_id(tag) or ""
        state = "unchanged (layer cache)" if after == before else "built"
        return f"{tag} {state} in {time.monotonic() - started:.1f} s ({after[7:19]})"

    def _image_id(self, tag: str) -> str | None:
        try:
            return self.client.images.get(tag).id
        except docker.errors.ImageNotFound:
            return None

    # --- health checks ---------------------------------------------------------------------

    def run_due_health_checks(self) -> None:
        """Run the health check of every running container whose last one is older than
        TICK_SECONDS (or that has none yet), in parallel."""
        now = datetime.now(UTC)
        due = []
        for container in self.containers():
            attrs = container.attrs
            state = attrs.get("State") or {}
            if state.get("Status") != "running" or not state.get("Health"):
                continue
            last = _finished_at(attrs)
            if last is None or (now - last).total_seconds() >= TICK_SECONDS:
                due.append(container.id)
        if due:
            with ThreadPoolExecutor(max_workers=len(due)) as pool:
                list(pool.map(self._health_check, due))

    def _health_check(self, container_id: str) -> None:
        api = self.client.api
        url = f"{api.base_url}/v{LIBPOD_API}/libpod/containers/{container_id}/healthcheck"
        with contextlib.suppress(*_ERRORS):
            api.get(url, timeout=60)

    @contextlib.contextmanager
    def health_checks(self) -> Iterator[None]:
        """Run due health checks every TICK_SECONDS in the background while the block runs."""
        if self._ticking.is_set():
            yield
            return
        self._ticking.set()
        stop = threading.Event()

        def tick() -> None:
            while not stop.is_set():
                with contextlib.suppress(*_ERRORS):
                    self.run_due_health_checks()
                stop.wait(TICK_SECONDS)

        thread = threading.Thread(target=tick, name="podman-health-checks", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=70)
            self._ticking.clear()

    # --- what waits on health --------------------------------------------------------------

    def up(self, services: tuple[str, ...] = ()) -> None:
        podman_compose_tool()
        with self.health_checks():
            try:
                super().up(services)
            except MwaaLocalError as e:
                raise self._explained(e) from e

    def restart(self, services: tuple[str, ...] = ()) -> None:
        with self.health_checks():
            super().restart(services)

    def recreate(self, services: tuple[str, ...]) -> None:
        with self.health_checks():
            super().recreate(services)

    def wait_until_ready(
        self,
        timeout: float = START_TIMEOUT_SECONDS,
        on_progress: Callable[[Mapping[str, ServiceState]], None] = lambda states: None,
        services: tuple[str, ...] = (),
    ) -> dict[str, ServiceState]:
        with self.health_checks():
            return super().wait_until_ready(timeout, on_progress, services)

    def states(self) -> dict[str, ServiceState]:
        if not self._ticking.is_set():
            with contextlib.suppress(*_ERRORS):
                self.run_due_health_checks()
        # Podman reports a container without a health check as health "" (Docker: none), which
        # would never be ready.
        return {
            service: state if state.health else dataclasses.replace(state, health=None)
            for service, state in super().states().items()
        }

    @staticmethod
    def _explained(error: MwaaLocalError) -> MwaaLocalError:
        """Podman's errors that have a known cause, with what to do."""
        if "setting rlimit" in error.message or "setrlimit" in error.message:
            # Rootful Podman raises the containers' open-files and process limits to the maximum
            # unless told otherwise; without CAP_SYS_RESOURCE (Podman inside a container) that
            # fails for every container.
            return MwaaLocalError(
                error.message,
                hint="Podman may not raise the containers' resource limits here. Give it this "
                "machine's own in containers.conf (/etc/containers/containers.conf, or a file "
                "named by CONTAINERS_CONF when starting `podman system service`): "
                '[containers] default_ulimits = ["nofile=N:N", "nproc=M:M"] with N and M from '
                "`ulimit -Hn` and the podman process's `ulimit -Hu`.",
            )
        return error
