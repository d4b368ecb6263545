"""One-off containers from the environment's image, with no running stack: what the
`test-requirements` and `test-startup-script` commands run in."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

from mwaa_local.bucket.staged_constraints import stage_official_constraints
from mwaa_local.bucket.versions import objects_as_env
from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.log_streams import read_phases
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.stack import (
    UV_CACHE_VOLUME,
    Stack,
    airflow_environment,
)
from mwaa_local.spec.settings import Environment

ONE_OFF = "a one-off container"


@dataclass
class CommandRun:
    """An in-container command's exit code and its report (the last JSON line it printed), where
    it ran, and the start-sequence phases it reported on the way."""

    exit_code: int
    report: dict[str, Any]
    where: str = ONE_OFF
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)


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
    current = stack.bucket_objects()
    # The official constraints URLs the requirements name, readable offline in the store.
    stage_official_constraints(environment, stack.versions, current)
    objects = objects_as_env(stack.versions, current)
    volumes = {
        str(stack.versions.root): {"bind": str(paths.VERSIONS_MOUNT), "mode": "ro"},
        UV_CACHE_VOLUME: {"bind": str(paths.UV_CACHE), "mode": "rw"},
        **(extra_volumes or {}),
    }
    if not environment.bucket_is_s3:
        volumes[str(environment.bucket_folder)] = {"bind": str(paths.BUCKET_MOUNT), "mode": "ro"}
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
) -> CommandRun:
    """Run an in-container test command, streaming its log; return its exit code and report."""
    exit_code, stdout = run_one_off(client, environment, [command, component], LineStream(on_line))
    return CommandRun(exit_code, last_report(stdout, command))


def report_in_scheduler(
    stack: Stack, command: list[str], what: str, on_line: Callable[[str], None]
) -> CommandRun:
    """Run an in-container module in the running scheduler (after a DAG sync, with the
    scheduler's environment); its exit code and report."""
    exit_code, stdout, tail = stack.exec_streaming("scheduler", command, on_line)
    where = f"the scheduler container {stack.container_for('scheduler').name}"
    return CommandRun(exit_code, last_report(stdout, what, tail), where)


def report_in_one_off(
    client: docker.DockerClient,
    environment: Environment,
    command: list[str],
    what: str,
    on_line: Callable[[str], None],
    volumes: dict[str, dict[str, str]] | None = None,
    where: str = ONE_OFF,
) -> CommandRun:
    """Run an entrypoint command in a one-off container after the start sequence; its exit code,
    report and the start-sequence phases it reported."""
    stderr = LineStream(on_line)
    exit_code, stdout = run_one_off(client, environment, command, stderr, volumes)
    report = last_report(stdout, what, "\n".join(stderr.tail))
    return CommandRun(exit_code, report, where, phases=read_phases(stdout))


def last_json_line(stdout: str) -> dict[str, Any] | None:
    """The last line of `stdout` that is a JSON object: an in-container command's report."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def last_report(stdout: str, what: str, stderr_tail: str = "") -> dict[str, Any]:
    """`what`'s report (the last JSON line of its stdout); an error showing its output if none."""
    report = last_json_line(stdout)
    if report is None:
        raise MwaaLocalError(
            f"{what} printed no report.",
            hint=f"Its last output was:\n{(stderr_tail or stdout)[-2000:]}",
        )
    return report
