"""mwaa_local.container.workflow_run's host-testable parts: the GetWorkflowRun-shaped report,
the throwaway DAG folder and environment. The run itself is in tests/e2e/test_workflows.py."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mwaa_local.container import workflow_run

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def ti(task_id: str, state: str | None, offset: int = 0, duration: float | None = 1.4) -> dict:
    start = T0 + timedelta(seconds=offset)
    return {
        "id": f"id-{task_id}",
        "task_id": task_id,
        "state": state,
        "duration": duration,
        "operator": "S3ListOperator",
        "start_date": start,
        "end_date": start + timedelta(seconds=duration or 0),
        "try_number": 1,
    }


def test_a_successful_run_is_reported_like_get_workflow_run():
    report = workflow_run.run_report(
        "manual__1", "success", T0, T0 + timedelta(seconds=12), [ti("a", "success")]
    )
    assert report == {
        "RunId": "manual__1",
        "RunType": "ON_DEMAND",
        "RunDetail": {
            "StartedOn": "2026-11-26T12:00:00Z",
            "CompletedOn": "2026-11-26T12:00:12Z",
            "Duration": 12,
            "ErrorMessage": None,
            "RunState": "SUCCESS",
            "TaskInstances": ["id-a"],
        },
        "TaskInstances": [
            {
                "TaskInstanceId": "id-a",
                "TaskId": "a",
                "Status": "SUCCESS",
                "DurationInSeconds": 1,
                "OperatorName": "S3ListOperator",
                "StartedAt": "2026-11-26T12:00:00Z",
                "EndedAt": "2026-11-26T12:00:01.400000Z",
                "AttemptNumber": 1,
            }
        ],
    }
    json.dumps(report)  # one JSON line on stdout


def test_a_failed_run_says_what_the_service_says_and_maps_each_task_state():
    tis = [ti("a", "failed"), ti("b", "upstream_failed", 2, None), ti("c", "skipped", 3)]
    report = workflow_run.run_report("manual__2", "failed", T0, T0, tis)
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert report["RunDetail"]["ErrorMessage"] == "Workflow execution failed"
    assert [t["Status"] for t in report["TaskInstances"]] == [
        "FAILED",
        "UPSTREAM_FAILED",
        "SKIPPED",
    ]
    assert report["TaskInstances"][1]["DurationInSeconds"] is None


def test_a_parse_error_fails_the_run_with_its_message_and_no_tasks():
    report = workflow_run.run_report(None, None, T0, T0, error="ValueError: Cycle detected")
    assert report["RunDetail"]["RunState"] == "FAILED"
    assert report["RunDetail"]["ErrorMessage"] == "ValueError: Cycle detected"
    assert report["RunId"] is None and report["TaskInstances"] == []


def test_the_error_line_is_the_last_exception_without_its_module():
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/tmp/df/dagfactory/dagbuilder.py", line 1040, in topological_sort_tasks\n'
        '    raise ValueError("Cycle detected in task dependencies!")\n'
        "dagfactory.exceptions.DagFactoryConfigException: Failed to build: boom\n"
    )
    assert workflow_run.error_line(traceback) == "DagFactoryConfigException: Failed to build: boom"
    assert workflow_run.error_line("just a line\n") == "just a line"


def test_the_dag_folder_holds_the_yaml_and_a_loader_airflow_will_parse(tmp_path):
    dags = workflow_run.prepare(FIXTURES / "empty_workflow.yaml", tmp_path)
    assert sorted(p.name for p in dags.iterdir()) == ["empty_workflow.yaml", "workflow_loader.py"]
    loader = (dags / "workflow_loader.py").read_text()
    assert "airflow" in loader.lower() and "dag" in loader.lower()  # DagBag's safe mode
    assert "with_name('empty_workflow.yaml')" in loader
    compile(loader, "workflow_loader.py", "exec")


def test_the_environment_is_a_throwaway_sqlite_database_and_no_usage_reporting(tmp_path):
    env = workflow_run.run_env(
        tmp_path, tmp_path / "dags", {"AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql://x", "A": "1"}
    )
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/airflow.db"
    assert "AIRFLOW__CORE__SQL_ALCHEMY_CONN" not in env and env["A"] == "1"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["AIRFLOW__CORE__DEFAULT_TASK_EXECUTION_TIMEOUT"] == "3600"
    assert env["DO_NOT_TRACK"] == "1"
