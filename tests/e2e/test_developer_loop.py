"""The DAG developer loop on a running Airflow 3 stack: connections, variables and pools seeded
from airflow-objects.yaml at start, exported back without secrets; `dags check` in the running
scheduler."""

import json
import os

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
    finally:
        project.destroy()
