"""`mwaa-local dags check` on real DAG files, in a one-off container from each image: import
errors with their line, an import timeout, duplicate dag_ids, cycles, a broken plugin, JUnit XML."""

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.e2e.stacks import make_project

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def problems(report: dict) -> dict[str, list[tuple[str, int | None]]]:
    return {
        Path(entry["file"]).name: [(e["kind"], e["line"]) for e in entry["errors"]]
        for entry in report["files"]
    }


@pytest.mark.parametrize("image", ["airflow2_image", "airflow3_image"])
def test_dags_check_reports_each_kind_of_problem(image, request, tmp_path):
    built = request.getfixturevalue(image)
    project = make_project(
        f"e2e-check-{built.version.replace('.', '')}-{os.getpid()}",
        built.version,
        options={"core.dagbag_import_timeout": "5"},
    )
    try:
        shutil.copytree(FIXTURES / "dags_check_plugins", project.path / "plugins")
        (project.path / "plugins").chmod(0o755)
        dags = project.path / "fixture_dags"
        shutil.copytree(FIXTURES / "dags_check", dags, ignore=shutil.ignore_patterns("ruff.toml"))
        for path in (dags, *dags.iterdir()):
            path.chmod(0o755 if path.is_dir() else 0o644)
        junit = tmp_path / "dags.xml"
        result = project.cli("dags", "check", str(dags), "--json", "--junit-xml", str(junit))
        assert result.returncode == 1, result.output
        report = json.loads(result.stdout)
        found = problems(report)

        assert found["syntax_error.py"] == [("import", 8)]
        assert found["missing_package.py"][0][0] == "import"
        assert found["slow_import.py"][0][0] == "timeout"
        assert ("cycle", 11) in found["cycle.py"]
        assert found["duplicate_a.py"][0][0] == "duplicate"
        assert found["duplicate_b.py"][0][0] == "duplicate"
        assert report["duplicates"] == {"duplicated_dag": ["duplicate_a.py", "duplicate_b.py"]}
        assert found["taskflow_v2.py"] == []
        # airflow.sdk exists on Airflow 3 only.
        assert (found["sdk_v3.py"] == []) == (built.version.startswith("3"))
        assert report["files"][0]["file"].endswith("slow_import.py")  # slowest first
        assert report["import_timeout"] == 5
        assert "broken_plugin" in json.dumps(report["plugin_errors"])

        suite = ET.parse(junit).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        cases = suite.findall("testcase")
        failed = [c for c in cases if c.find("failure") is not None]
        assert int(suite.get("tests")) == len(cases) >= 9
        assert int(suite.get("failures")) == len(failed)
        assert {Path(c.get("name")).name for c in failed} >= {"syntax_error.py", "slow_import.py"}
    finally:
        project.destroy()
