"""An s3:// bucket through a local S3 endpoint (moto's server mode): real boto3 calls over HTTP
from the host (object versions, pins) and from the bucket-sync container (DAG sync)."""

import json
import os
import time
from pathlib import Path

import boto3
import pytest

from tests.e2e.stacks import REPO, make_project

pytestmark = pytest.mark.e2e

BUCKET = "airflow-e2e-bucket"
# Credentials only this test uses, to check they are never written anywhere.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAMWAALOCALE2E",
    "AWS_SECRET_ACCESS_KEY": "mwaa-local-e2e-secret-never-written",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PROBE_DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG("s3_probe", description="{description}", schedule=None,
         start_date=pendulum.datetime(2024, 1, 1)):
    EmptyOperator(task_id="noop")
"""


def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.5)


def worker_dag(docker_engine, project, name: str) -> str | None:
    label = f"com.docker.compose.project={project.name.lower()}"
    [worker] = docker_engine.containers.list(
        filters={"label": [label, "com.docker.compose.service=worker"]}
    )
    code, output = worker.exec_run(["cat", f"/usr/local/airflow/dags/{name}"])
    return output.decode() if code == 0 else None


def test_an_s3_bucket_with_pinned_versions_and_dag_sync(
    airflow3_image, docker_engine, s3_endpoint, monkeypatch
):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    example = (REPO / "dags" / "mwaa_local_example.py").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="env/dags/mwaa_local_example.py", Body=example)
    key = "env/requirements/requirements.txt"
    v1 = s3.put_object(Bucket=BUCKET, Key=key, Body=b"# version one\n")["VersionId"]
    v2 = s3.put_object(Bucket=BUCKET, Key=key, Body=b"# version two\n")["VersionId"]

    project = make_project(
        f"e2e-s3-{os.getpid()}",
        airflow3_image.version,
        options=None,
        Bucket=f"s3://{BUCKET}/env",
        # moto serves STS too: the credentials service hands out a session of these test keys.
        AwsEndpointUrl=s3_endpoint,
    )
    settings = project.path / "mwaa-local.yaml"
    settings.write_text(settings.read_text() + f"RequirementsS3ObjectVersion: '{v1}'\n")
    try:
        started = project.cli("start")
        assert started.returncode == 0, started.output
        status = project.status()
        assert status["Status"] == "AVAILABLE"
        assert status["Applied"]["RequirementsS3Path"].endswith(f"@{v1[:12]}")
        assert status["PendingChanges"] == []  # pinned: v2 is not pending
        versions = json.loads(project.cli("versions", "--json").stdout)
        assert [v["VersionId"] for v in versions["Recorded"]] == [v1]
        in_bucket = {v["VersionId"]: v["IsLatest"] for v in versions["InBucket"]}
        assert in_bucket == {v1: False, v2: True}

        # DAG sync from S3: new, changed and deleted objects reach the containers and Airflow.
        dag_key = "env/dags/s3_probe.py"
        s3.put_object(Bucket=BUCKET, Key=dag_key, Body=PROBE_DAG.format(description="v1"))
        wait_until(lambda: worker_dag(docker_engine, project, "s3_probe.py"), timeout=10)
        wait_until(lambda: project.dag_description("s3_probe") == "v1", timeout=40)
        s3.put_object(Bucket=BUCKET, Key=dag_key, Body=PROBE_DAG.format(description="v2"))
        wait_until(lambda: project.dag_description("s3_probe") == "v2", timeout=20)
        s3.delete_object(Bucket=BUCKET, Key=dag_key)
        wait_until(lambda: worker_dag(docker_engine, project, "s3_probe.py") is None, timeout=10)
        assert worker_dag(docker_engine, project, "mwaa_local_example.py")

        # Unpinned, the newest version is pending, and update applies it.
        settings.write_text(
            settings.read_text().replace(f"RequirementsS3ObjectVersion: '{v1}'\n", "")
        )
        pending = project.status()["PendingChanges"]
        assert [c["what"] for c in pending] == ["RequirementsS3Path"]
        assert pending[0]["wanted"].endswith(f"@{v2[:12]}")
        updated = project.cli("update")
        assert updated.returncode == 0, updated.output
        assert project.status()["Applied"]["RequirementsS3Path"].endswith(f"@{v2[:12]}")

        # A one-off container checks the bucket's DAG folder, downloaded from S3 (here through
        # upgrade-check, whose lint does not apply within Airflow 3).
        checked = project.cli("upgrade-check", "--to", airflow3_image.version, "--json")
        assert checked.returncode == 0, checked.output
        report = json.loads(checked.stdout)
        assert [f["file"] for f in report["dag_check"]["files"]] == ["mwaa_local_example.py"]
        assert report["lint"]["applies"] is False and report["not_run"] == []

        # The test keys reached the credentials service only, never a file or a log.
        secret = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        for path in Path(project.path).rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path
        logs = project.cli("logs", "--tail", "all")
        assert secret not in logs.output
    finally:
        project.destroy()
