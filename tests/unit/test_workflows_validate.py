"""`mwaa-local workflows validate`: each MWAA Serverless rule fails with its message, line and
key; the service's own examples pass; the command's exit codes and --json."""

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwaa_local.cli.main import cli
from mwaa_local.workflows import rules
from mwaa_local.workflows.validate import Finding, has_errors, validate_files, validate_text

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
S3 = "airflow.providers.amazon.aws.operators.s3.S3ListOperator"
BASH = "airflow.providers.standard.operators.bash.BashOperator"


def check(text: str, **kwargs) -> list[Finding]:
    return validate_text(textwrap.dedent(text).lstrip("\n"), "wf.yaml", now=NOW, **kwargs)


def only(findings: list[Finding], severity: str = rules.ERROR) -> Finding:
    matching = [f for f in findings if f.severity == severity]
    assert len(matching) == 1, findings
    return matching[0]


def workflow(dag: str = "", task: str = "", tasks: str = "") -> str:
    """A valid one-task workflow with DAG-level lines `dag` and task lines `task` added (each
    already indented for its place); line 1 is `wf:`, DAG lines start on line 3."""
    return (
        "wf:\n  dag_id: wf\n"
        + textwrap.indent(textwrap.dedent(dag), "  ")
        + "  tasks:\n    t1:\n"
        + f"      operator: {S3}\n      bucket: b\n"
        + textwrap.indent(textwrap.dedent(task), "      ")
        + textwrap.indent(textwrap.dedent(tasks), "    ")
    )


# --- the service's examples pass ------------------------------------------------------------


def test_the_two_task_s3_example_is_valid():
    assert validate_files([FIXTURES / "s3_example.yaml"], now=NOW) == []


def test_the_base_workflow_of_these_tests_is_valid():
    assert check(workflow()) == []


def test_the_converters_output_has_only_warnings_for_the_parameters_the_service_ignores():
    findings = validate_files([FIXTURES / "converted_s3.yaml"], now=NOW)
    assert not has_errors(findings)
    assert [(f.line, f.key) for f in findings] == [
        (56, "simples3test.catchup"),
        (57, "simples3test.dag_display_name"),
        (58, "simples3test.owner_links"),
        (64, "simples3test.tags"),
    ]
    assert findings[0].message == "catchup is ignored by MWAA Serverless"


def test_the_minimal_example_of_airflows_system_test_is_valid():
    findings = check(
        """
        systest_mwaa_serverless:
          schedule: null
          tasks:
            check_file:
              task_id: check_file
              operator: airflow.providers.amazon.aws.sensors.s3.S3KeySensor
              bucket_name: my-bucket
              bucket_key: workflow.yaml
        """
    )
    assert findings == []


# --- four errors at once --------------------------------------------------------------------


def test_a_cycle_an_unknown_dependency_a_bash_operator_and_five_retries_are_four_errors():
    findings = validate_files([FIXTURES / "four_errors.yaml"], now=NOW)
    file = str(FIXTURES / "four_errors.yaml")
    assert all(f.file == file and f.severity == rules.ERROR for f in findings)
    assert [(f.line, f.key) for f in findings] == [
        (10, "four_errors.tasks.extract.dependencies"),
        (12, "four_errors.tasks.transform.operator"),
        (20, "four_errors.tasks.load.retries"),
        (21, "four_errors.tasks.load.dependencies"),
    ]
    cycle, operator, retries, unknown = (f.message for f in findings)
    assert cycle.startswith("dependency cycle: extract -> load -> transform -> extract")
    assert operator.startswith(f"operator {BASH} runs on MWAA Serverless only with a code package")
    assert retries == "retries is 5: MWAA Serverless allows 0 to 3"
    assert unknown == "dependency 'publish' names no task of this DAG"


# --- the file -------------------------------------------------------------------------------


def test_bad_yaml_is_an_error_on_its_line_not_a_traceback():
    finding = only(check("wf:\n  dag_id: wf\n  tasks: [a, b\n  schedule: x\n"))
    assert (finding.line, finding.key) == (4, "(yaml)")
    assert finding.message.startswith("invalid YAML: while parsing a flow sequence")


def test_a_tab_indent_is_an_error_on_its_line():
    finding = only(check("wf:\n\tdag_id: wf\n"))
    assert finding.line == 2 and finding.message.startswith("invalid YAML")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty: a workflow maps a DAG name to its definition"),
        ("- a\n- b\n", "must map a DAG name to its definition (dag_id, schedule, tasks, ...)"),
        ("default:\n  schedule: null\n", "defines no DAG"),
    ],
)
def test_a_file_that_is_not_a_mapping_of_dags_is_an_error(text, message):
    finding = only(check(text))
    assert finding.line == 1 and finding.key == "(file)" and finding.message.startswith(message)


def test_an_unreadable_file_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"\xff\xfe\x00")
    finding = only(validate_files([path], now=NOW))
    assert finding.key == "(file)" and finding.message.startswith("cannot be read")


def test_a_dag_that_is_not_a_mapping_is_an_error():
    finding = only(check("wf: [a]\n"))
    assert (finding.line, finding.key) == (1, "wf")
    assert finding.message == "a DAG's definition must be a mapping of its parameters"


def test_a_duplicate_key_is_a_warning_on_the_second():
    findings = check(workflow(tasks=f"t1:\n  operator: {S3}\n"))
    finding = only(findings, rules.WARNING)
    assert (finding.line, finding.key) == (7, "wf.tasks.t1")
    assert finding.message == "duplicate key 't1' (first on line 4): only this one is kept"


# --- DAG level ------------------------------------------------------------------------------


def test_an_invalid_dag_id_is_an_error_on_its_line():
    finding = only(check(workflow().replace("dag_id: wf", "dag_id: 'my dag!'")))
    assert (finding.line, finding.key) == (2, "wf.dag_id")
    assert finding.message.startswith("dag_id 'my dag!' may hold only letters, digits")


def test_without_dag_id_the_dag_name_must_be_a_valid_dag_id():
    finding = only(check(workflow().replace("wf:\n  dag_id: wf\n", "my dag:\n")))
    assert (finding.line, finding.key) == (1, "my dag")
    assert finding.message.startswith("dag_id 'my dag' may hold only")


@pytest.mark.parametrize(
    "schedule",
    ["'0 0 * * *'", "'*/15 6-18 * * MON-FRI'", "'@daily'", "'@hourly'", "'@once'", "null", "None"],
)
def test_cron_presets_once_and_no_schedule_are_valid(schedule):
    assert check(workflow(dag=f"schedule: {schedule}\n")) == []


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("'61 * * * *'", "schedule '61 * * * *' is not a valid cron expression: "),
        ("'0 0 * *'", "schedule '0 0 * *' is not a valid cron expression: Exactly 5, 6 or 7"),
        ("'every day'", "schedule 'every day' is not a valid cron expression"),
        ("'@continuous'", "schedule '@continuous' is not a valid cron expression"),
        ("'0 0 30 2 *'", "schedule '0 0 30 2 *' is not a valid cron expression"),
        ("{datasets: ['s3://b/k']}", "schedule must be a cron expression or null"),
        ("3600", "schedule must be a cron expression or null"),
    ],
)
def test_a_schedule_that_is_not_cron_is_an_error_on_its_line(schedule, message):
    finding = only(check(workflow(dag=f"schedule: {schedule}\n")))
    assert (finding.line, finding.key) == (3, "wf.schedule")
    assert finding.message.startswith(message)


def test_a_six_field_cron_is_a_warning():
    finding = only(check(workflow(dag="schedule: '0 0 * * ? *'\n")), rules.WARNING)
    assert (finding.line, finding.key) == (3, "wf.schedule")
    assert "has 6 fields" in finding.message and "seconds" in finding.message


def test_schedule_interval_is_an_error():
    finding = only(check(workflow(dag="schedule_interval: '@daily'\n")))
    assert (finding.line, finding.key) == (3, "wf.schedule_interval")
    assert finding.message == "schedule_interval was removed in Airflow 3: use schedule"


@pytest.mark.parametrize(
    "start",
    [
        "'2027-01-01'",
        "2027-01-01",
        "'2026-11-26T13:00:00+00:00'",
        "{__type__: datetime.datetime, year: 2027, month: 1, day: 1}",
    ],
)
def test_a_start_date_in_the_future_is_valid(start):
    assert check(workflow(dag=f"start_date: {start}\n")) == []


@pytest.mark.parametrize(
    ("where", "start", "key"),
    [
        ("dag", "'2024-01-01'", "wf.start_date"),
        ("dag", "2026-11-26", "wf.start_date"),
        ("dag", "'2 days'", "wf.start_date"),
        ("dag", "{__type__: datetime.datetime, year: 2025, month: 6, day: 1}", "wf.start_date"),
        ("default_args", "'2024-01-01'", "wf.default_args.start_date"),
    ],
)
def test_a_start_date_not_in_the_future_is_an_error(where, start, key):
    dag = f"start_date: {start}\n"
    if where == "default_args":
        dag = f"default_args:\n  start_date: {start}\n"
    finding = only(check(workflow(dag=dag)))
    assert (finding.line, finding.key) == (3 if where == "dag" else 4, key)
    assert "is not in the future: MWAA Serverless requires a future start_date" in finding.message


def test_a_start_date_that_is_not_a_date_is_an_error():
    finding = only(check(workflow(dag="start_date: next tuesday\n")))
    assert (finding.line, finding.key) == (3, "wf.start_date")
    assert finding.message == "start_date: 'next tuesday' is not a date (YYYY-MM-DD or ISO 8601)"


def test_an_end_date_before_the_start_date_is_an_error_on_the_end_date():
    dag = "start_date: '2027-06-01'\ndefault_args:\n  end_date: '2027-05-01'\n"
    finding = only(check(workflow(dag=dag)))
    assert (finding.line, finding.key) == (5, "wf.default_args.end_date")
    assert finding.message.startswith("end_date 2027-05-01T00:00:00+00:00 is before start_date")


def test_an_end_date_equal_to_the_start_date_is_valid():
    assert check(workflow(dag="start_date: '2027-06-01'\nend_date: '2027-06-01'\n")) == []


@pytest.mark.parametrize(
    ("runs", "message"),
    [
        ("17", "max_active_runs is 17: above the account limit of 16"),
        ("0", "max_active_runs must be a whole number of at least 1"),
        ("'4'", "max_active_runs must be a whole number of at least 1"),
    ],
)
def test_max_active_runs_above_the_account_limit_is_an_error(runs, message):
    finding = only(check(workflow(dag=f"max_active_runs: {runs}\n")))
    assert (finding.line, finding.key) == (3, "wf.max_active_runs")
    assert finding.message.startswith(message)


def test_max_active_runs_at_the_limit_is_valid_and_the_limit_is_a_parameter():
    assert check(workflow(dag="max_active_runs: 16\n")) == []
    assert check(workflow(dag="max_active_runs: 20\n"), max_active_runs_limit=50) == []


def test_ignored_dag_parameters_are_warnings_on_their_lines():
    dag = "catchup: false\ndescription: nightly\ndefault_args:\n  email_on_failure: true\n"
    findings = check(workflow(dag=dag))
    assert not has_errors(findings)
    assert [(f.line, f.key, f.message) for f in findings] == [
        (3, "wf.catchup", "catchup is ignored by MWAA Serverless"),
        (
            4,
            "wf.description",
            "description is ignored by MWAA Serverless; give it to CreateWorkflow's "
            "Description instead",
        ),
        (6, "wf.default_args.email_on_failure", "email_on_failure is ignored by MWAA Serverless"),
    ]


def test_the_shared_default_block_is_checked_too():
    text = "default:\n  default_args:\n    retries: 4\n" + workflow()
    finding = only(check(text))
    assert (finding.line, finding.key) == (3, "default.default_args.retries")


# --- task level -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("5", "retries is 5: MWAA Serverless allows 0 to 3"),
        ("-1", "retries is -1: MWAA Serverless allows 0 to 3"),
        ("'2'", "retries must be a whole number from 0 to 3"),
        ("1.5", "retries must be a whole number from 0 to 3"),
    ],
)
def test_retries_outside_0_to_3_is_an_error_on_its_line(value, message):
    finding = only(check(workflow(task=f"retries: {value}\n")))
    assert (finding.line, finding.key) == (7, "wf.tasks.t1.retries")
    assert finding.message == message


def test_retries_in_default_args_is_checked():
    finding = only(check(workflow(dag="default_args:\n  retries: 4\n")))
    assert (finding.line, finding.key) == (4, "wf.default_args.retries")


@pytest.mark.parametrize(
    "value", ["0", "300", "300.0", "{__type__: datetime.timedelta, minutes: 5}"]
)
def test_a_retry_delay_up_to_300_seconds_is_valid(value):
    assert check(workflow(task=f"retry_delay: {value}\n")) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("301", "retry_delay is 301 s: MWAA Serverless allows 0 to 300 seconds"),
        ("-5", "retry_delay is -5 s: MWAA Serverless allows 0 to 300 seconds"),
        (
            "{__type__: datetime.timedelta, seconds: 600.0}",
            "retry_delay is 600 s: MWAA Serverless allows 0 to 300 seconds",
        ),
        ("'5 minutes'", "retry_delay must be a number of seconds or a timedelta"),
        ("{__type__: datetime.timedelta, sconds: 5}", "retry_delay: datetime.timedelta(sconds=5)"),
    ],
)
def test_a_retry_delay_outside_0_to_300_seconds_is_an_error(value, message):
    finding = only(check(workflow(task=f"retry_delay: {value}\n")))
    assert (finding.line, finding.key) == (7, "wf.tasks.t1.retry_delay")
    assert finding.message.startswith(message)


def test_an_execution_timeout_up_to_an_hour_is_valid():
    value = "{__type__: datetime.timedelta, hours: 1}"
    assert check(workflow(task=f"execution_timeout: {value}\n")) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "{__type__: datetime.timedelta, seconds: 3601}",
            "execution_timeout is 3601 s: MWAA Serverless allows at most 3600 seconds",
        ),
        ("600", "execution_timeout must be a timedelta: Airflow rejects a number or a string"),
        ("{__type__: datetime.timedelta, seconds: 0}", "execution_timeout is 0 s"),
    ],
)
def test_an_execution_timeout_over_an_hour_is_an_error(value, message):
    finding = only(check(workflow(task=f"execution_timeout: {value}\n")))
    assert (finding.line, finding.key) == (7, "wf.tasks.t1.execution_timeout")
    assert finding.message.startswith(message)


def test_an_invalid_task_id_is_an_error_on_its_line():
    text = workflow().replace("    t1:\n", "    'load data':\n")
    finding = only(check(text))
    assert (finding.line, finding.key) == (4, "wf.tasks.load data")
    assert finding.message.startswith("task_id 'load data' may hold only")


def test_a_dag_without_tasks_is_an_error():
    finding = only(check("wf:\n  dag_id: wf\n  schedule: null\n"))
    assert (finding.line, finding.key, finding.message) == (1, "wf.tasks", "the DAG has no tasks")


def test_tasks_as_a_list_are_read_by_task_id():
    text = f"""
        wf:
          tasks:
            - task_id: a
              operator: {S3}
            - task_id: b
              operator: {S3}
              dependencies: [a, c]
            - operator: {S3}
        """
    findings = check(text)
    assert [(f.line, f.key, f.message) for f in findings] == [
        (7, "wf.tasks.b.dependencies", "dependency 'c' names no task of this DAG"),
        (8, "wf.tasks", "each task in a tasks list needs a task_id"),
    ]


# --- operators ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "operator",
    [
        "airflow.providers.standard.operators.empty.EmptyOperator",
        "airflow.operators.empty.EmptyOperator",
        "airflow.providers.amazon.aws.operators.glue.GlueJobOperator",
        "airflow.providers.amazon.aws.sensors.s3.S3KeySensor",
        "airflow.providers.amazon.aws.transfers.dynamodb_to_s3.DynamoDBToS3Operator",
        "airflow.providers.amazon.aws.operators.ec2.EC2StartInstanceOperator",
    ],
)
def test_amazon_operators_and_empty_operator_are_allowed(operator):
    assert check(workflow().replace(S3, operator)) == []


@pytest.mark.parametrize(
    ("operator", "message"),
    [
        (BASH, f"operator {BASH} runs on MWAA Serverless only with a code package"),
        (
            "airflow.providers.http.operators.http.HttpOperator",
            "operator airflow.providers.http.operators.http.HttpOperator is not one MWAA "
            "Serverless runs: only Amazon provider operators and EmptyOperator",
        ),
        ("S3ListOperator", "operator 'S3ListOperator' is not a full class path"),
        ("[a, b]", "operator must be an operator's full class path"),
    ],
)
def test_other_operators_are_errors_on_their_line(operator, message):
    finding = only(check(workflow().replace(S3, operator)))
    assert (finding.line, finding.key) == (5, "wf.tasks.t1.operator")
    assert finding.message.startswith(message)


def test_a_task_without_an_operator_is_an_error_on_its_name():
    text = workflow().replace(f"      operator: {S3}\n", "      decorator: my.tasks.extract\n")
    finding = only(check(text))
    assert (finding.line, finding.key) == (4, "wf.tasks.t1.operator")
    assert finding.message.startswith("the task names no operator (dag-factory's `decorator`")


def test_allowed_operators_extend_with_a_parameter():
    text = workflow().replace(S3, BASH)
    assert has_errors(check(text))
    assert check(text, extra_operators=[BASH]) == []


def test_the_allow_list_holds_amazon_operators_and_empty_operator_only():
    outside = {
        op for op in rules.ALLOWED_OPERATORS if not op.startswith("airflow.providers.amazon.aws.")
    }
    assert outside == {
        "airflow.operators.empty.EmptyOperator",
        "airflow.providers.standard.operators.empty.EmptyOperator",
        "airflow.providers.common.sql.operators.sql.SQLTableCheckOperator",
    }
    assert not rules.ALLOWED_OPERATORS & rules.CODE_PACKAGE_OPERATORS
    assert len(rules.ALLOWED_OPERATORS) == 222


# --- dependencies ---------------------------------------------------------------------------


def test_a_task_that_depends_on_itself_is_a_cycle():
    finding = only(check(workflow(task="dependencies: [t1]\n")))
    assert (finding.line, finding.key) == (7, "wf.tasks.t1.dependencies")
    assert finding.message.startswith("dependency cycle: t1 -> t1")


def test_two_separate_cycles_are_two_errors():
    tasks = "".join(
        f"{name}:\n  operator: {S3}\n  dependencies: [{dep}]\n"
        for name, dep in (("a", "b"), ("b", "a"), ("c", "d"), ("d", "c"))
    )
    findings = check(workflow(tasks=tasks))
    assert [(f.line, f.message.split(" (")[0]) for f in findings] == [
        (9, "dependency cycle: a -> b -> a"),
        (15, "dependency cycle: c -> d -> c"),
    ]


def test_dependencies_must_be_a_list_of_task_ids():
    finding = only(check(workflow(task="dependencies: t0\n")))
    assert (finding.line, finding.key) == (7, "wf.tasks.t1.dependencies")
    assert finding.message == "dependencies must be a list of task_ids"


def test_a_dependency_may_name_a_task_group():
    text = workflow(
        dag="task_groups:\n  extract:\n    tooltip: x\n", task="dependencies: [extract]\n"
    )
    assert check(text) == []


# --- several files and the command ----------------------------------------------------------


def test_findings_come_file_by_file_in_line_order():
    files = [
        FIXTURES / "four_errors.yaml",
        FIXTURES / "s3_example.yaml",
        FIXTURES / "four_errors.yaml",
    ]
    findings = validate_files(files, now=NOW)
    assert len(findings) == 8
    assert [f.line for f in findings[:4]] == [10, 12, 20, 21]


def run(*args: str):
    return CliRunner().invoke(cli, ["workflows", "validate", *args], catch_exceptions=False)


def test_the_command_exits_1_and_prints_each_error_with_file_line_and_key():
    result = run(str(FIXTURES / "four_errors.yaml"))
    assert result.exit_code == 1
    path = FIXTURES / "four_errors.yaml"
    assert f"{path}:20: error: four_errors.tasks.load.retries: retries is 5" in result.output
    assert "FAILED: 4 errors, 0 warnings in 1 file." in result.output


def test_the_command_exits_0_on_a_valid_file():
    result = run(str(FIXTURES / "s3_example.yaml"))
    assert result.exit_code == 0
    assert "OK: 1 file valid for MWAA Serverless." in result.output


def test_warnings_alone_exit_0():
    result = run(str(FIXTURES / "converted_s3.yaml"), str(FIXTURES / "s3_example.yaml"))
    assert result.exit_code == 0
    assert "OK: 2 files valid for MWAA Serverless (4 warnings)." in result.output


def test_json_lists_each_finding_for_ci():
    result = run("--json", str(FIXTURES / "four_errors.yaml"), str(FIXTURES / "converted_s3.yaml"))
    assert result.exit_code == 1
    findings = json.loads(result.output)
    assert {tuple(f) for f in findings} == {("file", "line", "key", "severity", "message")}
    assert [(f["severity"], f["line"]) for f in findings] == [
        *[("error", line) for line in (10, 12, 20, 21)],
        *[("warning", line) for line in (56, 57, 58, 64)],
    ]
    assert findings[2] == {
        "file": str(FIXTURES / "four_errors.yaml"),
        "line": 20,
        "key": "four_errors.tasks.load.retries",
        "severity": "error",
        "message": "retries is 5: MWAA Serverless allows 0 to 3",
    }


def test_json_of_a_valid_file_is_an_empty_list():
    result = run("--json", str(FIXTURES / "s3_example.yaml"))
    assert (result.exit_code, json.loads(result.output)) == (0, [])


def test_allow_operator_accepts_an_operator(tmp_path):
    path = tmp_path / "bash.yaml"
    path.write_text(workflow().replace(S3, BASH))
    assert run(str(path)).exit_code == 1
    assert run("--allow-operator", BASH, str(path)).exit_code == 0


def test_bad_yaml_exits_1_with_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("wf:\n  tasks: [a, b\n  schedule: x\n")
    result = run(str(path))
    assert result.exit_code == 1
    assert f"{path}:3: error: (yaml): invalid YAML" in result.output
    assert "Traceback" not in result.output


def test_a_missing_file_is_a_usage_error():
    result = run("no-such-workflow.yaml")
    assert result.exit_code == 2 and "does not exist" in result.output
