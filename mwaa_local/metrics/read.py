"""Reading a stack's metric records: the collector's file from the metrics volume and the
autoscaler's worker counts from the state folder."""

import io
import tarfile
from pathlib import Path

import docker.errors

from mwaa_local.errors import MwaaLocalError
from mwaa_local.metrics.series import Series, build_series, parse_records
from mwaa_local.runtime.stack import METRICS_SERVICE, Stack
from mwaa_local.scaling.loop import SERVICE_METRICS_FILE

METRICS_FOLDER = "/usr/local/mwaa-local/metrics"


def statsd_lines(stack: Stack) -> list[str]:
    for container in stack.containers():
        if container.labels.get("com.docker.compose.service") != METRICS_SERVICE:
            continue
        try:
            chunks, _ = container.get_archive(METRICS_FOLDER)
        except docker.errors.NotFound:
            return []
        lines: list[str] = []
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as archive:
            for member in sorted(archive.getmembers(), key=lambda m: m.name, reverse=True):
                if member.isfile() and member.name.endswith(".jsonl"):
                    lines += archive.extractfile(member).read().decode().splitlines()
        return lines
    return []


def service_metrics_file(stack: Stack) -> Path:
    return stack.state.path / SERVICE_METRICS_FILE


def stack_series(stack: Stack, since: float, period: int = 60) -> list[Series]:
    if not stack.collects_metrics:
        raise MwaaLocalError(
            f"Environment {stack.environment.name} runs on the {stack.name} runtime, which has "
            "no StatsD collector (the stack's metrics container): Airflow sends no metrics there.",
            hint="Use Local.Runtime: docker | podman (MWAA_LOCAL_RUNTIME) for CloudWatch metrics.",
        )
    path = service_metrics_file(stack)
    service = path.read_text().splitlines() if path.is_file() else []
    environment = stack.environment
    return build_series(
        parse_records(statsd_lines(stack)),
        parse_records(service),
        environment.name,
        environment.airflow_configuration_options,
        since,
        period,
    )
