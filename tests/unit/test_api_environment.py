"""The real Backend over one project's environment, through boto3's mwaa client: its settings,
record and state folder are real; the Docker engine and the Airflow web server are stand-ins
(tests/unit/environment_fakes.py). Every answer is checked against botocore's output shapes."""

import datetime
import hashlib
import http.client
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from docker.errors import NotFound

from mwaa_local.api.environment_backend import EnvironmentBackend
from mwaa_local.api.server import ApiServer
from mwaa_local.environment.update import (
    REQUIREMENTS_FAILED,
    UpdateFailed,
    environment_settings,
    record_create,
)
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.stack import Stack, airflow_services
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.overlay import OVERLAY_FILE_NAME
from mwaa_local.spec.settings import load_environment
from tests.unit.api_fakes import mwaa_client, run_cli
from tests.unit.environment_fakes import FakeAirflow, FakeDockerClient

NAME = "LocalEnv"
ROLE = "arn:aws:iam::123456789012:role/mwaa-execution"
REGION = "eu-west-1"
ARN = f"arn:aws:airflow:{REGION}:123456789012:environment/{NAME}"


class FakeUpdate:
    """Stands in for environment.update.update_environment: records the call, waits for the
    test's go, then ends as `mwaa-local update` would (applied, or failed and rolled back)."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.fail = False
        self.calls: list[dict] = []

    def __call__(self, stack: Stack, wanted, timeout, on_step, source, worker_replacement_strategy):
        self.calls.append({"environment": stack.environment, "wanted": wanted, "source": source})
        record = stack.record()
        record.begin_update(source, worker_replacement_strategy)
        record.save(stack.record_file)
        assert self.go.wait(10)
        if self.fail:
            record.finish_update(REQUIREMENTS_FAILED, "worker: No matching distribution")
            record.save(stack.record_file)
            raise UpdateFailed(REQUIREMENTS_FAILED, "worker: No matching distribution", True)
        record.applied = wanted
        record.settings = environment_settings(stack.environment)
        record.finish_update()
        record.save(stack.record_file)


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Iterator[tuple[Path, FakeAirflow]]:
    for name in ("WEBSERVER_PORT", "API_PORT", "ADMIN_PASSWORD", "ADMIN_USERNAME", "BUCKET"):
        monkeypatch.delenv(f"MWAA_LOCAL_{name}", raising=False)
    password = StateDir.for_environment(tmp_path, NAME).secrets().admin_password
    with FakeAirflow("admin", password) as airflow:
        (tmp_path / "dags").mkdir()
        (tmp_path / "requirements").mkdir()
        (tmp_path / "requirements" / "requirements.txt").write_text("first==1.0\n")
        settings = {
            "Name": NAME,
            "AirflowVersion": "3.3.1",
            "ExecutionRoleArn": ROLE,
            "AirflowConfigurationOptions": {"core.default_timezone": "utc"},
            "Tags": {"team": "data", "cost-center": "42"},
            "LoggingConfiguration": {
                "WorkerLogs": {"Enabled": False, "LogLevel": "WARNING"},
                "TaskLogs": {"Enabled": True, "LogLevel": "ERROR"},
            },
            "Local": {"WebserverPort": airflow.port},
        }
        (tmp_path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
        record_create(Stack(load_environment(tmp_path), FakeDockerClient()))
        yield tmp_path, airflow


@pytest.fixture
def docker() -> FakeDockerClient:
    return FakeDockerClient()


@pytest.fixture
def updates() -> Iterator[FakeUpdate]:
    fake = FakeUpdate()
    yield fake
    fake.go.set()


@pytest.fixture
def backend(project, docker, updates) -> EnvironmentBackend:
    path, _ = project
    return EnvironmentBackend(path, client_factory=lambda: docker, update=updates, region=REGION)


@pytest.fixture
def server(backend) -> Iterator[ApiServer]:
    with ApiServer(backend, validate_responses=True) as running:
        yield running
    backend.wait_for_update(10)
    assert running.shape_errors == []


@pytest.fixture
def mwaa(server):
    return mwaa_client(server)


def settings_text(project) -> str:
    return (project[0] / "mwaa-local.yaml").read_text()


def test_get_environment_answers_what_runs(mwaa, project):
    env = mwaa.get_environment(Name=NAME)["Environment"]

    requirements = (project[0] / "requirements" / "requirements.txt").read_bytes()
    assert env["Name"] == NAME
    assert env["Arn"] == ARN  # the account from ExecutionRoleArn, the region the API runs in
    assert env["Status"] == "AVAILABLE"
    assert env["AirflowVersion"] == "3.3.1"
    assert env["WebserverUrl"] == f"127.0.0.1:{project[1].port}"
    assert env["RequirementsS3Path"] == "requirements/requirements.txt"
    assert env["RequirementsS3ObjectVersion"] == hashlib.sha256(requirements).hexdigest()[:16]
    assert "PluginsS3Path" not in env and "StartupScriptS3ObjectVersion" not in env
    assert env["AirflowConfigurationOptions"] == {"core.default_timezone": "utc"}
    assert (env["EnvironmentClass"], env["MinWorkers"], env["MaxWorkers"]) == ("mw1.small", 1, 10)
    assert (env["Schedulers"], env["MinWebservers"], env["MaxWebservers"]) == (2, 2, 2)
    assert env["Tags"] == {"team": "data", "cost-center": "42"}
    assert env["ExecutionRoleArn"] == ROLE
    assert env["LoggingConfiguration"]["WorkerLogs"] == {"Enabled": False, "LogLevel": "WARNING"}
    assert env["LoggingConfiguration"]["TaskLogs"] == {
        "Enabled": True,
        "LogLevel": "ERROR",
        "CloudWatchLogGroupArn": (
            f"arn:aws:logs:{REGION}:123456789012:log-group:airflow-{NAME}-Task"
        ),
    }
    # A module the settings leave out has no log group, as `mwaa-local logs --group` reads them.
    assert env["LoggingConfiguration"]["SchedulerLogs"] == {"Enabled": False, "LogLevel": "INFO"}
    age = datetime.datetime.now(datetime.UTC) - env["CreatedAt"]
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=1)
    assert "LastUpdate" not in env  # never updated


def test_a_stopped_stack_is_unavailable_and_an_unknown_name_not_found(mwaa, docker):
    docker.set_status("exited")

    assert mwaa.get_environment(Name=NAME)["Environment"]["Status"] == "UNAVAILABLE"
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException) as caught:
        mwaa.get_environment(Name="Other")
    assert "this endpoint serves LocalEnv" in caught.value.response["Error"]["Message"]
    assert mwaa.list_environments()["Environments"] == [NAME]


def test_the_account_defaults_to_twelve_zeros_without_an_execution_role(mwaa, project):
    settings = yaml.safe_load(settings_text(project))
    del settings["ExecutionRoleArn"]
    (project[0] / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))

    arn = mwaa.get_environment(Name=NAME)["Environment"]["Arn"]

    assert arn == f"arn:aws:airflow:{REGION}:000000000000:environment/{NAME}"


def test_create_and_delete_name_the_commands_to_run_instead(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException) as created:
        mwaa.create_environment(
            Name="Another",
            ExecutionRoleArn=ROLE,
            SourceBucketArn="arn:aws:s3:::bucket",
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-a", "subnet-b"]},
        )
    with pytest.raises(mwaa.exceptions.ValidationException) as deleted:
        mwaa.delete_environment(Name=NAME)

    assert "`mwaa-local init`" in created.value.response["Error"]["Message"]
    assert "`mwaa-local start`" in created.value.response["Error"]["Message"]
    assert "`mwaa-local stop`" in deleted.value.response["Error"]["Message"]


def test_tags_change_in_the_state_folder_never_in_the_settings_file(mwaa, project):
    before = settings_text(project)

    mwaa.tag_resource(ResourceArn=ARN, Tags={"stage": "dev", "team": "platform"})
    mwaa.untag_resource(ResourceArn=ARN, tagKeys=["cost-center", "stage"])

    expected = {"team": "platform"}
    assert mwaa.list_tags_for_resource(ResourceArn=ARN)["Tags"] == expected
    assert mwaa.get_environment(Name=NAME)["Environment"]["Tags"] == expected
    assert settings_text(project) == before
    assert (project[0] / ".mwaa-local" / NAME / "api-tags.json").is_file()
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException):
        mwaa.list_tags_for_resource(ResourceArn=ARN.replace(NAME, "Other"))


def wait_for_status(mwaa, wanted: str) -> dict:
    for _ in range(200):
        env = mwaa.get_environment(Name=NAME)["Environment"]
        if env["Status"] == wanted:
            return env
        threading.Event().wait(0.05)
    raise AssertionError(f"still {env['Status']}")


def test_an_update_goes_updating_then_available_through_an_overlay(mwaa, project, updates):
    path, _ = project
    before = settings_text(project)
    requirements = path / "requirements" / "requirements.txt"
    requirements.write_text("second==2.0\n")
    version = hashlib.sha256(b"second==2.0\n").hexdigest()[:16]

    arn = mwaa.update_environment(
        Name=NAME,
        RequirementsS3ObjectVersion=version,
        AirflowConfigurationOptions={"core.dag_file_processor_timeout": "150"},
        MaxWorkers=4,
        WorkerReplacementStrategy="GRACEFUL",
    )["Arn"]

    assert arn == ARN
    updating = mwaa.get_environment(Name=NAME)["Environment"]
    assert updating["Status"] == "UPDATING"
    assert updating["LastUpdate"]["Status"] == "PENDING"
    assert updating["LastUpdate"]["WorkerReplacementStrategy"] == "GRACEFUL"
    # what runs is still the old version until the update ends
    assert updating["RequirementsS3ObjectVersion"] != version
    with pytest.raises(mwaa.exceptions.ValidationException) as busy:
        mwaa.update_environment(Name=NAME, MaxWorkers=5)
    assert "UPDATING" in busy.value.response["Error"]["Message"]

    updates.go.set()
    done = wait_for_status(mwaa, "AVAILABLE")

    assert done["LastUpdate"]["Status"] == "SUCCESS"
    assert done["RequirementsS3ObjectVersion"] == version
    assert done["AirflowConfigurationOptions"] == {"core.dag_file_processor_timeout": "150"}
    assert done["MaxWorkers"] == 4
    assert settings_text(project) == before  # the user's file is never rewritten
    overlay = yaml.safe_load((path / ".mwaa-local" / NAME / OVERLAY_FILE_NAME).read_text())
    assert overlay == {
        "AirflowConfigurationOptions": {"core.dag_file_processor_timeout": "150"},
        "MaxWorkers": 4,
        "RequirementsS3ObjectVersion": version,
    }
    loaded = load_environment(path)
    assert loaded.max_workers == 4 and loaded.requirements_s3_object_version == version
    assert set(loaded.overlay_keys) == set(overlay)
    [call] = updates.calls
    assert call["source"] == "UpdateEnvironment"
    assert call["wanted"]["requirements"].version_id == version


def test_a_failed_update_rolls_the_overlay_back(mwaa, project, updates):
    path, _ = project
    updates.fail = True
    first = mwaa.get_environment(Name=NAME)["Environment"]["RequirementsS3ObjectVersion"]

    mwaa.update_environment(Name=NAME, MinWorkers=2, MaxWorkers=3)
    updates.go.set()
    failed = wait_for_status(mwaa, "UPDATE_FAILED")

    assert failed["LastUpdate"]["Status"] == "FAILED"
    assert failed["LastUpdate"]["Error"]["ErrorCode"] == REQUIREMENTS_FAILED
    assert failed["RequirementsS3ObjectVersion"] == first
    assert (failed["MinWorkers"], failed["MaxWorkers"]) == (1, 10)
    assert not (path / ".mwaa-local" / NAME / OVERLAY_FILE_NAME).exists()


def test_what_cannot_apply_locally_is_refused_with_the_reason(mwaa, updates):
    with pytest.raises(mwaa.exceptions.ValidationException) as caught:
        mwaa.update_environment(
            Name=NAME,
            AirflowVersion="3.2.1",
            NetworkConfiguration={"SecurityGroupIds": ["sg-1"]},
            MaxWorkers=4,
        )

    message = caught.value.response["Error"]["Message"]
    assert "AirflowVersion cannot change locally" in message
    assert "`mwaa-local upgrade-check --to 3.2.1`" in message
    assert "NetworkConfiguration cannot change locally" in message
    assert updates.calls == []


def test_settings_mwaa_rejects_are_refused_before_anything_changes(mwaa, project, updates):
    with pytest.raises(mwaa.exceptions.ValidationException) as caught:
        mwaa.update_environment(Name=NAME, MinWorkers=5, MaxWorkers=3)
    with pytest.raises(mwaa.exceptions.ValidationException) as pinned:
        mwaa.update_environment(Name=NAME, RequirementsS3ObjectVersion="0123456789abcdef")
    with pytest.raises(mwaa.exceptions.ValidationException) as missing:
        mwaa.update_environment(Name=NAME, StartupScriptS3Path="startup/none.sh")

    message = caught.value.response["Error"]["Message"]
    assert "MinWorkers: 5 is greater than MaxWorkers (3)" in message
    assert "Unable to read version 0123456789abcdef" in pinned.value.response["Error"]["Message"]
    assert "holds no startup/none.sh" in missing.value.response["Error"]["Message"]
    assert updates.calls == []
    assert not (project[0] / ".mwaa-local" / NAME / OVERLAY_FILE_NAME).exists()


def test_an_update_of_a_stopped_environment_is_refused(mwaa, docker, updates):
    docker.set_status("exited")

    with pytest.raises(mwaa.exceptions.ValidationException) as caught:
        mwaa.update_environment(Name=NAME, MaxWorkers=4)

    assert "is UNAVAILABLE" in caught.value.response["Error"]["Message"]
    assert updates.calls == []


def test_cli_commands_run_in_the_api_server_container_with_its_environment(mwaa, server, docker):
    docker.api.handler = lambda argv: (3, b"out\n", b"err\n")
    token = mwaa.create_cli_token(Name=NAME)["CliToken"]

    status, stdout, stderr, headers = run_cli(server, token, "dags trigger mwaa_local_example")

    assert (status, stdout, stderr) == (200, "out\n", "err\n")
    assert headers["X-Mwaa-Local-Exit-Code"] == "3"
    [(container, command)] = docker.api.calls
    assert container == "id-api-server"
    assert command[:2] == ["bash", "-c"] and "component.env" in command[2]
    assert command[3:] == ["mwaa-local", "airflow", "dags", "trigger", "mwaa_local_example"]


def test_cli_commands_on_a_stopped_stack_get_503(mwaa, server, docker):
    token = mwaa.create_cli_token(Name=NAME)["CliToken"]
    docker.set_status("exited")

    status, _, stderr, _ = run_cli(server, token, "dags list")

    assert status == 503
    assert "mwaa-local start" in stderr


def test_invoke_rest_api_calls_airflow_as_the_admin(mwaa, project):
    airflow = project[1]

    dags = mwaa.invoke_rest_api(Name=NAME, Path="/dags", Method="GET", QueryParameters={"limit": 1})
    created = mwaa.invoke_rest_api(
        Name=NAME, Path="/variables", Method="POST", Body={"key": "k", "value": "v"}
    )
    deleted = mwaa.invoke_rest_api(Name=NAME, Path="/variables/k", Method="DELETE")
    with pytest.raises(mwaa.exceptions.RestApiClientException) as missing:
        mwaa.invoke_rest_api(Name=NAME, Path="/variables/k", Method="GET")

    assert dags["RestApiStatusCode"] == 200
    assert dags["RestApiResponse"]["dags"] == [{"dag_id": "one"}]
    assert created["RestApiStatusCode"] == 201
    assert deleted["RestApiStatusCode"] == 204 and "RestApiResponse" not in deleted
    assert missing.value.response["RestApiStatusCode"] == 404
    assert "was not found" in missing.value.response["RestApiResponse"]["detail"]
    paths = [p for _, p, _, _ in airflow.requests]
    assert paths[0] == "/auth/token" and paths.count("/auth/token") == 1  # one token, reused
    assert "/api/v2/dags?limit=1" in paths


def test_invoke_rest_api_refuses_paths_outside_the_rest_api(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.invoke_rest_api(Name=NAME, Path="/../auth/token", Method="GET")


def test_a_web_login_token_hands_over_airflows_own_session_cookies(mwaa, server, project):
    airflow = project[1]
    answer = mwaa.create_web_login_token(Name=NAME)
    assert answer["AirflowIdentity"] == "admin"

    connection = http.client.HTTPConnection(server.address, timeout=10)
    form = urllib.parse.urlencode({"token": answer["WebToken"]})
    connection.request(
        "POST",
        "/aws_mwaa/aws-console-sso",
        body=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()

    assert response.status == 303
    assert response.getheader("Location") == f"http://127.0.0.1:{airflow.port}/"
    cookies = sorted(response.msg.get_all("Set-Cookie"))
    assert cookies[0].startswith("_token=jwt-for-admin;") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("session=logged-in;") and "Path=/" in cookies[1]


def test_a_container_replaced_while_listed_is_listed_again(mwaa, docker):
    listing = docker.containers.list
    calls = []

    def vanishing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # what docker's SDK raises when it inspects a removed container
            raise NotFound("No such container: 4584")
        return listing(*args, **kwargs)

    docker.containers.list = vanishing

    assert mwaa.get_environment(Name=NAME)["Environment"]["Status"] == "AVAILABLE"
    assert len(calls) >= 2  # the first listing failed; the answer came from a later one


def test_the_environment_is_driven_through_a_whole_runtime(backend):
    """UpdateEnvironment, GetEnvironment and the CLI calls drive the backend's stack. On Docker
    it is the docker runtime, with every call of the Runtime interface: a bare compose stack
    had no airflow_components, so every UpdateEnvironment failed."""
    stack = backend.stack()
    calls = [name for name in vars(Runtime) if not name.startswith("_")]
    assert "airflow_components" in calls
    assert [name for name in calls if not hasattr(stack, name)] == []
    assert stack.name == "docker"
    assert stack.airflow_components() == airflow_services(stack.environment)
