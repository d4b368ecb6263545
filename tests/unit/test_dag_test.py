"""`mwaa-local dags test`'s pure parts: the arguments, the outcome read from `airflow dags test`'s
exit code and last lines (copied from real runs on Airflow 2.10.3 and 3.3.1), the dag_id
suggestions and the errors."""

import pytest
from click.testing import CliRunner

from mwaa_local.cli.main import cli
from mwaa_local.container import dag_test as in_container
from mwaa_local.dags.test import (
    WHAT,
    DagTestRequest,
    not_found_hint,
    parse_conf,
    parse_logical_date,
    raise_for_report,
    succeeded,
    summary,
)
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.one_off import CommandRun, last_report

FINISHED_2 = (
    "[2026-11-22T07:30:15.377+0000] {dagrun.py:905} INFO - DagRun Finished: dag_id=fail_dag, "
    "execution_date=2026-11-22 07:30:15.244866+00:00, run_id=manual__2026-11-22T07:30:15.244866"
    "+00:00, run_start_date=2026-11-22 07:30:15.244866+00:00, run_end_date=2026-11-22 07:30:15."
    "377009+00:00, run_duration=0.132143, state=failed, external_trigger=False, run_type=manual, "
    "data_interval_start=2026-11-22 07:30:15.244866+00:00, data_interval_end=2026-11-22 07:30:15."
    "244866+00:00, dag_hash=None"
)
FINISHED_3 = (
    "2026-11-22T07:30:28.369481Z [info     ] DagRun Finished: dag_id=ok_dag, logical_date=2026-11-"
    "22 07:30:23.590625+00:00, run_id=manual__2026-11-22T07:30:23.764611+00:00, run_start_date="
    "2026-11-22 07:30:23.590625+00:00, run_end_date=2026-11-22 07:30:28.369054+00:00, run_duratio"
    "n=4.778429, state=success, run_type=manual, data_interval_start=2026-11-22 07:30:23.590625+0"
    "0:00, data_interval_end=2026-11-22 07:30:23.590625+00:00, [airflow.models.dagrun.DagRun] "
    "loc=dagrun.py:1315"
)
NOT_FOUND_3 = [
    "    raise AirflowException(",
    "airflow.sdk.exceptions.AirflowException: Dag 'okdag' could not be found; either it does not "
    "exist or it failed to parse.",
]
PARAM_ERROR_2 = [
    "airflow.exceptions.ParamValidationError: Invalid input for param n: 'abc' is not of type "
    "'integer'",
    "",
    "Failed validating 'type' in schema:",
    "    {'type': 'integer'}",
    "",
    "On instance:",
    "    'abc'",
]
USAGE_3 = [
    "  -v, --verbose         Make logging output more verbose",
    "",
    "airflow dags test command error: argument logical_date: invalid parse value: 'x', see help "
    "above.",
]


# --- in the container: the command, the database, the outcome ----------------------------------


def test_dags_test_command_puts_the_date_after_the_dag_id():
    assert in_container.dags_test_command("d", None, None) == ["airflow", "dags", "test", "d"]
    assert in_container.dags_test_command("d", '{"a": 1}', "2024-03-05") == [
        "airflow", "dags", "test", "d", "2024-03-05", "--conf", '{"a": 1}'
    ]  # fmt: skip


def test_an_empty_conf_is_still_passed():
    assert in_container.dags_test_command("d", "{}", None)[-2:] == ["--conf", "{}"]


@pytest.mark.parametrize(("major", "executor"), [(2, "SequentialExecutor"), (3, "LocalExecutor")])
def test_throwaway_db_env_uses_sqlite_with_an_executor_that_accepts_it(major, executor):
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a:b@postgres/airflow",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://old",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "KEEP": "1",
    }
    changed = in_container.throwaway_db_env(env, "/tmp/x", major)
    assert changed["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "sqlite:////tmp/x/airflow.db"
    assert "AIRFLOW__CORE__SQL_ALCHEMY_CONN" not in changed
    assert changed["AIRFLOW__CORE__EXECUTOR"] == executor
    assert changed["KEEP"] == "1"


def test_finished_run_reads_both_versions_lines():
    assert in_container.finished_run(["x", FINISHED_2]) == {
        "dag_id": "fail_dag",
        "run_id": "manual__2026-11-22T07:30:15.244866+00:00",
        "state": "failed",
    }
    assert in_container.finished_run([FINISHED_3])["state"] == "success"
    assert in_container.finished_run(["no such line"]) is None


def test_exit_0_is_success():
    result = in_container.outcome(0, [FINISHED_3])
    assert result == {
        "run_id": "manual__2026-11-22T07:30:23.764611+00:00",
        "outcome": "success",
        "state": "success",
    }


@pytest.mark.parametrize("tail", [[FINISHED_2, "DagRun failed"], ["DagRun failed"], [FINISHED_2]])
def test_a_failed_run_exits_1_with_dagrun_failed(tail):
    assert in_container.outcome(1, tail)["outcome"] == "failed"


def test_an_unknown_dag_is_not_found():
    assert in_container.outcome(1, NOT_FOUND_3)["outcome"] == "not_found"


def test_another_error_names_the_exception_not_its_last_line():
    result = in_container.outcome(1, PARAM_ERROR_2)
    assert result["outcome"] == "error"
    assert result["error"].startswith("ParamValidationError: Invalid input for param n")


def test_a_usage_error_gives_airflows_message():
    result = in_container.outcome(2, USAGE_3)
    assert result["error"] == "argument logical_date: invalid parse value: 'x'"


def test_similar_dag_ids_catch_typos_and_case_not_a_shared_suffix():
    known = ["ok_dag", "fail_dag", "Sales_Report", "slow_dag"]
    assert in_container.similar_dag_ids("okdag", known) == ["ok_dag"]
    assert in_container.similar_dag_ids("sales_report", known) == ["Sales_Report"]
    assert in_container.similar_dag_ids("broken_dag", known) == []


def test_folder_summary_puts_broken_files_naming_the_dag_first():
    report = {
        "files": [
            {"file": "a.py", "path": "/d/a.py", "dag_ids": ["ok_dag"], "errors": []},
            {
                "file": "other.py",
                "path": "/d/other.py",
                "dag_ids": [],
                "errors": [{"line": 1, "message": "SyntaxError: x"}],
            },
            {
                "file": "broken.py",
                "path": "/d/broken.py",
                "dag_ids": [],
                "errors": [{"line": 2, "message": "ModuleNotFoundError: y"}],
            },
        ]
    }
    sources = {"/d/broken.py": 'DAG("broken_dag")', "/d/other.py": "x"}
    summary_ = in_container.folder_summary(report, "broken_dag", sources.get)
    assert summary_["dag_ids"] == ["ok_dag"]
    assert [e["file"] for e in summary_["import_errors"]] == ["broken.py", "other.py"]
    assert summary_["import_errors"][0]["names_dag_id"] is True


# --- on the host: options, report, errors -------------------------------------------------------


def test_request_arguments():
    assert DagTestRequest("d").arguments() == ["d"]
    request = DagTestRequest("d", {"a": [1]}, "2024-01-31T06:00:00Z")
    assert request.arguments() == [
        "d", "--conf", '{"a": [1]}', "--logical-date", "2024-01-31T06:00:00Z"
    ]  # fmt: skip


def test_conf_must_be_a_json_object():
    assert parse_conf('{"a": 1}') == {"a": 1}
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_conf("{a")
    with pytest.raises(ValueError, match="JSON object, not list"):
        parse_conf("[1]")


def test_logical_date_is_iso_8601_and_kept_as_given():
    assert parse_logical_date("2024-03-05") == "2024-03-05"
    assert parse_logical_date("2024-03-05T06:00:00Z") == "2024-03-05T06:00:00Z"
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_logical_date("yesterday")


@pytest.mark.parametrize(
    ("args", "option"),
    [(["--conf", "{x"], "'--conf'"), (["--logical-date", "tomorrow"], "'--logical-date'")],
)
def test_bad_options_exit_2_naming_the_option(args, option, tmp_path):
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "dags", "test", "d", *args])
    assert result.exit_code == 2
    assert f"Invalid value for {option}" in result.output


def test_last_report_is_the_last_json_line():
    assert last_report('log\n{"outcome": "failed"}\n', WHAT) == {"outcome": "failed"}
    with pytest.raises(MwaaLocalError, match="The DAG test printed no report"):
        last_report("no json", WHAT, "tail")


def run(report, exit_code=1):
    return CommandRun(exit_code, {"dag_id": "d", **report}, "a one-off container")


def test_success_and_failure_are_outcomes_not_errors():
    raise_for_report(run({"outcome": "success", "state": "success"}, 0))
    raise_for_report(run({"outcome": "failed", "state": "failed"}))
    assert succeeded(run({"outcome": "success"}, 0))
    assert not succeeded(run({"outcome": "failed"}))


def test_not_found_lists_similar_ids_and_broken_files():
    report = {
        "outcome": "not_found",
        "similar": ["ok_dag"],
        "dag_ids": ["ok_dag", "x"],
        "import_errors": [
            {"file": "b.py", "line": 2, "message": "ModuleNotFoundError: y", "names_dag_id": True}
        ],
    }
    with pytest.raises(MwaaLocalError, match="No DAG 'd'") as caught:
        raise_for_report(run(report))
    assert "Did you mean: ok_dag?" in caught.value.hint
    assert "b.py:2 (names 'd'): ModuleNotFoundError: y" in caught.value.hint


def test_not_found_without_similar_ids_lists_the_folders_dags():
    hint = not_found_hint({"dag_id": "d", "similar": [], "dag_ids": [f"x{i}" for i in range(25)]})
    assert "x0, x1" in hint and "(and 5 more)" in hint


def test_errors_and_a_failed_start_sequence_raise():
    with pytest.raises(MwaaLocalError, match="did not run the DAG.*ParamValidationError"):
        raise_for_report(run({"outcome": "error", "error": "ParamValidationError: n"}))
    with pytest.raises(MwaaLocalError, match="start sequence failed.*requirements"):
        raise_for_report(run({"ok": False, "fatal": "requirements failed"}))


def test_summary_names_run_state_and_time():
    text = summary(run({"outcome": "failed", "state": "failed", "run_id": "r1", "seconds": 2.04}))
    assert text == "DAG d run r1: failed in 2.0 s (a one-off container)"


def test_a_run_after_a_failed_dag_sync_is_no_pass_and_other_problems_are_named(
    tmp_path, monkeypatch
):
    from mwaa_local.cli import commands_dags
    from mwaa_local.dags.test import start_sequence_problems

    skipped = {"dag_sync": {"ok": True, "skipped": {"other.py": "Permission denied"}}}
    success = CommandRun(0, {"dag_id": "d", "outcome": "success"}, "x", skipped)
    problems, no_pass = start_sequence_problems(success)
    assert problems == [
        "1 file(s) unreadable in the bucket, not synced or checked: other.py (Permission denied)"
    ]
    assert no_pass is False  # another file: the DAG under test ran as the bucket has it

    failed_sync = {"dag_sync": {"ok": False, "error": "the bucket /b cannot be read"}}
    stale = CommandRun(
        0, {"dag_id": "d", "outcome": "success", "state": "success"}, "x", failed_sync
    )
    monkeypatch.setattr(commands_dags, "run_test", lambda project, request: stale)
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "dags", "test", "d"])
    assert result.exit_code == 1, result.output
    assert "checked the last copy: the bucket /b cannot be read" in result.output
    assert "the run used the last copy of the DAG folder" in result.output
