"""One-off containers from the environment's image, with no running stack: what the
`test-requirements` and `test-startup-script` commands run in."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker

from mwaa_local.bucket.sync import BUCKET_MOUNT
from mwaa_local.bucket.versions import VERSIONS_MOUNT, objects_as_env
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.stack import (
    UV_CACHE_VOLUME,
    Stack,
    airflow_environment,
    bucket_path,
    uses_s3,
)
from mwaa_local.spec.settings import Environment

UV_CACHE_MOUNT = "/usr/local/mwaa-local/uv-cache"


@dataclass
class EphemeralRun:
    exit_code: int
    report: dict[str, Any]


class LineStream:
    """Chunks of a container's stream cut into whole lines for `on_line`; the last lines kept
    for error messages."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.pending = ""
        self.tail: list[str] = []

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk.decode(errors="replace")
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.emit(line)

    def emit(self, line: str) -> None:
        self.tail = [*self.tail[-40:], line]
        self.on_line(line)

    def close(self) -> str:
        if self.pending:
            self.emit(self.pending)
        return "\n".join(self.tail)


def run_one_off(
    client: docker.DockerClient,
    environment: Environment,
    command: list[str],
    stderr: LineStream,
    extra_volumes: dict[str, dict[str, str]] | None = None,
) -> tuple[int, str]:
    """Run an entrypoint command in a one-off container from the environment's image, with the
    bucket's current objects; stream its stderr; return its exit code and stdout."""
    stack = Stack(environment, client)
    # What a user tests is what the bucket holds now, not what was applied last.
    objects = objects_as_env(stack.versions, stack.bucket_objects())
    volumes = {
        str(stack.versions.root): {"bind": str(VERSIONS_MOUNT), "mode": "ro"},
        UV_CACHE_VOLUME: {"bind": UV_CACHE_MOUNT, "mode": "rw"},
        **(extra_volumes or {}),
    }
    if not uses_s3(environment):
        volumes[str(bucket_path(environment))] = {"bind": str(BUCKET_MOUNT), "mode": "ro"}
    container = client.containers.run(
        image_tag(environment.airflow_version),
        command,
        detach=True,
        environment=airflow_environment(environment, stack.state.secrets(), objects),
        volumes=volumes,
        labels={"io.github.mwaa-local.ephemeral": command[0]},
    )
    try:
        for chunk in container.logs(stream=True, follow=True, stdout=False, stderr=True):
            stderr.feed(chunk)
        exit_code = container.wait()["StatusCode"]
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
    finally:
        container.remove(force=True)
    stderr.close()
    return exit_code, stdout


def run_test_command(
    client: docker.DockerClient,
    environment: Environment,
    command: str,
    component: str,
    on_line: Callable[[str], None],
) -> EphemeralRun:
    """Run an in-container test command, streaming its log; return its exit code and report."""
    exit_code, stdout = run_one_off(client, environment, [command, component], LineStream(on_line))
    return EphemeralRun(exit_code, _last_json(stdout, command))


def _last_json(stdout: str, command: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise MwaaLocalError(f"{command} printed no report; its output was:\n{stdout[-2000:]}")
