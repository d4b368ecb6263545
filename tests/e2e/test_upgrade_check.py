"""`mwaa-local upgrade-check --to 3.0.6` on a project written for Airflow 2.10.3: the target
image is built when missing, and the report names the removed imports and context variables."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import BASE_IMAGES, run_cli

pytestmark = pytest.mark.e2e

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade_project"


def test_upgrade_check_from_2_10_3_to_3_0_6(docker_engine, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    for path in (project, *project.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)
    settings = yaml.safe_load((project / "mwaa-local.yaml").read_text())
    settings["Local"] = {"BaseImage": BASE_IMAGES["3.12"]}  # 3.0.6 runs on Python 3.12
    (project / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))

    result = run_cli("--project-dir", str(project), "upgrade-check", "--to", "3.0.6", "--json")
    assert result.returncode == 1, result.output
    report = json.loads(result.stdout)
    assert report["to"] == "3.0.6" and report["in_place"]["allowed"] is False
    assert report["requirements_test"]["ok"] is True
    assert report["dag_check"]["ok"] is False
    assert "airflow.contrib" in json.dumps(report["dag_check"]["files"])

    findings = report["lint"]["findings"]
    removed = {(f["code"], f["line"]) for f in findings if f["code"] == "AIR301"}
    text = json.dumps(findings)
    for name in ("execution_date", "schedule_interval", "days_ago", "airflow.contrib"):
        assert name in text, name
    assert len(removed) >= 4
    assert any(f["code"] == "AIR302" and "DummyOperator" in f["message"] for f in findings)
    assert all(f["file"].endswith("legacy_dag.py") for f in findings)
