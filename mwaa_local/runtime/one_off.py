"""One-off containers from the environment's image, with no running stack: what the
`test-requirements` and `test-startup-script` commands run in (the docker and podman runtimes'
`run_one_off`), and the reports such runs print, whichever runtime ran them."""

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker

from mwaa_local.bucket.source import open_bucket
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

if TYPE_CHECKING:
    from mwaa_local.runtime.interface import Runtime

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
    with_dags: bool = True,
) -> tuple[int, str]:
    """Run an entrypoint command in a one-off container from the environment's image, with the
    bucket's current objects (and its DAG folder, unless the command reads no DAGs); stream its
    stderr; return its exit code and stdout."""
    stack = Stack(environment, client)
    # What a user tests is what the bucket holds now, not what was applied last.
    current = stack.bucket_objects()
    # The official constraints URLs the requirements name, readable offline in the store.
    stage_official_constraints(environment, stack.versions, current)
    objects = objects_as_env(stack.versions, current)
    with bucket_folder(environment, with_dags) as bucket:
        mount = {str(bucket): {"bind": str(paths.BUCKET_MOUNT), "mode": "ro"}} if bucket else {}
        volumes = {
            **mount,
            str(stack.versions.root): {"bind": str(paths.VERSIONS_MOUNT), "mode": "ro"},
            UV_CACHE_VOLUME: {"bind": str(paths.UV_CACHE), "mode": "rw"},
            **(extra_volumes or {}),
        }
        container = client.containers.run(
            image_tag(environment.airflow_version),
            command,
            detach=True,
            environment=airflow_environment(environment, stack.state.secrets(), objects),
            volumes=volumes,
            labels={"io.github.mwaa-local.ephemeral": command[0]},
        )
        return _finish(container, stderr)


@contextmanager
def bucket_folder(environment: Environment, with_dags: bool = True) -> Iterator[Path | None]:
    """The bucket folder a one-off container syncs its DAG folder from: the project's, or for an
    s3:// bucket its DAG folder downloaded to a temporary folder (what the bucket-sync container
    mirrors for a running stack), so a check never runs on an empty DAG folder; None for an
    s3:// bucket when the command reads no DAGs."""
    if not environment.bucket_is_s3:
        yield environment.bucket_folder
        return
    if not with_dags:
        yield None
        return
    bucket = open_bucket(environment)
    with tempfile.TemporaryDirectory(prefix="mwaa-local-bucket-") as tmp:
        root = Path(tmp)
        skipped = bucket.download_folder(environment.dag_s3_path, root / environment.dag_s3_path)
        if skipped:
            names = ", ".join(f"{name} ({why})" for name, why in sorted(skipped.items()))
            raise MwaaLocalError(
                f"Could not read {len(skipped)} DAG file(s) from {bucket.url}: {names}.",
                hint="Check the objects and your AWS credentials' access to them.",
            )
        for path in (root, *root.rglob("*")):  # the container's airflow user reads it
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield root


def _finish(container, stderr: LineStream) -> tuple[int, str]:
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
    runtime: "Runtime", command: str, component: str, on_line: Callable[[str], None]
) -> CommandRun:
    """Run an in-container test command apart from the running components (a one-off
    container, or a throwaway folder under the host runtime), streaming its log; return its exit
    code and report."""
    exit_code, stdout = runtime.run_one_off(
        [command, component], LineStream(on_line), with_dags=False
    )
    return CommandRun(exit_code, last_report(stdout, command))


def report_in_scheduler(
    runtime: "Runtime", command: list[str], what: str, on_line: Callable[[str], None]
) -> CommandRun:
    """Run an in-container module in the running scheduler (after a DAG sync, with the
    scheduler's environment); its exit code and report."""
    exit_code, stdout, tail = runtime.exec_streaming("scheduler", command, on_line)
    report = last_report(stdout, what, tail)
    return CommandRun(exit_code, report, runtime.where("scheduler"), read_phases(stdout))


def report_in_one_off(
    runtime: "Runtime",
    command: list[str],
    what: str,
    on_line: Callable[[str], None],
    volumes: dict[str, dict[str, str]] | None = None,
    where: str = ONE_OFF,
) -> CommandRun:
    """Run an entrypoint command apart from the running components, after the start sequence;
    its exit code, report and the start-sequence phases it reported."""
    stderr = LineStream(on_line)
    exit_code, stdout = runtime.run_one_off(command, stderr, volumes)
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
