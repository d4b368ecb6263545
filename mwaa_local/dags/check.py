"""Where `mwaa-local dags check` runs container/dag_check.py: in the running scheduler container, or
in a one-off container from the environment's image that first runs the start sequence."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import docker

from mwaa_local.container import paths
from mwaa_local.mwaa.log_streams import read_phases
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.one_off import CommandRun, last_report
from mwaa_local.runtime.one_off import run_one_off as run_one_off_container
from mwaa_local.runtime.stack import Stack
from mwaa_local.spec.settings import Environment

# Where each Airflow component keeps its copy of the bucket's DAG folder (mwaa-behaviour.md 3).
CONTAINER_DAGS = paths.DAGS_DIR
# Where a PATH outside the bucket is mounted, read-only, in a one-off container.
CHECK_MOUNT = paths.DAGS_CHECK_MOUNT
ONE_OFF_COMMAND = "dags-check"

WHAT = "The DAG check"  # how errors name the in-container command


@dataclass(frozen=True)
class CheckTarget:
    """What to check, as the container sees it."""

    path: PurePosixPath
    dags_folder: PurePosixPath
    mount: Path | None = None  # a host folder outside the bucket, mounted at CHECK_MOUNT

    def arguments(self) -> list[str]:
        return [str(self.path), "--dags-folder", str(self.dags_folder)]


def _inside(path: Path, folder: Path) -> PurePosixPath | None:
    try:
        return PurePosixPath(path.relative_to(folder).as_posix())
    except ValueError:
        return None


def check_target(bucket: Path, dag_s3_path: str, path: Path | None) -> CheckTarget:
    """The container's view of PATH: the synced DAG folder for a path in the bucket's DAG folder
    (default: all of it), the bucket mount for one elsewhere in the bucket, else a mount."""
    if path is None:
        return CheckTarget(CONTAINER_DAGS, CONTAINER_DAGS)
    path, bucket = path.resolve(), bucket.resolve()
    relative = _inside(path, (bucket / dag_s3_path).resolve())
    if relative is not None:
        return CheckTarget(CONTAINER_DAGS / relative, CONTAINER_DAGS)
    relative = _inside(path, bucket)
    if relative is not None:
        inside = paths.BUCKET_MOUNT / relative
        return CheckTarget(inside, inside if path.is_dir() else inside.parent)
    if path.is_dir():
        return CheckTarget(CHECK_MOUNT, CHECK_MOUNT, path)
    return CheckTarget(CHECK_MOUNT / path.name, CHECK_MOUNT, path.parent)


def host_folder(target: CheckTarget, bucket: Path, dag_s3_path: str) -> Path:
    """The host folder the container's `target.dags_folder` shows."""
    if target.mount is not None:
        return target.mount
    if target.dags_folder == CONTAINER_DAGS:
        return (bucket / dag_s3_path).resolve()
    return bucket.resolve() / target.dags_folder.relative_to(paths.BUCKET_MOUNT)


def run_in_scheduler(
    stack: Stack, target: CheckTarget, on_line: Callable[[str], None]
) -> CommandRun:
    """Sync the bucket's DAG folder into the running scheduler, then check there, with the
    scheduler's own environment (its startup script's exports included)."""
    command = ["python", "-m", "mwaa_local.container.dag_check", *target.arguments()]
    exit_code, stdout, tail = stack.exec_streaming("scheduler", command, on_line)
    where = f"the scheduler container {stack.container_for('scheduler').name}"
    return CommandRun(exit_code, last_report(stdout, WHAT, tail), where, read_phases(stdout))


def run_one_off(
    client: docker.DockerClient,
    environment: Environment,
    target: CheckTarget,
    on_line: Callable[[str], None],
) -> CommandRun:
    """Check in a one-off container that runs the scheduler's start sequence first."""
    volumes = {}
    if target.mount is not None:
        volumes[str(target.mount)] = {"bind": str(CHECK_MOUNT), "mode": "ro"}
    stderr = LineStream(on_line)
    command = [ONE_OFF_COMMAND, *target.arguments()]
    exit_code, stdout = run_one_off_container(client, environment, command, stderr, volumes)
    report = last_report(stdout, WHAT, "\n".join(stderr.tail))
    return CommandRun(exit_code, report, phases=read_phases(stdout))
