"""A fake Backend for the MWAA API tests, the server on a free port, and real clients for it."""

import base64
import datetime
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

from mwaa_local.api import errors
from mwaa_local.api.backend import CliResult, Cookie, RestApiResult, WebLogin
from mwaa_local.api.server import ApiServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
ACCESS_KEY = "AKIAMWAALOCALTEST"


def arn(name: str) -> str:
    return f"arn:aws:airflow:{REGION}:{ACCOUNT}:environment/{name}"


def environment(name: str, version: str = "3.0.6", **overrides: Any) -> dict[str, Any]:
    """GetEnvironment's Environment with every member MWAA answers, as a real one looks."""
    created = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC)
    log_group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:airflow-{name}"
    env: dict[str, Any] = {
        "Name": name,
        "Status": "AVAILABLE",
        "Arn": arn(name),
        "CreatedAt": created,
        "WebserverUrl": "127.0.0.1:8080",
        "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/mwaa-local-execution",
        "ServiceRoleArn": (
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/airflow.amazonaws.com/"
            "AWSServiceRoleForAmazonMWAA"
        ),
        "AirflowVersion": version,
        "SourceBucketArn": "arn:aws:s3:::mwaa-local-bucket",
        "DagS3Path": "dags",
        "RequirementsS3Path": "requirements/requirements.txt",
        "RequirementsS3ObjectVersion": "3",
        "StartupScriptS3Path": "startup/startup.sh",
        "AirflowConfigurationOptions": {"core.lazy_load_plugins": "False"},
        "EnvironmentClass": "mw1.small",
        "MaxWorkers": 10,
        "MinWorkers": 1,
        "Schedulers": 2,
        "MinWebservers": 2,
        "MaxWebservers": 2,
        "NetworkConfiguration": {
            "SubnetIds": ["subnet-local-a", "subnet-local-b"],
            "SecurityGroupIds": ["sg-local"],
        },
        "LoggingConfiguration": {
            kind: {
                "Enabled": True,
                "LogLevel": "INFO",
                "CloudWatchLogGroupArn": f"{log_group}-{kind[:-4]}",
            }
            for kind in ("DagProcessingLogs", "SchedulerLogs", "TaskLogs", "WebserverLogs")
        }
        | {"WorkerLogs": {"Enabled": False, "LogLevel": "WARNING"}},
        "LastUpdate": {
            "Status": "SUCCESS",
            "CreatedAt": created + datetime.timedelta(hours=1),
            "Source": "mwaa-local update",
            "WorkerReplacementStrategy": "GRACEFUL",
        },
        "WeeklyMaintenanceWindowStart": "SUN:03:00",
        "Tags": {"team": "data"},
        "WebserverAccessMode": "PUBLIC_ONLY",
        "EndpointManagement": "SERVICE",
    }
    env.update(overrides)
    return env


class FakeBackend:
    """Environments and tags in memory; CLI and REST calls answered by replaceable handlers."""

    def __init__(self, *environments: dict[str, Any]) -> None:
        self.environments = {env["Name"]: env for env in environments}
        self.tags = {env["Arn"]: dict(env.get("Tags", {})) for env in environments}
        self.updates: list[tuple[str, dict[str, Any]]] = []
        self.cli_calls: list[tuple[str, list[str]]] = []
        self.rest_calls: list[tuple[str, str, str, Any, Any]] = []
        self.cli_handler: Callable[[list[str]], CliResult] = _echo
        self.rest_handler: Callable[[str, str, Any, Any], RestApiResult] = _airflow_rest
        self._lock = threading.Lock()

    def _env(self, name: str) -> dict[str, Any]:
        if name not in self.environments:
            raise errors.not_found(f"Environment {name} was not found.")
        return self.environments[name]

    def _arn_env(self, resource_arn: str) -> dict[str, Any]:
        for env in self.environments.values():
            if env["Arn"] == resource_arn:
                return env
        raise errors.not_found(f"No environment has the ARN {resource_arn}.")

    def list_environments(self) -> list[str]:
        return list(self.environments)

    def get_environment(self, name: str) -> dict[str, Any]:
        env = dict(self._env(name))
        env["Tags"] = dict(self.tags[env["Arn"]])
        return env

    def create_environment(self, name: str, request: dict[str, Any]) -> str:
        raise errors.validation(
            "mwaa-local runs the environment of its project: write its settings with "
            "`mwaa-local init` and start it with `mwaa-local start`."
        )

    def update_environment(self, name: str, changes: dict[str, Any]) -> str:
        env = self._env(name)
        with self._lock:
            self.updates.append((name, changes))
            env.update(changes)
            env["Status"] = "UPDATING"
        return env["Arn"]

    def delete_environment(self, name: str) -> None:
        self._env(name)
        raise errors.validation("mwaa-local does not delete environments: run `mwaa-local down`.")

    def list_tags(self, arn: str) -> dict[str, str]:
        self._arn_env(arn)
        return dict(self.tags[arn])

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        self._arn_env(arn)
        self.tags[arn].update(tags)

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        self._arn_env(arn)
        for key in keys:
            self.tags[arn].pop(key, None)

    def run_cli(self, name: str, argv: list[str]) -> CliResult:
        with self._lock:
            self.cli_calls.append((name, argv))
        return self.cli_handler(argv)

    def invoke_rest_api(
        self, name: str, method: str, path: str, query: Any, body: Any
    ) -> RestApiResult:
        self._env(name)
        self.rest_calls.append((name, method, path, query, body))
        return self.rest_handler(method, path, query, body)

    def web_login_identity(self, name: str) -> str:
        return "admin"

    def web_login(self, name: str, airflow_identity: str) -> WebLogin:
        return WebLogin(
            "http://127.0.0.1:8080/home",
            [Cookie("session", f"signed-in-as-{airflow_identity}")],
        )


def _echo(argv: list[str]) -> CliResult:
    return CliResult(0, json.dumps(argv).encode(), b"")


def _airflow_rest(method: str, path: str, query: Any, body: Any) -> RestApiResult:
    """A few answers shaped like Airflow's own."""
    if method == "GET" and path == "/dags":
        dags = [{"dag_id": "example", "is_paused": False}]
        return RestApiResult(200, {"dags": dags[: (query or {}).get("limit", 100)]})
    if method == "DELETE" and path.startswith("/variables/"):
        return RestApiResult(204, None)
    if path.startswith("/dags/"):
        detail = f"The DAG with dag_id: `{path.split('/')[2]}` was not found"
        return RestApiResult(404, {"detail": detail, "status": 404, "title": "DAG not found"})
    return RestApiResult(500, {"detail": "boom", "status": 500, "title": "Internal Server Error"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def mwaa_client(server: ApiServer, **config: Any):
    """boto3's mwaa client for the local endpoint; `config`: more botocore Config options."""
    return boto3.client(
        "mwaa",
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="local-secret",
        # One attempt: botocore would retry 500 and 503 answers.
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}, **config),
    )


def post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a POST, whatever the status."""
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def run_cli(server: ApiServer, token: str, command: str, path: str = "/aws_mwaa/cli"):
    """POST a command as MWAA's documented client code does: status, stdout, stderr, headers."""
    status, headers, body = post(
        f"http://{server.address}{path}",
        command.encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
    )
    answer = json.loads(body)
    assert set(answer) == {"stdout", "stderr"}
    stdout = base64.b64decode(answer["stdout"]).decode()
    stderr = base64.b64decode(answer["stderr"]).decode()
    return status, stdout, stderr, headers
