"""The Docker engine connection, with an error that says how to start one."""

import os

import docker
import docker.errors

from mwaa_local.errors import DockerUnavailableError


def docker_client() -> docker.DockerClient:
    """A client for the engine named by DOCKER_HOST (or the default socket) that answers a ping."""
    where = os.environ.get("DOCKER_HOST", "the default socket (unix:///var/run/docker.sock)")
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except docker.errors.DockerException as e:
        raise DockerUnavailableError(
            f"No Docker engine answers at {where}: {_reason(e)}",
            hint="Start Docker (Docker Desktop, `sudo systemctl start docker`, or "
            "`sudo dockerd &`) or point DOCKER_HOST at a running engine.",
        ) from e
    return client


def _reason(error: BaseException) -> str:
    # The SDK wraps the socket error in several layers; the innermost OSError says what happened.
    seen = error
    while seen.__cause__ or seen.__context__:
        seen = seen.__cause__ or seen.__context__
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
    for arg in getattr(error, "args", ()):
        for inner in getattr(arg, "args", ()):
            if isinstance(inner, OSError) and inner.strerror:
                return inner.strerror
    return str(error)
