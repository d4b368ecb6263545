"""The DAG developer loop: connections, variables and pools seeded from airflow-objects.yaml at
start and exported back without secrets, `dags check` and `dags test` in a running Airflow 3
stack; `dags test` and `mwaa-local pytest` in one-off Airflow 2 containers."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.stacks import make_project

pytestmark = pytest.mark.e2e

SECRET = "e2e-password-never-echoed"
OBJECTS = f"""
connections:
  warehouse:
    conn_type: postgres
    host: db.example.com
    port: 5432
    login: etl
    password: {SECRET}
  public_api: "http://api.example.com:8080/v1?timeout=30"
variables:
  stage: dev
  limits: {{rows: 1000}}
pools:
  etl: {{slots: 3, description: "ETL jobs"}}
"""
FAILING_DAG = """
import pendulum
from airflow import DAG
from airflow.operators.python import PythonOperator


def explode(**context):
    raise ValueError("mwaa-local e2e: this task fails on purpose, conf=" + str(context["params"]))


with DAG("failing_dag", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    PythonOperator(task_id="explode", python_callable=explode)
"""
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_objects_are_seeded_at_start_and_exported_without_secrets(airflow3_image):
    project = make_project(f"e2e-loop-{os.getpid()}", airflow3_image.version)
    try:
        (project.path / "airflow-objects.yaml").write_text(OBJECTS)
        started = project.cli("start")
        assert started.returncode == 0, started.output
        assert "5 created, 0 updated, 0 unchanged" in started.stdout, started.stdout
        assert SECRET not in started.output

        api = project.api()
        assert api.request("GET", "/variables/stage")["value"] == "dev"
        assert json.loads(api.request("GET", "/variables/limits")["value"]) == {"rows": 1000}
        assert api.request("GET", "/pools/etl")["slots"] == 3
        connection = api.request("GET", "/connections/warehouse")
        assert connection["host"] == "db.example.com" and connection["port"] == 5432

        again = project.cli("objects", "apply")
        assert again.returncode == 0, again.output
        assert "0 created, 0 updated, 5 unchanged" in again.stdout

        exported = project.cli("objects", "export")
        assert exported.returncode == 0, exported.output
        assert SECRET not in exported.stdout
        data = yaml.safe_load(exported.stdout)
        assert data["variables"]["stage"] == "dev"
        assert data["pools"]["etl"]["slots"] == 3
        assert "password" not in data["connections"]["warehouse"]

        checked = project.cli("dags", "check", "--json")
        assert checked.returncode == 0, checked.output
        report = json.loads(checked.stdout)
        assert "scheduler" in report["where"]
        [example] = [f for f in report["files"] if f["file"].endswith("mwaa_local_example.py")]
        assert example["dag_ids"] == ["mwaa_local_example"] and example["errors"] == []

        passed = project.cli("dags", "test", "mwaa_local_example")
        assert passed.returncode == 0, passed.output
        (project.path / "dags" / "failing_dag.py").write_text(FAILING_DAG)
        failed = project.cli("dags", "test", "failing_dag", "--conf", '{"run": 7}')
        assert failed.returncode == 1, failed.output
        assert "this task fails on purpose" in failed.output
    finally:
        project.destroy()


def test_dags_test_and_pytest_in_one_off_airflow2_containers(airflow2_image):
    project = make_project(f"e2e-oneoff-{os.getpid()}", airflow2_image.version)
    try:
        (project.path / "dags" / "failing_dag.py").write_text(FAILING_DAG)
        failed = project.cli("dags", "test", "failing_dag", "--conf", '{"run": 7}')
        assert failed.returncode == 1, failed.output
        assert "this task fails on purpose, conf={'run': 7}" in failed.output
        bad = project.cli("dags", "test", "failing_dag", "--conf", "{not json")
        assert bad.returncode == 2 and "--conf" in bad.output

        shutil.copytree(FIXTURES / "pytest_project" / "tests", project.path / "tests")
        for path in (project.path / "tests", *(project.path / "tests").rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (project.path / "dags" / "failing_dag.py").unlink()
        passed = project.cli("pytest", "-q")
        assert passed.returncode == 0, passed.output
        assert "2 passed" in passed.output
        broken_dag = "import airflow  # a dag file\nimport no_such_mod\n"
        (project.path / "dags" / "broken.py").write_text(broken_dag)
        broken = project.cli("pytest", "-q")
        assert broken.returncode == 1, broken.output
        assert "test_dags_import_without_errors" in broken.output
    finally:
        project.destroy()
