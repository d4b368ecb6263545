"""What this machine needs before `mwaa-local` can run an environment, checked one by one.

Every check returns a `Check` instead of raising, so one missing piece never hides the others.
"""

import errno
import ipaddress
import os
import shutil
import socket
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import requests.exceptions

from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.compose import compose_tool
from mwaa_local.runtime.engine import docker_client
from mwaa_local.spec.settings import Environment

GIB = 1024**3
# The Airflow image is about 1 GiB; MWAA gives each task 20 GB of storage. 10 GiB leaves room
# for the image, Postgres, logs and what tasks write, without demanding MWAA's full 20 GB.
MIN_DISK_FREE_BYTES = 10 * GIB
# An MWAA-shaped Celery stack (scheduler, workers, webserver, Postgres, Redis) idles at
# roughly 1.5-3 GiB.
MIN_ENGINE_MEMORY_BYTES = 4 * GIB

SKIPPED = "skipped: no Docker engine"
PORT_HINT = "set Local.WebserverPort in mwaa-local.yaml or MWAA_LOCAL_WEBSERVER_PORT"
ENGINE_HINT = "Start Docker or point DOCKER_HOST at a running engine, then run this again."
BIND_HINT = "set Local.BindAddress in mwaa-local.yaml or MWAA_LOCAL_BIND_ADDRESS"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    # False for a check that could not be made (no engine to ask): not a pass, not "missing".
    ran: bool = True


# The SDK raises requests' errors for a connection dropped after the ping, not DockerException.
_ENGINE_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def run_checks(
    environment: Environment,
    client_factory: Callable[[], Any] | None = None,
    own_ports: Collection[int] = frozenset(),
) -> list[Check]:
    """All prerequisite checks, in a fixed order; `own_ports` are ports our stack already holds.
    The engine is Docker's, or Podman's with `Local.Runtime: podman`; the host runtime has none
    (host_checks)."""
    if environment.local.runtime == "host":
        return host_checks(environment, own_ports)
    if client_factory is None:
        client_factory = podman_only if environment.local.runtime == "podman" else docker_client
    engine, info = _engine(client_factory)
    local = environment.local
    return [
        engine,
        check_compose(),
        check_port(local.bind_address, local.webserver_port, own_ports),
        check_disk(info, Path(environment.project_dir)),
        check_memory(info),
    ]


def _engine(client_factory: Callable[[], Any]) -> tuple[Check, dict[str, Any] | None]:
    """The `docker engine` check, and the engine's `info()` when it answered."""
    name = "docker engine"
    try:
        client = client_factory()
        version = client.version()
        info = client.info()
    except MwaaLocalError as e:
        return Check(name, False, e.message, e.hint), None
    except _ENGINE_ERRORS as e:
        return Check(name, False, f"the engine did not answer: {e}", ENGINE_HINT), None
    detail = f"Docker {version.get('Version', '?')}, storage driver {info.get('Driver', '?')}"
    return Check(name, True, detail), info


def check_compose() -> Check:
    try:
        tool = compose_tool()
    except MwaaLocalError as e:
        return Check("compose", False, e.message, e.hint)
    generation = "v1" if tool.version.lstrip("v").startswith("1.") else "v2"
    return Check("compose", True, f"`{' '.join(tool.command)}` {tool.version} ({generation})")


def check_port(address: str, port: int, own_ports: Collection[int] = frozenset()) -> Check:
    name = f"port {port}"
    where = _host_port(address, port)
    if port in own_ports:
        return Check(name, True, f"{where} used by this environment")
    error = _bind_error(address, port)
    if error is None:
        return Check(name, True, f"{where} is free")
    if error.errno == errno.EADDRINUSE:
        return Check(name, False, f"{where} is in use", PORT_HINT)
    return Check(name, False, f"{where} cannot be bound: {error.strerror or error}", BIND_HINT)


def port_free(address: str, port: int) -> bool:
    """Whether a TCP socket can bind (address, port) right now; it is closed again at once."""
    return _bind_error(address, port) is None


def _bind_error(address: str, port: int) -> OSError | None:
    family = socket.AF_INET6 if _is_ipv6(address) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # On, as servers (and docker-proxy) bind: connections lingering in TIME_WAIT after a
            # stop do not count as "in use", while a socket listening on the port still does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen()
    except OSError as e:
        return e
    return None


def _is_ipv6(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).version == 6
    except ValueError:
        return False


def _host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if _is_ipv6(address) else f"{address}:{port}"


def check_disk(info: dict[str, Any] | None, project_dir: Path) -> Check:
    if info is None:
        return Check("disk", False, SKIPPED, ran=False)
    path, note = _disk_path(info.get("DockerRootDir"), project_dir)
    try:
        free = shutil.disk_usage(path).free
    except OSError as e:
        return Check("disk", False, f"cannot measure free space at {path}: {e.strerror or e}")
    detail = f"{_gib(free)} free at {path}{note}; need {MIN_DISK_FREE_BYTES // GIB} GiB"
    if free >= MIN_DISK_FREE_BYTES:
        return Check("disk", True, detail)
    hint = (
        "Free disk space (e.g. `docker system prune`) or give Docker more disk: the image is "
        "about 1 GiB and MWAA gives tasks 20 GB of storage."
    )
    return Check("disk", False, detail, hint)


def _disk_path(docker_root: str | None, project_dir: Path) -> tuple[Path, str]:
    """Docker's data root when this machine sees it; else the project dir (e.g. Docker Desktop)."""
    if docker_root and Path(docker_root).exists():
        return Path(docker_root), ""
    path = project_dir.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    why = f"{docker_root} is not visible here" if docker_root else "no data root reported"
    return path, f" (Docker's data root: {why})"


def check_memory(info: dict[str, Any] | None) -> Check:
    if info is None:
        return Check("memory", False, SKIPPED, ran=False)
    total = info.get("MemTotal")
    if not isinstance(total, int) or total <= 0:
        return Check("memory", False, "the engine did not report its memory")
    detail = f"the engine has {_gib(total)}; need {MIN_ENGINE_MEMORY_BYTES // GIB} GiB"
    if total >= MIN_ENGINE_MEMORY_BYTES:
        return Check("memory", True, detail)
    hint = (
        "Give Docker more memory (Docker Desktop: Settings > Resources > Memory); an MWAA-shaped "
        "Celery stack idles around 1.5-3 GiB."
    )
    return Check("memory", False, detail, hint)


def _gib(size: int) -> str:
    return f"{size / GIB:.1f} GiB"


def podman_only():
    from mwaa_local.runtime.podman import podman_client

    return podman_client()[0]


# The host runtime's virtual environment and logs (no image, no database server).
MIN_HOST_DISK_FREE_BYTES = 2 * GIB
MIN_HOST_MEMORY_BYTES = 2 * GIB


def host_checks(environment: Environment, own_ports: Collection[int] = frozenset()) -> list[Check]:
    """What the host runtime needs: uv, MWAA's Python version (or uv to install it), the port,
    disk for the virtual environment, memory for four Airflow processes."""
    from mwaa_local.runtime.host_venv import find_python, uv_command

    local = environment.local
    python = environment.airflow_version.python
    try:
        uv = uv_command()
        checks = [Check("uv", True, " ".join(uv))]
    except MwaaLocalError as e:
        uv = None
        checks = [Check("uv", False, e.message, e.hint)]
    found = find_python(python, uv)
    detail = found or "not on this machine; uv installs it at the first start"
    checks.append(Check(f"python {python}", bool(found or uv), detail))
    checks.append(check_port(local.bind_address, local.webserver_port, own_ports))
    free = shutil.disk_usage(Path(environment.project_dir).resolve()).free
    need = f"need {MIN_HOST_DISK_FREE_BYTES // GIB} GiB"
    checks.append(Check("disk", free >= MIN_HOST_DISK_FREE_BYTES, f"{_gib(free)} free; {need}"))
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    need = f"need {MIN_HOST_MEMORY_BYTES // GIB} GiB"
    checks.append(Check("memory", total >= MIN_HOST_MEMORY_BYTES, f"{_gib(total)}; {need}"))
    return checks
