"""MWAA Serverless workflows for real: `workflows convert` with AWS's converter (downloaded by
uv from the package index), and mwaa_local.container.workflow_run in the Airflow 3 image with
dag-factory added to a temporary folder."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from mwaa_local.container.workflow_run import DAG_FACTORY_REQUIREMENT
from tests.e2e.conftest import run_cli

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


def run_workflow(image: str, workflow: str) -> tuple[int, dict, str]:
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


def test_a_workflow_that_does_not_parse_fails_with_dag_factorys_message(airflow3_image):
    code, report, _ = run_workflow(airflow3_image.tag, "unknown_operator.yaml")
    assert code == 1
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert report["RunDetail"]["ErrorMessage"] == (
        "ModuleNotFoundError: No module named 'airflow.providers.amazon.aws.operators.nowhere'"
    )
    assert report["TaskInstances"] == []
