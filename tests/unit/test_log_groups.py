"""Logs in MWAA's shape: LoggingConfiguration, levels, groups, and reading a group like
`aws logs filter-log-events` (mwaa-behaviour.md 7.1)."""

import pytest

from mwaa_local.errors import MwaaLocalError, SettingsError
from mwaa_local.logs.events import group_type, parse_since, pattern_matcher, select
from mwaa_local.mwaa.logging_levels import LogType, line_level, log_types, with_levels
from mwaa_local.runtime.stack import logging_environment
from mwaa_local.spec.settings import load_environment

CONFIG = """
LoggingConfiguration:
  TaskLogs: {Enabled: true, LogLevel: WARNING}
  DagProcessingLogs: {Enabled: false, LogLevel: INFO}
  SchedulerLogs: {Enabled: true, LogLevel: ERROR}
"""


def environment(tmp_path, text: str):
    (tmp_path / "mwaa-local.yaml").write_text("Name: env\nAirflowVersion: '2.10.3'\n" + text)
    return load_environment(tmp_path, environ={})


def test_a_level_keeps_that_level_and_higher():
    warning = LogType(True, "WARNING")
    assert [warning.keeps(x) for x in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")] == [
        False,
        False,
        True,
        True,
        True,
    ]
    assert not LogType(False, "DEBUG").keeps("CRITICAL")


def test_types_left_out_are_off_and_no_configuration_means_all_on(tmp_path):
    types = log_types(environment(tmp_path, CONFIG).logging_configuration)
    assert types["Task"] == LogType(True, "WARNING")
    assert types["DAGProcessing"].enabled is False
    assert types["WebServer"].enabled is False and types["Worker"].enabled is False
    assert all(t == LogType(True, "INFO") for t in log_types({}).values())


def test_bad_logging_configuration_is_rejected(tmp_path):
    with pytest.raises(SettingsError) as raised:
        environment(tmp_path, "LoggingConfiguration:\n  TaskLogs: {Enabled: yes please}\n")
    assert "TaskLogs.Enabled: 'yes please' is not true or false" in str(raised.value)
    with pytest.raises(SettingsError, match="TaskLogs.LogLevel: 'VERBOSE' is not one of"):
        environment(tmp_path, "LoggingConfiguration:\n  TaskLogs: {LogLevel: VERBOSE}\n")
    with pytest.raises(SettingsError, match="Task: is not a log type"):
        environment(tmp_path, "LoggingConfiguration:\n  Task: {Enabled: true}\n")


def test_components_write_task_logs_into_the_task_group_only_when_enabled(tmp_path):
    env = logging_environment(environment(tmp_path, CONFIG))
    assert env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"].endswith("/mwaa-local/airflow-env-Task")
    # DAGProcessing is off: its files stay outside every group.
    assert "AIRFLOW__SCHEDULER__CHILD_PROCESS_LOG_DIRECTORY" not in env
    assert env["AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS"].startswith("mwaa_local.container")


def test_levels_apply_to_airflows_task_and_processor_loggers():
    base = {
        "handlers": {"task": {"level": "INFO"}, "processor": {}, "console": {}},
        "loggers": {"airflow.task": {"level": "INFO"}, "airflow.processor": {"level": "INFO"}},
    }
    config = with_levels(
        base,
        {
            "Task": {"Enabled": True, "LogLevel": "WARNING"},
            "DAGProcessing": {"Enabled": False, "LogLevel": "ERROR"},
        },
    )
    assert config["loggers"]["airflow.task"]["level"] == "WARNING"
    assert config["handlers"]["task"]["level"] == "WARNING"
    assert config["loggers"]["airflow.processor"]["level"] == "INFO"  # off: untouched
    assert base["loggers"]["airflow.task"]["level"] == "INFO"  # a copy


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("[2026-01-01T10:00:00.000+0000] {burst.py:25} WARNING - burst task 1", "WARNING"),
        ("[2026-01-01, 10:00:00 UTC] {taskinstance.py:1} INFO - Dependencies all met", "INFO"),
        ("2026-01-01T10:00:00.1Z [info     ] Starting the scheduler", "INFO"),
        ("[2026-01-01 10:00:00,123: ERROR/MainProcess] consumer: Cannot connect", "ERROR"),
        ("2026-01-01T10:00:00 [WARNING] - startup script", "WARNING"),
        ('{"timestamp": "2026-01-01T10:00:00Z", "level": "debug", "event": "x"}', "DEBUG"),
        ("Traceback (most recent call last):", None),
    ],
)
def test_line_levels(line, level):
    assert line_level(line) == level


def test_select_like_filter_log_events():
    streams = [
        (
            "dag_id=x/run_id=r/task_id=a/attempt=1.log",
            [
                "[2026-01-01T10:00:00.000+0000] {t.py:1} INFO - hello",
                "[2026-01-01T10:00:01.000+0000] {t.py:2} ERROR - boom",
                "Traceback (most recent call last):",
                "[2026-01-01T10:09:00.000+0000] {t.py:3} WARNING - late",
            ],
            0.0,
        ),
        ("dag_id=y/run_id=r/task_id=b/attempt=1.log", ["[2026-01-01T10:00:00Z] ERROR - y"], 0.0),
    ]
    at_warning = LogType(True, "WARNING")
    events = select(streams, at_warning, "dag_id=x/*")
    # INFO dropped; the traceback line continues the ERROR before it.
    assert [e.message.split("} ")[-1] for e in events] == [
        "ERROR - boom",
        "Traceback (most recent call last):",
        "WARNING - late",
    ]
    assert [e.message for e in select(streams, at_warning, "dag_id=x/*", "ERROR")] == [
        "[2026-01-01T10:00:01.000+0000] {t.py:2} ERROR - boom"
    ]
    since = parse_since("2026-01-01T10:05:00Z")
    assert [e.message[-4:] for e in select(streams, at_warning, since=since)] == ["late"]
    assert select(streams, LogType(False), None) == []


def test_filter_patterns_and_durations():
    assert pattern_matcher('ERROR "task b"')("ERROR in task b here")
    assert not pattern_matcher('ERROR "task b"')("ERROR in task a")
    assert pattern_matcher("?boom ?bang")("it went bang")
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    with pytest.raises(MwaaLocalError, match="neither a duration"):
        parse_since("yesterday")


def test_group_names():
    assert group_type("Task") == "Task"
    assert group_type("airflow-my-env-DAGProcessing") == "DAGProcessing"
    assert group_type("webserver") == "WebServer"
    with pytest.raises(MwaaLocalError):
        group_type("Tasks")
