"""The DAG check's report on the host: table, JSON, JUnit XML and exit code."""

import copy
import io
import json
import xml.etree.ElementTree as ET

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from mwaa_local.cli import commands_dags
from mwaa_local.cli.commands_settings import Project
from mwaa_local.dags import report as rendering
from mwaa_local.runtime.one_off import CommandRun

TIMEOUT_MESSAGE = (
    "AirflowTaskTimeout: DagBag import timeout for /usr/local/airflow/dags/slow_import.py after "
    "5.0s.\nPlease take a look at these docs to improve your DAG import time:\n* https://x"
)

# Abridged from a real 3.3.1 run over tests/fixtures/dags_check.
REPORT = {
    "ok": False,
    "airflow_version": "3.3.1",
    "dag_folder": "/usr/local/airflow/dags",
    "path": "/usr/local/airflow/dags",
    "plugins_folder": "/usr/local/airflow/plugins",
    "import_timeout": 5.0,
    "files": [
        {
            "file": "slow_import.py",
            "path": "/usr/local/airflow/dags/slow_import.py",
            "seconds": 5.003,
            "dag_ids": [],
            "tasks": 0,
            "errors": [
                {
                    "kind": "timeout",
                    "line": 9,
                    "message": TIMEOUT_MESSAGE,
                    "traceback": "Traceback (most recent call last):\n  File ...",
                }
            ],
            "warnings": [],
        },
        {
            "file": "taskflow_v2.py",
            "path": "/usr/local/airflow/dags/taskflow_v2.py",
            "seconds": 0.028,
            "dag_ids": ["taskflow_v2"],
            "tasks": 2,
            "errors": [],
            "warnings": ["taskflow_v2.py:4: DeprecatedImportWarning: airflow.decorators.dag"],
        },
        {
            "file": "duplicate_b.py",
            "path": "/usr/local/airflow/dags/duplicate_b.py",
            "seconds": 0.002,
            "dag_ids": ["duplicated_dag"],
            "tasks": 0,
            "errors": [
                {
                    "kind": "duplicate",
                    "line": 6,
                    "message": "dag_id 'duplicated_dag' is also defined in duplicate_a.py",
                    "traceback": None,
                }
            ],
            "warnings": [],
        },
        {
            "file": "syntax_error.py",
            "path": "/usr/local/airflow/dags/syntax_error.py",
            "seconds": 0.001,
            "dag_ids": [],
            "tasks": 0,
            "errors": [
                {"kind": "import", "line": 8, "message": "SyntaxError: invalid syntax"},
                {"kind": "cycle", "line": None, "message": "AirflowDagCycleException: x"},
            ],
            "warnings": [],
        },
    ],
    "plugin_errors": [
        {
            "file": "/usr/local/airflow/plugins/broken_plugin.py",
            "line": None,
            "message": "broken_plugin fails on purpose",
        }
    ],
    "duplicates": {"duplicated_dag": ["duplicate_a.py", "duplicate_b.py"]},
}

CLEAN = {
    **REPORT,
    "ok": True,
    "files": [REPORT["files"][1]],
    "plugin_errors": [],
    "duplicates": {},
}


def rendered(renderable) -> str:
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_exit_code():
    assert rendering.exit_code(REPORT) == 1
    assert rendering.exit_code(CLEAN) == 0
    assert rendering.exit_code({"ok": False, "fatal": "plugins.zip: bad"}) == 1


def test_table_has_one_row_per_file_slowest_first():
    text = rendered(rendering.files_table(REPORT))
    assert all(header in text for header in ("File", "Seconds", "DAGs", "Problems"))
    rows = [line for line in text.splitlines() if ".py" in line]
    assert [row.split()[1] for row in rows] == [
        "slow_import.py",
        "taskflow_v2.py",
        "duplicate_b.py",
        "syntax_error.py",
    ]
    assert rows[0].split()[3] == "5.003"
    assert "timeout, line 9: AirflowTaskTimeout: DagBag import timeout" in text
    assert "Please take a look" not in text  # first line only
    assert "duplicate, line 6: dag_id 'duplicated_dag' is also defined in duplicate_a.py" in text
    assert "import, line 8: SyntaxError: invalid syntax" in text
    assert "cycle: AirflowDagCycleException: x" in text  # no line known
    assert "ok" in text and "1 warning(s)" in text


def test_summary():
    assert rendering.summary(REPORT) == (
        "FAILED: 4 file(s), 2 DAG(s), 3 file(s) with problems, 1 plugin error(s) "
        "(Airflow 3.3.1, import timeout 5 s)"
    )
    assert rendering.summary(CLEAN).startswith("OK: 1 file(s), 1 DAG(s), 0 file(s)")
    assert rendering.summary({"ok": False, "fatal": "plugins.zip: bad"}) == (
        "FAILED: plugins.zip: bad"
    )
    assert rendering.plugin_lines(REPORT) == [
        "/usr/local/airflow/plugins/broken_plugin.py: broken_plugin fails on purpose"
    ]


def parse(report, tmp_path) -> ET.Element:
    path = tmp_path / "out" / "junit.xml"
    rendering.write_junit_xml(report, path)
    assert path.read_text().startswith("<?xml version='1.0' encoding='utf-8'?>")
    return ET.parse(path).getroot()


def test_junit_xml_one_testcase_per_file_and_a_failure_per_problem(tmp_path):
    root = parse(REPORT, tmp_path)
    assert root.tag == "testsuites"
    [suite] = root.findall("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "slow_import.py",
        "taskflow_v2.py",
        "duplicate_b.py",
        "syntax_error.py",
        "plugins",
    ]
    for element in (root, suite):
        assert element.get("tests") == "5"
        assert element.get("failures") == "4"  # testcases that fail
        assert element.get("errors") == "0"
        assert float(element.get("time")) == pytest.approx(5.034)
    slow = cases[0]
    assert slow.get("classname") == "dags" and slow.get("time") == "5.003"
    assert slow.get("file") == "/usr/local/airflow/dags/slow_import.py"
    [failure] = slow.findall("failure")
    assert failure.get("type") == "timeout"
    assert failure.get("message").startswith("timeout, line 9: AirflowTaskTimeout")
    assert "\n" not in failure.get("message")
    assert failure.text.startswith("/usr/local/airflow/dags/slow_import.py:9: AirflowTaskTimeout")
    assert "Traceback (most recent call last)" in failure.text
    assert cases[1].findall("failure") == []
    assert [f.get("type") for f in cases[3].findall("failure")] == ["import", "cycle"]
    [plugin] = cases[4].findall("failure")
    assert plugin.get("type") == "plugin" and "broken_plugin fails" in plugin.text
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["airflow_version"] == "3.3.1"
    assert properties["import_timeout"] == "5.0"


def test_junit_xml_clean_and_fatal(tmp_path):
    suite = parse(CLEAN, tmp_path).find("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("1", "0")
    suite = parse({"ok": False, "fatal": "plugins.zip: not a zip"}, tmp_path).find("testsuite")
    [case] = suite.findall("testcase")
    assert case.get("name") == "start sequence"
    assert case.find("failure").get("message") == "plugins.zip: not a zip"


def test_junit_xml_names_files_by_host_path(tmp_path):
    report = copy.deepcopy(CLEAN)
    report["files"][0]["host_path"] = "dags/taskflow_v2.py"
    [case] = parse(report, tmp_path).iter("testcase")
    assert case.get("file") == "dags/taskflow_v2.py"


# --- the command ---------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "taskflow_v2.py").write_text("")
    monkeypatch.chdir(tmp_path)
    return Project(tmp_path, None)


def invoke(project, monkeypatch, report, *args, exit_code=None, phases=None):
    calls = []

    def fake_run_check(project, target, verbose):
        calls.append(target)
        code = rendering.exit_code(report) if exit_code is None else exit_code
        return CommandRun(code, copy.deepcopy(report), "a one-off container", phases or {})

    monkeypatch.setattr(commands_dags, "run_check", fake_run_check)
    group = click.Group(commands=list(commands_dags.COMMANDS))
    result = CliRunner().invoke(group, ["dags", "check", *args], obj=project)
    return result, calls


def test_check_json_on_stdout_and_exit_code(project, monkeypatch):
    result, [target] = invoke(project, monkeypatch, REPORT, "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["where"] == "a one-off container"
    assert data["files"][0]["host_path"] == "dags/slow_import.py"
    assert str(target.path) == "/usr/local/airflow/dags"

    result, _ = invoke(project, monkeypatch, CLEAN, "--json")
    assert result.exit_code == 0
    # A check that died after printing an ok report still fails.
    result, _ = invoke(project, monkeypatch, CLEAN, "--json", exit_code=137)
    assert result.exit_code == 1


def test_check_table_and_junit_file(project, monkeypatch, tmp_path):
    junit = tmp_path / "reports" / "dags.xml"
    result, [target] = invoke(
        project, monkeypatch, REPORT, "dags/taskflow_v2.py", "--junit-xml", str(junit)
    )
    assert result.exit_code == 1
    assert str(target.path) == "/usr/local/airflow/dags/taskflow_v2.py"
    assert "slow_import.py" in result.stdout and "FAILED: 4 file(s)" in result.stdout
    assert "plugin error" in result.stdout
    assert ET.parse(junit).getroot().get("tests") == "5"


def test_check_clean_exits_zero(project, monkeypatch):
    result, _ = invoke(project, monkeypatch, CLEAN)
    assert result.exit_code == 0, result.output
    assert "OK: 1 file(s), 1 DAG(s)" in result.stdout


def test_a_clean_check_of_a_partial_sync_does_not_pass(project, monkeypatch, tmp_path):
    skipped = {"dag_sync": {"ok": True, "copied": [], "deleted": [], "skipped": {
        "private.py": "Permission denied", "team/": "Permission denied"}}}  # fmt: skip
    junit = tmp_path / "dags.xml"
    result, _ = invoke(project, monkeypatch, CLEAN, "--junit-xml", str(junit), phases=skipped)
    assert result.exit_code == 1, result.output
    assert "FAILED: 1 file(s)" in result.stdout
    assert (
        "2 file(s) unreadable in the bucket, not synced or checked: "
        "private.py (Permission denied), team/ (Permission denied)"
    ) in result.stdout
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert sorted(f.get("message") for f in failures) == ["not checked: Permission denied"] * 2

    failed = {"dag_sync": {"ok": False, "error": "the bucket /b cannot be read"}}
    result, _ = invoke(project, monkeypatch, CLEAN, "--json", phases=failed)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["dag_sync_error"] == "the bucket /b cannot be read"
    assert "checked the last copy: the bucket /b cannot be read" in rendering.summary(report)


def test_a_clean_check_after_a_failed_requirements_install_does_not_pass(project, monkeypatch):
    phases = {"requirements": {"ok": False, "diagnosis": "no-such-pkg was not found"}}
    result, _ = invoke(project, monkeypatch, CLEAN, phases=phases)
    assert result.exit_code == 1, result.output
    assert "requirements failed to install: no-such-pkg was not found" in result.stdout
