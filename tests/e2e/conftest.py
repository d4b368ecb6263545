"""End-to-end fixtures: a real Docker engine, images built once per run and shared.

Base images default to the public Debian Python images a user would pull; CI points them at
locally built ones (.ci/run) since no registry is reachable there.
"""

import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass

import docker
import docker.errors
import pytest

# One Airflow 2 and one Airflow 3 version, each on a base with MWAA's Python for it.
AIRFLOW2 = "2.10.3"
AIRFLOW3 = "3.3.1"
BASE_IMAGES = {
    "3.11": os.environ.get("MWAA_LOCAL_TEST_BASE_IMAGE_PY311", "python:3.11-slim-bookworm"),
    "3.12": os.environ.get("MWAA_LOCAL_TEST_BASE_IMAGE_PY312", "python:3.12-slim-bookworm"),
}


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(*args: str, cwd=None, env=None, timeout: float = 900, input=None) -> Result:
    """Run the real `mwaa-local` command in a subprocess."""
    done = subprocess.run(
        [sys.executable, "-m", "mwaa_local.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="session")
def docker_engine() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()
    return client


@dataclass
class BuiltImage:
    version: str
    python: str
    base_image: str
    tag: str
    build: Result


def _build(version: str, python: str, tmp_path_factory) -> BuiltImage:
    base = BASE_IMAGES[python]
    project = tmp_path_factory.mktemp(f"build-{version}")
    result = run_cli(
        "--project-dir",
        str(project),
        "build-image",
        "--airflow-version",
        version,
        "--base-image",
        base,
        "--quiet",
    )
    assert result.returncode == 0, result.output
    return BuiltImage(version, python, base, f"mwaa-local/airflow:{version}", result)


@pytest.fixture(scope="session")
def airflow2_image(docker_engine, tmp_path_factory) -> BuiltImage:
    return _build(AIRFLOW2, "3.11", tmp_path_factory)


@pytest.fixture(scope="session")
def airflow3_image(docker_engine, tmp_path_factory) -> BuiltImage:
    return _build(AIRFLOW3, "3.12", tmp_path_factory)


@pytest.fixture(params=["airflow2_image", "airflow3_image"])
def any_image(request) -> BuiltImage:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def podman_engine():
    """A client on Podman's API socket, or the test skipped with the reason Podman cannot run
    here (the message mwaa-local prints: what to install or start)."""
    from mwaa_local.errors import MwaaLocalError
    from mwaa_local.runtime.podman import podman_client

    try:
        client, url = podman_client()
    except MwaaLocalError as e:
        pytest.skip(f"podman cannot run here: {e.message} {e.hint or ''}")
    return client


def copy_to_podman(docker_engine, podman_engine, tag: str) -> None:
    """The Docker engine's image `tag`, loaded into Podman unless Podman has the same image (no
    registry here to pull from; an image built by this run is not in Podman's store)."""
    wanted = docker_engine.images.get(tag)
    for _ in range(3):  # Podman may hold the name under several registries (localhost/, docker.io/)
        try:
            present = podman_engine.images.get(tag)
        except docker.errors.ImageNotFound:
            break
        if present.labels == wanted.labels:
            return
        podman_engine.images.remove(present.id, force=True)
    podman_engine.images.load(wanted.save(chunk_size=1 << 20, named=True))  # with its tag
    assert podman_engine.images.get(tag).labels == wanted.labels


@pytest.fixture(scope="session")
def podman_airflow3_image(airflow3_image, docker_engine, podman_engine) -> BuiltImage:
    """The Airflow 3 image and the Postgres and Redis images, in Podman's store."""
    for tag in (
        airflow3_image.tag,
        os.environ.get("MWAA_LOCAL_POSTGRES_IMAGE", "postgres:16"),
        os.environ.get("MWAA_LOCAL_REDIS_IMAGE", "redis:7"),
    ):
        copy_to_podman(docker_engine, podman_engine, tag)
    return airflow3_image


@pytest.fixture
def s3_endpoint():
    """A moto server standing in for AWS, on all interfaces (the containers reach it through
    the host gateway). moto keeps its state per process, not per server: it is reset after each
    test, so no bucket outlives the test that made it."""
    from moto.server import ThreadedMotoServer

    from tests.e2e.stacks import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        yield url
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
        server.stop()
