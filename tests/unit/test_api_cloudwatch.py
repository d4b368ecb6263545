"""CloudWatch Logs and CloudWatch on the MWAA API's port, through boto3's `logs` and `cloudwatch`
clients and the AWS CLI: the project's settings, state folder and the readers of mwaa_local/logs
and mwaa_local/metrics are real; the Docker engine is a stand-in whose containers hold the log
streams, console output and metric records those readers fetch. Every answer is checked against
botocore's output shapes."""

import datetime
import io
import json
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import docker.errors
import pytest
import yaml
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from mwaa_local.api.environment_backend import EnvironmentBackend
from mwaa_local.api.server import ApiServer
from mwaa_local.api.stack_telemetry import StackTelemetry
from mwaa_local.container.paths import STREAMS_ROOT
from mwaa_local.logs.events import group_type
from mwaa_local.logs.read import group_events
from mwaa_local.metrics.read import METRICS_FOLDER, service_metrics_file, stack_series
from tests.aws_cli import run_aws
from tests.unit.api_fakes import FakeBackend, environment, post

NAME = "LocalEnv"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
T0 = int(datetime.datetime(2026, 3, 1, 12, 0, tzinfo=datetime.UTC).timestamp())
# The files' names; CloudWatch's stream names have "_" for each ":" (api/logs_operations.py).
TASK_FILE = "dag_id=demo/run_id=manual__2026-03-01T12:00:00+00:00/task_id=hello/attempt=1.log"
OTHER_FILE = "dag_id=other/run_id=scheduled__2026-03-01T11:00:00+00:00/task_id=t/attempt=1.log"
TASK_STREAM = TASK_FILE.replace(":", "_")
OTHER_STREAM = OTHER_FILE.replace(":", "_")
TASK_LINES = [
    "[2026-03-01T12:00:01.000+0000] {taskinstance.py:1} INFO - Starting attempt 1 of 1",
    "[2026-03-01T12:00:02.000+0000] {subprocess.py:2} INFO - Output: hello world",
    "[2026-03-01T12:00:03.000+0000] {taskinstance.py:3} DEBUG - below the group's level",
    "[2026-03-01T12:00:04.000+0000] {taskinstance.py:4} INFO - Marking task as SUCCESS",
]
OTHER_LINES = ["[2026-03-01T12:00:05.000+0000] {taskinstance.py:9} ERROR - Task failed: boom"]
SCHEDULER_CONSOLE = (
    b"2026-03-01T12:00:00.500000000Z [2026-03-01T12:00:00.500+0000] {scheduler_job.py:1} INFO"
    b" - Starting the scheduler\n"
)


def _tar(files: dict[str, str]) -> list[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return [buffer.getvalue()]


class Container:
    """A compose container as docker-py shows it: its archives and its console output."""

    def __init__(self, service: str, archives: dict[str, dict[str, str]], console: bytes = b""):
        self.service = service
        self.archives = archives
        self.console = console
        self.name = f"localenv-{service}-1"
        self.labels = {"com.docker.compose.service": service}
        self.attrs = {"Config": {"Hostname": f"{service}-host"}, "State": {"Status": "running"}}

    def get_archive(self, path: str):
        if path not in self.archives:
            raise docker.errors.NotFound(path)
        return _tar(self.archives[path]), {}

    def logs(self, timestamps: bool = False, since: Any = None) -> bytes:
        return self.console


class Containers:
    def __init__(self, containers: list[Container]) -> None:
        self.containers = containers

    def list(self, all: bool = False, filters: dict | None = None) -> list[Container]:  # noqa: A002
        return self.containers


class Docker:
    def __init__(self, containers: list[Container]) -> None:
        self.containers = Containers(containers)


def _statsd(t: int, name: str, kind: str, *values: float) -> str:
    record = {"t": t, "p": 60, "n": name, "k": kind, "count": len(values), "sum": sum(values)}
    return json.dumps(record | {"min": min(values), "max": max(values), "last": values[-1]})


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "dags").mkdir()
    settings = {
        "Name": NAME,
        "AirflowVersion": "3.0.6",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/mwaa-execution",
        "LoggingConfiguration": {
            "TaskLogs": {"Enabled": True, "LogLevel": "INFO"},
            "SchedulerLogs": {"Enabled": True, "LogLevel": "INFO"},
            "WorkerLogs": {"Enabled": False, "LogLevel": "INFO"},
        },
    }
    (tmp_path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    return tmp_path


@pytest.fixture
def backend(project: Path) -> EnvironmentBackend:
    streams = STREAMS_ROOT.name
    task_group = f"{streams}/airflow-{NAME}-Task"
    statsd = [
        _statsd(T0 + 5, "airflow.executor.queued_tasks", "g", 3),
        _statsd(T0 + 65, "airflow.executor.queued_tasks", "g", 1, 5),
        _statsd(T0 + 125, "airflow.executor.queued_tasks", "g", 0),
        _statsd(T0 + 70, "airflow.ti_successes", "c", 1, 1),
    ]
    docker = Docker(
        [
            Container(
                "api-server",
                {
                    str(STREAMS_ROOT): {
                        f"{task_group}/{TASK_FILE}": "\n".join(TASK_LINES) + "\n",
                        f"{task_group}/{OTHER_FILE}": "\n".join(OTHER_LINES) + "\n",
                    }
                },
            ),
            Container("scheduler", {}, SCHEDULER_CONSOLE),
            Container("metrics", {METRICS_FOLDER: {"metrics/statsd.jsonl": "\n".join(statsd)}}),
        ]
    )
    backend = EnvironmentBackend(project, client_factory=lambda: docker, region=REGION)
    path = service_metrics_file(backend.stack())
    path.parent.mkdir(parents=True, exist_ok=True)
    dimensions = {"Cluster": "AdditionalWorker", "Environment": NAME}
    path.write_text(
        "".join(
            json.dumps(
                {
                    "t": T0 + s,
                    "ns": "AWS/MWAA",
                    "n": "NumAdditionalWorkers",
                    "d": dimensions,
                    "v": v,
                }
            )
            + "\n"
            for s, v in ((10, 0), (70, 2), (80, 3))
        )  # fmt: skip
    )
    return backend


@pytest.fixture
def server(backend: EnvironmentBackend) -> Iterator[ApiServer]:
    telemetry = StackTelemetry(backend.stack, lambda stack: backend.arn(stack.environment))
    with ApiServer(backend, validate_responses=True, telemetry=telemetry) as running:
        yield running
    assert running.shape_errors == []


def client(server: ApiServer, service: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="AKIAMWAALOCALTEST",
        aws_secret_access_key="local-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def aws(server: ApiServer, *args: str, variable: str) -> subprocess.CompletedProcess:
    """The AWS CLI pointed at the endpoint by botocore's per-service variable, as the README
    tells users to."""
    env = {variable: server.endpoint_url, "AWS_DEFAULT_REGION": REGION}
    return run_aws(*args, "--output", "json", env=env, timeout=60)


def test_filter_log_events_answers_what_mwaa_local_logs_reads(server, backend):
    logs = client(server, "logs")
    answer = logs.filter_log_events(logGroupName=f"airflow-{NAME}-Task")
    stream = [(e["logStreamName"], e["timestamp"], e["message"]) for e in answer["events"]]
    assert stream == [
        (TASK_STREAM, (T0 + 1) * 1000, TASK_LINES[0]),
        (TASK_STREAM, (T0 + 2) * 1000, TASK_LINES[1]),
        (TASK_STREAM, (T0 + 4) * 1000, TASK_LINES[3]),  # the DEBUG line is below INFO
        (OTHER_STREAM, (T0 + 5) * 1000, OTHER_LINES[0]),
    ]
    # The same events, ids and all, as `mwaa-local logs --group Task --json` prints (stream
    # names with CloudWatch's "_" for ":").
    _, events = group_events(backend.stack(), group_type("Task"))
    printed = [e.as_cloudwatch(n) for n, e in enumerate(events)]
    for event in printed:
        event["logStreamName"] = event["logStreamName"].replace(":", "_")
    assert answer["events"] == printed
    assert all(e["ingestionTime"] == e["timestamp"] for e in answer["events"])

    hello = logs.filter_log_events(
        logGroupIdentifier=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:airflow-{NAME}-Task",
        logStreamNamePrefix="dag_id=demo/",
        filterPattern='"hello world"',
    )
    assert [e["message"] for e in hello["events"]] == [TASK_LINES[1]]
    assert hello["searchedLogStreams"] == [
        {"logStreamName": TASK_STREAM, "searchedCompletely": True}
    ]
    window = logs.filter_log_events(
        logGroupName=f"airflow-{NAME}-Task",
        logStreamNames=[TASK_STREAM, OTHER_STREAM],
        startTime=(T0 + 2) * 1000,
        endTime=(T0 + 4) * 1000,
    )
    assert [e["timestamp"] for e in window["events"]] == [(T0 + 2) * 1000, (T0 + 4) * 1000]
    # The console output of each component is a stream of its own, as on MWAA.
    scheduler = logs.filter_log_events(logGroupName=f"airflow-{NAME}-Scheduler")["events"]
    assert [e["logStreamName"] for e in scheduler] == ["scheduler_scheduler-host"]
    assert "Starting the scheduler" in scheduler[0]["message"]


def test_filter_log_events_pages_with_next_token(server):
    paginator = client(server, "logs").get_paginator("filter_log_events")
    pages = list(paginator.paginate(logGroupName=f"airflow-{NAME}-Task", limit=3))
    assert [len(p["events"]) for p in pages] == [3, 1]
    assert "nextToken" in pages[0] and "nextToken" not in pages[1]
    ids = [e["eventId"] for p in pages for e in p["events"]]
    assert len(set(ids)) == 4


def test_unknown_and_disabled_groups_are_not_found(server):
    logs = client(server, "logs")
    for group in ("airflow-Other-Task", f"airflow-{NAME}-Worker", f"airflow-{NAME}-WebServer"):
        with pytest.raises(logs.exceptions.ResourceNotFoundException) as caught:
            logs.filter_log_events(logGroupName=group)
        assert (
            caught.value.response["Error"]["Message"] == "The specified log group does not exist."
        )
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=f"airflow-{NAME}-Task", logStreamName="nope")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(
            logGroupName=f"airflow-{NAME}-Task", logStreamNames=["a"], logStreamNamePrefix="b"
        )


def test_get_log_events_and_tokens(server):
    logs = client(server, "logs")
    group = f"airflow-{NAME}-Task"
    newest = logs.get_log_events(logGroupName=group, logStreamName=TASK_STREAM, limit=2)
    assert [e["message"] for e in newest["events"]] == [TASK_LINES[1], TASK_LINES[3]]
    assert set(newest["events"][0]) == {"timestamp", "message", "ingestionTime"}
    older = logs.get_log_events(
        logGroupName=group, logStreamName=TASK_STREAM, nextToken=newest["nextBackwardToken"]
    )
    assert [e["message"] for e in older["events"]] == [TASK_LINES[0]]
    head = logs.get_log_events(
        logGroupName=group, logStreamName=TASK_STREAM, startFromHead=True, limit=1
    )
    assert [e["message"] for e in head["events"]] == [TASK_LINES[0]]
    rest = logs.get_log_events(
        logGroupName=group, logStreamName=TASK_STREAM, nextToken=head["nextForwardToken"]
    )
    assert [e["message"] for e in rest["events"]] == [TASK_LINES[1], TASK_LINES[3]]
    end = logs.get_log_events(
        logGroupName=group, logStreamName=TASK_STREAM, nextToken=rest["nextForwardToken"]
    )
    assert end["events"] == [] and end["nextForwardToken"] == rest["nextForwardToken"]


def test_describe_log_groups_and_streams(server):
    logs = client(server, "logs")
    groups = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == [
        f"airflow-{NAME}-Scheduler",
        f"airflow-{NAME}-Task",
    ]
    assert groups[1]["logGroupArn"] == (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:airflow-{NAME}-Task"
    )
    assert groups[1]["arn"] == groups[1]["logGroupArn"] + ":*"
    assert [
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="airflow-LocalEnv-T")["logGroups"]
    ] == [f"airflow-{NAME}-Task"]
    streams = logs.describe_log_streams(logGroupName=f"airflow-{NAME}-Task")["logStreams"]
    assert [
        (s["logStreamName"], s["firstEventTimestamp"], s["lastEventTimestamp"]) for s in streams
    ] == [
        (TASK_STREAM, (T0 + 1) * 1000, (T0 + 4) * 1000),
        (OTHER_STREAM, (T0 + 5) * 1000, (T0 + 5) * 1000),
    ]
    latest = logs.describe_log_streams(
        logGroupName=f"airflow-{NAME}-Task", orderBy="LastEventTime", descending=True, limit=1
    )
    assert [s["logStreamName"] for s in latest["logStreams"]] == [OTHER_STREAM]
    assert "nextToken" in latest


def _query(id_: str, namespace: str, name: str, dimensions: dict, stat: str, period: int = 60):
    return {
        "Id": id_,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
    }


def test_get_metric_data_answers_what_mwaa_local_metrics_reads(server, backend):
    cloudwatch = client(server, "cloudwatch")
    # botocore 1.43 speaks Smithy RPC v2 CBOR to CloudWatch: this test covers that protocol.
    assert cloudwatch.meta.service_model.protocol == "smithy-rpc-v2-cbor"
    queued = {"Environment": NAME, "Function": "Executor"}
    workers = {"Cluster": "AdditionalWorker", "Environment": NAME}
    start = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            _query("queuedmax", "AmazonMWAA", "QueuedTasks", queued, "Maximum"),
            _query("queuedsum", "AmazonMWAA", "QueuedTasks", queued, "Sum", 120),
            _query("workers", "AWS/MWAA", "NumAdditionalWorkers", workers, "Average"),
            _query("none", "AmazonMWAA", "QueuedTasks", {"Environment": NAME}, "Sum"),
        ],
        StartTime=start,
        EndTime=start + datetime.timedelta(minutes=10),
        ScanBy="TimestampAscending",
    )
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    minute = datetime.timedelta(minutes=1)
    assert results["queuedmax"]["Label"] == "QueuedTasks"
    assert results["queuedmax"]["StatusCode"] == "Complete"
    assert results["queuedmax"]["Timestamps"] == [start, start + minute, start + 2 * minute]
    assert results["queuedmax"]["Values"] == [3.0, 5.0, 0.0]
    assert results["queuedsum"]["Timestamps"] == [start, start + 2 * minute]
    assert results["queuedsum"]["Values"] == [9.0, 0.0]
    assert results["workers"]["Values"] == [0.0, 2.5]
    assert results["none"]["Values"] == []  # dimensions must match exactly

    # The same datapoints as `mwaa-local metrics --json` prints.
    series = stack_series(backend.stack(), T0, 60)
    printed = next(s.as_dict() for s in series if s.name == "QueuedTasks")
    assert [p["Maximum"] for p in printed["Datapoints"]] == results["queuedmax"]["Values"]
    assert [p["Timestamp"] for p in printed["Datapoints"]] == [
        t.timestamp() for t in results["queuedmax"]["Timestamps"]
    ]

    newest_first = cloudwatch.get_metric_data(
        MetricDataQueries=[_query("q", "AmazonMWAA", "QueuedTasks", queued, "Minimum")],
        StartTime=start,
        EndTime=start + 2 * minute,
    )["MetricDataResults"][0]
    assert newest_first["Timestamps"] == [start + minute, start]
    assert newest_first["Values"] == [1.0, 3.0]


def test_list_metrics_and_metric_errors(server):
    cloudwatch = client(server, "cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="AWS/MWAA")["Metrics"]
    assert listed == [] or all(m["Namespace"] == "AWS/MWAA" for m in listed)
    start = datetime.datetime.fromtimestamp(T0, datetime.UTC)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        cloudwatch.get_metric_data(
            MetricDataQueries=[{"Id": "e", "Expression": "SUM(METRICS())"}],
            StartTime=start,
            EndTime=start + datetime.timedelta(minutes=5),
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "metric math" in caught.value.response["Error"]["Message"]


def test_requests_signed_for_another_service_are_refused(server):
    """A request signed for `airflow` (MWAA's signing name) is no CloudWatch Logs request."""
    request = AWSRequest(
        "POST",
        server.endpoint_url + "/",
        data=b"{}",
        headers={
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials("AKIAMWAALOCALTEST", "local-secret"), "airflow", REGION).add_auth(request)
    status, _, body = post(request.url, request.body, dict(request.headers))
    assert status == 403
    assert json.loads(body)["__type"] == "AccessDeniedException"
    assert "'logs'" in json.loads(body)["message"]


def test_the_aws_cli_reads_logs_and_metrics(server):
    filtered = aws(
        server,
        "logs",
        "filter-log-events",
        "--log-group-name",
        f"airflow-{NAME}-Task",
        "--filter-pattern",
        "ERROR",
        variable="AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    )
    assert filtered.returncode == 0, filtered.stderr
    events = json.loads(filtered.stdout)["events"]
    assert [(e["logStreamName"], e["message"]) for e in events] == [(OTHER_STREAM, OTHER_LINES[0])]

    query = _query("q", "AmazonMWAA", "QueuedTasks", {"Environment": NAME, "Function": "Executor"},
                   "Maximum")  # fmt: skip
    metrics = aws(
        server,
        "cloudwatch",
        "get-metric-data",
        "--metric-data-queries",
        json.dumps([query]),
        "--start-time",
        str(T0),
        "--end-time",
        str(T0 + 600),
        "--scan-by",
        "TimestampAscending",
        variable="AWS_ENDPOINT_URL_CLOUDWATCH",
    )
    assert metrics.returncode == 0, metrics.stderr
    result = json.loads(metrics.stdout)["MetricDataResults"][0]
    assert result["Values"] == [3.0, 5.0, 0.0]
    assert result["StatusCode"] == "Complete"


def test_without_telemetry_the_endpoint_says_it_serves_no_logs():
    with ApiServer(FakeBackend(environment("MyAirflow3")), validate_responses=True) as running:
        logs = client(running, "logs")
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            logs.describe_log_groups()
        assert caught.value.response["Error"]["Code"] == "ServiceUnavailableException"
