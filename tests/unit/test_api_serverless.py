"""MWAA Serverless on the local endpoint through boto3's own `mwaa-serverless` client: workflows
created from the project's bucket folder or a local folder, validated, run in a background thread
through workflows/run.py (with a fake in-image runner that returns what
mwaa_local.container.workflow_run printed), and read back. Every answer is checked against
botocore's output shapes."""

import shutil
import time
from pathlib import Path

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from mwaa_local.api.server import ApiServer
from mwaa_local.api.serverless_workflows import WorkflowStore, definition_reader
from mwaa_local.spec.settings import load_environment
from mwaa_local.workflows import run as runs
from tests.unit.api_fakes import FakeBackend, environment
from tests.unit.test_workflows_run import STDERR, FakeRunner, report

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"
REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/workflows"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    bucket = tmp_path / "bucket" / "workflows"
    bucket.mkdir(parents=True)
    shutil.copy(FIXTURES / "s3_example.yaml", bucket / "s3_example.yaml")
    (tmp_path / "mwaa-local.yaml").write_text("Local:\n  Bucket: bucket\n")
    return tmp_path


@pytest.fixture
def served(project):
    env = load_environment(project)
    runner = FakeRunner(__import__("json").dumps(report()))
    ran: list[tuple] = []

    def run(file, conf, workflow_id, run_id):
        ran.append((file, conf, workflow_id, run_id))
        done = runs.run_workflow(env, file, runner, conf, workflow_id=workflow_id, run_id=run_id)
        return done.report

    store = WorkflowStore(
        project / ".mwaa-local" / "serverless", REGION, definition_reader(env), run
    )
    server = ApiServer(FakeBackend(environment("Env")), validate_responses=True, workflows=store)
    with server as running:
        yield running, store, ran
    assert running.shape_errors == []


def client(server: ApiServer):
    return boto3.client(
        "mwaa-serverless",
        region_name=REGION,
        endpoint_url=server.endpoint_url,
        aws_access_key_id="AKIAMWAALOCALTEST",
        aws_secret_access_key="local-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )


def create(serverless, bucket: str = "my-bucket", key: str = "workflows/s3_example.yaml"):
    return serverless.create_workflow(
        Name="simples3test",
        DefinitionS3Location={"Bucket": bucket, "ObjectKey": key},
        RoleArn=ROLE,
    )


def wait_for_run(serverless, arn: str, run_id: str) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = serverless.get_workflow_run(WorkflowArn=arn, RunId=run_id)
        if run["RunDetail"]["RunState"] in ("SUCCESS", "FAILED"):
            return run
        time.sleep(0.05)
    raise AssertionError("the run did not finish")


def test_a_workflow_is_created_from_the_bucket_run_and_read_back(served, project):
    server, store, ran = served
    serverless = client(server)
    created = create(serverless)
    arn = created["WorkflowArn"]
    assert arn.startswith(
        f"arn:aws:airflow-serverless:{REGION}:123456789012:workflow/simples3test-"
    )
    assert created["WorkflowStatus"] == "READY" and len(created["WorkflowVersion"]) == 32

    workflow = serverless.get_workflow(WorkflowArn=arn)
    assert workflow["Name"] == "simples3test" and workflow["RoleArn"] == ROLE
    assert workflow["ScheduleConfiguration"] == {"CronExpression": "0 0 * * *"}
    assert workflow["DefinitionS3Location"]["ObjectKey"] == "workflows/s3_example.yaml"
    listed = serverless.list_workflows()["Workflows"]
    assert [w["WorkflowArn"] for w in listed] == [arn]

    started = serverless.start_workflow_run(WorkflowArn=arn, OverrideParameters={"k": "v"})
    assert started["Status"] == "STARTING"
    run = wait_for_run(serverless, arn, started["RunId"])
    detail = run["RunDetail"]
    assert detail["RunState"] == "SUCCESS" and run["RunId"] == started["RunId"]
    assert detail["TaskInstances"] == ["0193-list_objects", "0193-create_object_list"]
    assert run["OverrideParameters"] == {"k": "v"}
    workflow_id = arn.rsplit("/", 1)[1]
    assert ran[0][1:] == ({"k": "v"}, workflow_id, started["RunId"])
    assert "list_objects:" in ran[0][0].read_text()  # the stored copy of the definition

    runs_listed = serverless.list_workflow_runs(WorkflowArn=arn)["WorkflowRuns"]
    assert [(r["RunId"], r["RunDetailSummary"]["Status"]) for r in runs_listed] == [
        (started["RunId"], "SUCCESS")
    ]
    tasks = serverless.list_task_instances(WorkflowArn=arn, RunId=started["RunId"])
    assert [
        (t["TaskInstanceId"], t["Status"], t["OperatorName"]) for t in tasks["TaskInstances"]
    ] == [
        ("0193-list_objects", "SUCCESS", "S3ListOperator"),
        ("0193-create_object_list", "SUCCESS", "S3CreateObjectOperator"),
    ]
    log = (
        project / ".mwaa-local" / load_environment(project).name / "aws" / "mwaa-serverless"
        / workflow_id / f"workflow_id={workflow_id}" / f"run_id={started['RunId']}"
        / "task_id=list_objects" / "attempt=1.log"
    )  # fmt: skip
    assert STDERR[2] in log.read_text()


def test_a_definition_from_a_local_folder(served, tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    shutil.copy(FIXTURES / "empty_workflow.yaml", folder / "w.yaml")
    serverless = client(served[0])
    arn = create(serverless, str(folder), "w.yaml")["WorkflowArn"]
    workflow = serverless.get_workflow(WorkflowArn=arn)
    assert workflow["Name"] == "simples3test" and workflow["WorkflowStatus"] == "READY"
    # In full, although the model types it as a string of at most 255 characters.
    definition = (FIXTURES / "empty_workflow.yaml").read_text()
    assert len(definition) > 255
    assert workflow["WorkflowDefinition"] == definition


def test_an_invalid_definition_is_refused_with_its_lines(served, project):
    shutil.copy(FIXTURES / "four_errors.yaml", project / "bucket" / "bad.yaml")
    serverless = client(served[0])
    with pytest.raises(serverless.exceptions.ValidationException) as caught:
        create(serverless, key="bad.yaml")
    message = caught.value.response["Error"]["Message"]
    assert message.count("s3://my-bucket/bad.yaml:") == 4
    assert serverless.list_workflows()["Workflows"] == []


def test_errors_are_the_services(served):
    serverless = client(served[0])
    with pytest.raises(serverless.exceptions.ValidationException):
        create(serverless, key="missing.yaml")
    create(serverless)
    with pytest.raises(serverless.exceptions.ConflictException):
        create(serverless)
    unknown = "arn:aws:airflow-serverless:eu-west-1:123456789012:workflow/nope-0123456789"
    with pytest.raises(serverless.exceptions.ResourceNotFoundException):
        serverless.get_workflow(WorkflowArn=unknown)
    arn = serverless.list_workflows()["Workflows"][0]["WorkflowArn"]
    with pytest.raises(serverless.exceptions.ResourceNotFoundException):
        serverless.get_workflow_run(WorkflowArn=arn, RunId="nope")


def test_a_run_that_cannot_start_fails_with_the_reason(project):
    def run(file, conf, workflow_id, run_id):
        raise runs.MwaaLocalError("The image mwaa-local/airflow:3.3.1 is not built.")

    env = load_environment(project)
    store = WorkflowStore(project / "serverless", REGION, definition_reader(env), run)
    with ApiServer(FakeBackend(), validate_responses=True, workflows=store) as server:
        serverless = client(server)
        arn = create(serverless)["WorkflowArn"]
        run_id = serverless.start_workflow_run(WorkflowArn=arn)["RunId"]
        detail = wait_for_run(serverless, arn, run_id)["RunDetail"]
        assert detail["RunState"] == "FAILED"
        assert detail["ErrorMessage"] == "The image mwaa-local/airflow:3.3.1 is not built."
        assert serverless.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"] == []
        assert server.shape_errors == []


def test_an_unsigned_request_is_refused(served):
    unsigned = boto3.client(
        "mwaa-serverless",
        region_name=REGION,
        endpoint_url=served[0].endpoint_url,
        config=Config(signature_version=botocore.UNSIGNED, retries={"total_max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        unsigned.list_workflows()
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_no_store_is_an_internal_error():
    with ApiServer(FakeBackend(), validate_responses=True) as server:
        serverless = client(server)
        with pytest.raises(serverless.exceptions.InternalServerException):
            serverless.list_workflows()
