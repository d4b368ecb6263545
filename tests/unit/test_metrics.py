"""Metrics in MWAA's names (mwaa-behaviour.md 7.2): StatsD lines collected, aggregated, and named
as MWAA publishes them, the allow list honoured; the AWS/MWAA worker counts."""

import json

import pytest

from mwaa_local.container.statsd_collector import Collector, parse_line
from mwaa_local.metrics.series import build_series, parse_records, sparkline
from mwaa_local.mwaa.metrics import allow_list, allowed, mwaa_metric


@pytest.mark.parametrize(
    ("statsd", "metric", "dimensions"),
    [
        ("airflow.executor.queued_tasks", "QueuedTasks", {"Function": "Executor"}),
        ("executor.running_tasks", "RunningTasks", {"Function": "Executor"}),
        ("airflow.ti_successes", "TaskInstanceSuccesses", {"DAG": "All", "Task": "All"}),
        (
            "airflow.ti.finish.my_dag.group.task_1.success",
            "FinishedTaskInstances",
            {"DAG": "my_dag", "Task": "group.task_1", "State": "success"},
        ),
        ("airflow.dag.my_dag.work_0.duration", "TaskInstanceDuration",
         {"DAG": "my_dag", "Task": "work_0"}),
        ("airflow.dagrun.duration.success.my_dag", "DAGDurationSuccess", {"DAG": "my_dag"}),
        ("airflow.pool.open_slots.default_pool", "PoolOpenSlots", {"Pool": "default_pool"}),
        ("airflow.scheduler_heartbeat", "SchedulerHeartbeat", {"Function": "Scheduler"}),
        ("airflow.dag_processing.import_errors", "ImportErrors", {"Function": "DAG Processing"}),
        ("airflow.schedulerjob_start", "JobStart", {"Job": "schedulerjob"}),
    ],
)  # fmt: skip
def test_statsd_names_become_mwaa_metrics(statsd, metric, dimensions):
    assert mwaa_metric(statsd) == (metric, dimensions)


def test_unpublished_names_are_left_out():
    assert mwaa_metric("airflow.some.internal.thing") is None


def test_allow_list_as_airflow_applies_it():
    entries, pattern = allow_list({"metrics.statsd_allow_list": "scheduler,executor"})
    assert allowed("airflow.executor.queued_tasks", entries, pattern)
    assert allowed("airflow.scheduler_heartbeat", entries, pattern)
    assert not allowed("airflow.ti_successes", entries, pattern)
    assert allowed("airflow.ti_successes", [], False)
    entries, pattern = allow_list(
        {"metrics.metrics_allow_list": "^ti_", "metrics.metrics_use_pattern_match": "True"}
    )
    assert pattern and allowed("airflow.ti_successes", entries, pattern)
    assert not allowed("airflow.dag.x.ti_y.duration", entries, pattern)


def test_statsd_lines():
    assert parse_line("airflow.ti_successes:1|c") == ("airflow.ti_successes", "c", 1.0, False)
    assert parse_line("a.b:1|c|@0.5") == ("a.b", "c", 2.0, False)
    assert parse_line("a.gauge:-2|g") == ("a.gauge", "g", -2.0, True)
    assert parse_line("a.timer:12.5|ms|#tag:x") == ("a.timer", "ms", 12.5, False)
    assert parse_line("garbage") is None
    assert parse_line("a:x|c") is None


def test_collector_aggregates_per_period_and_series_are_named(tmp_path):
    out = tmp_path / "statsd.jsonl"
    collector = Collector(out, period=10)
    collector.receive("airflow.ti_successes:1|c\nairflow.executor.queued_tasks:4|g", 100.0)
    collector.receive("airflow.ti_successes:1|c\nairflow.executor.queued_tasks:0|g", 105.0)
    collector.receive("airflow.ti_successes:1|c\nairflow.other.thing:1|c", 112.0)
    assert collector.flush(111.0) == 2  # the period 100-110 has ended; 110-120 has not
    collector.flush()
    records = parse_records(out.read_text().splitlines())
    assert {(r["t"], r["n"], r["count"]) for r in records} == {
        (100, "airflow.ti_successes", 2),
        (100, "airflow.executor.queued_tasks", 2),
        (110, "airflow.ti_successes", 1),
        (110, "airflow.other.thing", 1),
    }
    service = [
        json.dumps({"t": 101, "ns": "AWS/MWAA", "n": "NumAdditionalWorkers", "v": 2, "d": {}}),
        json.dumps({"t": 111, "ns": "AWS/MWAA", "n": "NumAdditionalWorkers", "v": 0, "d": {}}),
    ]
    series = build_series(records, parse_records(service), "env", {}, since=0, period=60)
    by_name = {s.name: s for s in series}
    assert set(by_name) == {"TaskInstanceSuccesses", "QueuedTasks", "NumAdditionalWorkers"}
    successes = by_name["TaskInstanceSuccesses"].total()
    assert successes.sum == 3
    assert by_name["TaskInstanceSuccesses"].dimensions["Environment"] == "env"
    queued = by_name["QueuedTasks"].total()
    assert (queued.maximum, queued.minimum) == (4, 0)
    assert by_name["NumAdditionalWorkers"].total().maximum == 2
    only_executor = build_series(
        records, [], "env", {"metrics.statsd_allow_list": "executor"}, since=0
    )
    assert [s.name for s in only_executor] == ["QueuedTasks"]
    assert build_series(records, [], "env", {}, since=110)[0].total().sum == 1


def test_sparkline():
    assert sparkline([0, 1, 2, 3]) == "▁▃▅█"
    assert sparkline([]) == ""


def test_the_metrics_command_names_every_metric_in_a_narrow_terminal(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from mwaa_local.cli import commands_metrics
    from mwaa_local.cli.main import cli
    from mwaa_local.metrics.series import Series

    series = [
        Series("AmazonMWAA", "TaskInstanceSuccesses", {"Environment": "e", "DAG": "All"}, "Count"),
        Series(
            "AmazonMWAA",
            "FinishedTaskInstances",
            {"Environment": "e", "DAG": "mwaa_local_burst", "Task": "work_0", "State": "success"},
            "Count",
        ),
        Series("AWS/MWAA", "NumAdditionalWorkers", {"Cluster": "AdditionalWorker"}, "Count"),
    ]
    for s in series:
        s.add(120, 60, 3, 3, 1, 1)
    monkeypatch.setattr(commands_metrics, "open_stack", lambda project: None)
    monkeypatch.setattr(commands_metrics, "stack_series", lambda *args: series)
    (tmp_path / "mwaa-local.yaml").write_text("Name: e\n")
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "metrics"])
    assert result.exit_code == 0, result.output
    for name in ("TaskInstanceSuccesses", "FinishedTaskInstances", "NumAdditionalWorkers"):
        assert name in result.output
    chart = CliRunner().invoke(
        cli, ["--project-dir", str(tmp_path), "metrics", "numadditionalworkers"]
    )
    assert "AWS/MWAA NumAdditionalWorkers" in chart.output and "00:02:00  1" in chart.output
