"""MWAA Serverless workflows for real: `workflows convert` with AWS's converter (downloaded by
uv from the package index), and mwaa_local.container.workflow_run in the Airflow 3 image with
dag-factory added to a temporary folder."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from mwaa_local.container.workflow_run import DAG_FACTORY_REQUIREMENT
from tests.aws_cli import run_aws
from tests.e2e.conftest import run_cli
from tests.e2e.stacks import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "workflows"
IN_IMAGE = "/usr/local/mwaa-local/python/mwaa_local"


def test_convert_writes_the_yaml_that_validates(tmp_path):
    output = tmp_path / "simples3test.yaml"
    result = run_cli("workflows", "convert", str(FIXTURES / "s3_dag.py"), "--output", str(output))
    assert result.returncode == 0, result.output
    assert f"Wrote {output}" in result.stdout
    assert "OK: 1 file valid for MWAA Serverless" in result.stdout
    workflow = yaml.safe_load(output.read_text())["simples3test"]
    assert workflow["schedule"] == "0 0 * * *"
    assert workflow["tasks"]["create_object_list"]["dependencies"] == ["list_objects"]
    again = run_cli("workflows", "convert", str(FIXTURES / "s3_dag.py"), "--output", str(output))
    assert again.returncode == 1 and "already exists" in again.stderr


def run_workflow(image: str, workflow: str, *docker_args: str) -> tuple[int, dict, str]:
    script = (
        f"uv pip install --quiet --no-deps --target /tmp/dag-factory {DAG_FACTORY_REQUIREMENT}"
        " && PYTHONPATH=/tmp/dag-factory:$PYTHONPATH"
        f" python -m mwaa_local.container.workflow_run /workflows/{workflow}"
    )
    done = subprocess.run(
        [
            "docker", "run", "--rm", "--entrypoint", "bash",
            "-e", "SSL_CERT_FILE=/usr/local/mwaa-local/ca-certificates.crt",
            "-v", f"{ROOT / 'mwaa_local'}:{IN_IMAGE}:ro",
            "-v", f"{FIXTURES}:/workflows:ro",
            *docker_args,
            image, "-c", script,
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return done.returncode, json.loads(lines[-1]), done.stderr


def test_a_workflow_runs_in_the_airflow_3_image(airflow3_image):
    code, report, stderr = run_workflow(airflow3_image.tag, "empty_workflow.yaml")
    assert code == 0, stderr[-3000:]
    detail = report["RunDetail"]
    assert detail["RunState"] == "SUCCESS" and detail["ErrorMessage"] is None
    tasks = report["TaskInstances"]
    assert [t["TaskId"] for t in tasks] == ["start", "middle", "finish"]
    assert {t["Status"] for t in tasks} == {"SUCCESS"}
    assert {t["OperatorName"] for t in tasks} == {"EmptyOperator"}
    assert detail["TaskInstances"] == [t["TaskInstanceId"] for t in tasks]


def test_each_task_runs_in_its_own_process(airflow3_image):
    """A task that ends its interpreter (os._exit) fails alone, as a task's container would: in
    one process for all tasks it would take the run and its report with it. A deferrable
    sensor's trigger runs in the runner and ends the task (end_from_trigger)."""
    code, report, stderr = run_workflow(airflow3_image.tag, "task_exits.yaml")
    assert code == 1, stderr[-3000:]
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert {t["TaskId"]: t["Status"] for t in report["TaskInstances"]} == {
        "exits": "FAILED",
        "survivor": "SUCCESS",
        "after_survivor": "SUCCESS",
        "waits": "SUCCESS",
    }
    assert "task exits's process exited with 3" in stderr
    assert "running waits's trigger" in stderr


def test_a_workflow_that_does_not_parse_fails_with_dag_factorys_message(airflow3_image):
    code, report, _ = run_workflow(airflow3_image.tag, "unknown_operator.yaml")
    assert code == 1
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert report["RunDetail"]["ErrorMessage"] == (
        "ModuleNotFoundError: No module named 'airflow.providers.amazon.aws.operators.nowhere'"
    )
    assert report["TaskInstances"] == []


BUCKET = "amzn-s3-demo-bucket"  # the converted workflow's


@pytest.fixture
def s3():
    """moto's S3 on all interfaces, reached from the container through the host gateway."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=port, verbose=False)
    server.start()
    # moto keeps its state per process, across servers: start from none.
    urllib.request.urlopen(
        urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    ).close()
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    client = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", **credentials
    )
    docker_args = [
        "--add-host", "host.docker.internal:host-gateway",
        "-e", f"AWS_ENDPOINT_URL=http://host.docker.internal:{port}",
        "-e", "AWS_ACCESS_KEY_ID=testing", "-e", "AWS_SECRET_ACCESS_KEY=testing",
        "-e", "AWS_DEFAULT_REGION=us-east-1", "-e", "AWS_EC2_METADATA_DISABLED=true",
    ]  # fmt: skip
    try:
        yield client, docker_args
    finally:
        server.stop()


def test_the_converted_s3_workflow_lists_and_writes_objects(airflow3_image, s3):
    client, docker_args = s3
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"a")
    # Its start_date is 2099 (MWAA Serverless wants a future one): the run ignores it.
    code, report, stderr = run_workflow(airflow3_image.tag, "converted_s3.yaml", *docker_args)
    assert code == 0, stderr[-3000:]
    assert [(t["TaskId"], t["Status"], t["OperatorName"]) for t in report["TaskInstances"]] == [
        ("list_objects", "SUCCESS", "S3ListOperator"),
        ("create_object_list", "SUCCESS", "S3CreateObjectOperator"),
    ]
    written = client.get_object(Bucket=BUCKET, Key="list.txt")["Body"].read()
    assert written == b"['a.txt']"  # list_objects' XCom, rendered into data


def test_a_failing_task_fails_the_run_and_its_downstream(airflow3_image, s3):
    _, docker_args = s3  # no bucket: list_objects fails
    code, report, _ = run_workflow(airflow3_image.tag, "converted_s3.yaml", *docker_args)
    assert code == 1
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert report["RunDetail"]["ErrorMessage"] == "Workflow execution failed"
    assert [(t["TaskId"], t["Status"]) for t in report["TaskInstances"]] == [
        ("list_objects", "FAILED"),
        ("create_object_list", "UPSTREAM_FAILED"),
    ]


def test_workflows_run_runs_the_s3_example_and_keeps_the_task_logs(
    airflow3_image, s3, tmp_path, docker_engine
):
    """`mwaa-local workflows run` through the CLI, no stack: the one-off container gets moto as
    its endpoint and the shell's (test) keys through a credentials service for the run alone."""
    client, docker_args = s3
    port = next(a for a in docker_args if a.startswith("AWS_ENDPOINT_URL=")).rsplit(":", 1)[1]
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"a")
    # The converter's complete form of the S3 example (s3_example.yaml leaves out s3_key).
    workflow = tmp_path / "converted_s3.yaml"
    workflow.write_text((FIXTURES / "converted_s3.yaml").read_text())
    name = f"wfrun{os.getpid()}"
    (tmp_path / "mwaa-local.yaml").write_text(
        yaml.safe_dump(
            {
                "Name": name,
                "AirflowVersion": airflow3_image.version,
                "Local": {
                    "BaseImage": airflow3_image.base_image,
                    "AwsEndpointUrl": f"http://127.0.0.1:{port}",
                    "Region": "us-east-1",
                },
            }
        )
    )
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    args = ["--project-dir", str(tmp_path), "workflows", "run", str(workflow)]
    result = run_cli(*args, "--json", env=env, timeout=900)
    assert result.returncode == 0, result.output[-4000:]
    report = json.loads(result.stdout)
    assert report["RunDetail"]["RunState"] == "SUCCESS"
    assert [(t["TaskId"], t["Status"]) for t in report["TaskInstances"]] == [
        ("list_objects", "SUCCESS"),
        ("create_object_list", "SUCCESS"),
    ]
    written = client.get_object(Bucket=BUCKET, Key="list.txt")["Body"].read()
    assert written == b"['a.txt']"
    logs = sorted((tmp_path / ".mwaa-local" / name / "aws" / "mwaa-serverless").rglob("*.log"))
    run_id = report["RunId"]
    assert [(p.parent.name, p.parent.parent.name, p.name) for p in logs] == [
        ("task_id=create_object_list", f"run_id={run_id}", "attempt=1.log"),
        ("task_id=list_objects", f"run_id={run_id}", "attempt=1.log"),
    ]
    assert "starting task_id=list_objects" in logs[1].read_text()
    # The keys went to the credentials service only, which is gone with its network.
    assert not docker_engine.containers.list(
        all=True, filters={"label": "io.github.mwaa-local.ephemeral"}
    )
    assert not docker_engine.networks.list(names=[f"{name}_workflow_credentials"])


def aws_cli(endpoint_url: str, *args: str) -> dict:
    """`aws mwaa-serverless ARGS --endpoint-url URL` (no host prefixes to turn off), its JSON
    answer."""
    done = run_aws("mwaa-serverless", *args, endpoint_url=endpoint_url)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def until_done(get_run) -> dict:
    """GetWorkflowRun (through `get_run`) until the run has ended; the states seen on the way."""
    deadline = time.monotonic() + 600
    seen: list[str] = []
    while True:
        run = get_run()
        state = run["RunDetail"]["RunState"]
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ("SUCCESS", "FAILED"):
            run["_seen"] = seen
            return run
        assert time.monotonic() < deadline, seen
        time.sleep(2)


@pytest.fixture
def serverless_api(airflow3_image, s3, tmp_path):
    """`mwaa-local api` for a project with no stack: its workflows read from the project's
    bucket folder; their runs get moto as the endpoint and, through a credentials service for
    each run, the default profile of the user's ~/.aws (the API process itself holds no key)."""
    client, docker_args = s3
    port = next(a for a in docker_args if a.startswith("AWS_ENDPOINT_URL=")).rsplit(":", 1)[1]
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    project = tmp_path / "project"
    (project / "bucket").mkdir(parents=True)
    name = f"wfapi{os.getpid()}"
    (project / "mwaa-local.yaml").write_text(
        yaml.safe_dump(
            {
                "Name": name,
                "AirflowVersion": airflow3_image.version,
                "Local": {
                    "BaseImage": airflow3_image.base_image,
                    "AwsEndpointUrl": f"http://127.0.0.1:{port}",
                    "Region": "us-east-1",
                    "Credentials": "profile",
                    "Bucket": "bucket",
                    "ApiPort": free_port(),
                },
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    log = (tmp_path / "api.log").open("w")
    api = subprocess.Popen(
        [sys.executable, "-m", "mwaa_local.cli", "--project-dir", str(project), "api"],
        env={**env, "HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        state = project / ".mwaa-local" / name / "api.json"
        deadline = time.monotonic() + 60
        while not state.is_file():
            assert api.poll() is None, (tmp_path / "api.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "api.log").read_text()
            time.sleep(0.2)
        endpoint = f"http://127.0.0.1:{json.loads(state.read_text())['port']}"
        yield client, project, endpoint, project / ".mwaa-local" / name
    finally:
        api.terminate()
        api.wait(timeout=30)
        log.close()


def test_the_workflow_api_runs_workflows_for_boto3_and_the_aws_cli(serverless_api):
    """CreateWorkflow, StartWorkflowRun, GetWorkflowRun and ListTaskInstances on the local
    endpoint: boto3 runs the S3 example, which writes its object to moto; the aws CLI runs it
    against a bucket that is not there, and reads the failure."""
    s3_client, project, endpoint, state = serverless_api
    s3_client.create_bucket(Bucket=BUCKET)
    s3_client.put_object(Bucket=BUCKET, Key="a.txt", Body=b"a")
    definition = (FIXTURES / "converted_s3.yaml").read_text()
    (project / "bucket" / "s3.yaml").write_text(definition)
    (project / "bucket" / "missing.yaml").write_text(
        definition.replace(f"bucket: {BUCKET}", "bucket: no-such-bucket")
    )
    role = "arn:aws:iam::123456789012:role/workflows"
    serverless = boto3.client(
        "mwaa-serverless",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="AKIAMWAALOCALE2E",
        aws_secret_access_key="any-secret",
    )

    arn = serverless.create_workflow(
        Name="s3example",
        DefinitionS3Location={"Bucket": "my-bucket", "ObjectKey": "s3.yaml"},
        RoleArn=role,
    )["WorkflowArn"]
    run_id = serverless.start_workflow_run(WorkflowArn=arn)["RunId"]
    run = until_done(lambda: serverless.get_workflow_run(WorkflowArn=arn, RunId=run_id))
    assert run["RunDetail"]["RunState"] == "SUCCESS", run
    assert run["_seen"][-2:] == ["RUNNING", "SUCCESS"]
    tasks = serverless.list_task_instances(WorkflowArn=arn, RunId=run_id)["TaskInstances"]
    assert [(t["OperatorName"], t["Status"]) for t in tasks] == [
        ("S3ListOperator", "SUCCESS"),
        ("S3CreateObjectOperator", "SUCCESS"),
    ]
    assert s3_client.get_object(Bucket=BUCKET, Key="list.txt")["Body"].read() == b"['a.txt']"

    cli_arn = aws_cli(
        endpoint, "create-workflow", "--name", "missingbucket", "--role-arn", role,
        "--definition-s3-location", "Bucket=my-bucket,ObjectKey=missing.yaml",
    )["WorkflowArn"]  # fmt: skip
    # GetWorkflow gives the definition in full, past the model's 255 characters.
    got = aws_cli(endpoint, "get-workflow", "--workflow-arn", cli_arn)
    assert got["WorkflowDefinition"] == (project / "bucket" / "missing.yaml").read_text()
    cli_run = aws_cli(endpoint, "start-workflow-run", "--workflow-arn", cli_arn)["RunId"]
    failed = until_done(
        lambda: aws_cli(
            endpoint, "get-workflow-run", "--workflow-arn", cli_arn, "--run-id", cli_run
        )
    )
    assert failed["RunDetail"]["RunState"] == "FAILED"
    assert failed["RunDetail"]["ErrorMessage"] == "Workflow execution failed"
    listed = aws_cli(
        endpoint, "list-task-instances", "--workflow-arn", cli_arn, "--run-id", cli_run
    )["TaskInstances"]
    assert [(t["OperatorName"], t["Status"]) for t in listed] == [
        ("S3ListOperator", "FAILED"),
        ("S3CreateObjectOperator", "UPSTREAM_FAILED"),
    ]
    workflow_id = cli_arn.rsplit("/", 1)[1]
    log = (
        state / "aws" / "mwaa-serverless" / workflow_id / f"workflow_id={workflow_id}"
        / f"run_id={cli_run}" / "task_id=list_objects" / "attempt=1.log"
    )  # fmt: skip
    assert "NoSuchBucket" in log.read_text()
