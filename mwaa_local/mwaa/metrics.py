"""Airflow's StatsD metrics under the names and dimensions MWAA publishes them with in the
`AmazonMWAA` namespace (mwaa-behaviour.md 7.2, aws-clients-and-serverless.md G.1): the
templated parts of a StatsD name ({dag_id}, {task_id}, {pool}...) become dimensions, the rest a
CamelCase name; every metric also carries `Environment`. `metrics.statsd_allow_list` (or
`metrics.metrics_allow_list`) keeps only the StatsD names it lists, as Airflow does.
"""

import re
from collections.abc import Mapping

NAMESPACE = "AmazonMWAA"
SERVICE_NAMESPACE = "AWS/MWAA"
STATSD_PREFIX = "airflow"

# StatsD name -> (MWAA metric name, fixed dimensions)
EXACT: dict[str, tuple[str, dict[str, str]]] = {
    "executor.queued_tasks": ("QueuedTasks", {"Function": "Executor"}),
    "executor.running_tasks": ("RunningTasks", {"Function": "Executor"}),
    "executor.open_slots": ("OpenSlots", {"Function": "Executor"}),
    "scheduler_heartbeat": ("SchedulerHeartbeat", {"Function": "Scheduler"}),
    "scheduler.tasks.pending": ("TasksPending", {"Function": "Scheduler"}),
    "scheduler.tasks.running": ("TasksRunning", {"Function": "Scheduler"}),
    "scheduler.tasks.starving": ("TasksStarving", {"Function": "Scheduler"}),
    "scheduler.tasks.executable": ("TasksExecutable", {"Function": "Scheduler"}),
    "scheduler.critical_section_busy": ("CriticalSectionBusy", {"Function": "Scheduler"}),
    "scheduler.critical_section_duration": ("CriticalSectionDuration", {"Function": "Scheduler"}),
    "dagbag_size": ("DagBagSize", {"Function": "DAG Processing"}),
    "dag_processing.import_errors": ("ImportErrors", {"Function": "DAG Processing"}),
    "dag_processing.total_parse_time": ("TotalParseTime", {"Function": "DAG Processing"}),
    "dag_processing.processes": ("Processes", {"Function": "DAG Processing"}),
    "dag_processing.processor_timeouts": ("ProcessorTimeouts", {"Function": "DAG Processing"}),
    "celery.task_timeout_error": ("TaskTimeoutError", {"Function": "Celery"}),
    "ti_successes": ("TaskInstanceSuccesses", {"DAG": "All", "Task": "All"}),
    "ti_failures": ("TaskInstanceFailures", {"DAG": "All", "Task": "All"}),
}

# StatsD name pattern -> (MWAA metric name, the dimensions its groups fill)
PATTERNS: list[tuple[re.Pattern, str, tuple[str, ...]]] = [
    (re.compile(r"ti\.finish\.([^.]+)\.(.+)\.([a-z_]+)"), "FinishedTaskInstances",
     ("DAG", "Task", "State")),
    (re.compile(r"dag\.([^.]+)\.(.+)\.duration"), "TaskInstanceDuration", ("DAG", "Task")),
    (re.compile(r"dagrun\.duration\.success\.(.+)"), "DAGDurationSuccess", ("DAG",)),
    (re.compile(r"dagrun\.duration\.failed\.(.+)"), "DAGDurationFailed", ("DAG",)),
    (re.compile(r"dagrun\.schedule_delay\.(.+)"), "DAGScheduleDelay", ("DAG",)),
    (re.compile(r"pool\.open_slots\.(.+)"), "PoolOpenSlots", ("Pool",)),
    (re.compile(r"pool\.running_slots\.(.+)"), "PoolRunningSlots", ("Pool",)),
    (re.compile(r"pool\.queued_slots\.(.+)"), "PoolQueuedSlots", ("Pool",)),
    (re.compile(r"pool\.starving_tasks\.(.+)"), "PoolStarvingTasks", ("Pool",)),
    (re.compile(r"([a-z_]*job)_start"), "JobStart", ("Job",)),
    (re.compile(r"([a-z_]*job)_end"), "JobEnd", ("Job",)),
    (re.compile(r"([a-z_]*job)_heartbeat_failure"), "JobHeartbeatFailure", ("Job",)),
]  # fmt: skip

UNITS = {"c": "Count", "g": "Count", "ms": "Milliseconds", "h": "Milliseconds"}


def mwaa_metric(statsd_name: str) -> tuple[str, dict[str, str]] | None:
    """(MetricName, dimensions) for an Airflow StatsD name (with or without the `airflow.`
    prefix), or None when MWAA publishes no such metric."""
    name = statsd_name.removeprefix(f"{STATSD_PREFIX}.")
    if name in EXACT:
        metric, dimensions = EXACT[name]
        return metric, dict(dimensions)
    for pattern, metric, keys in PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return metric, dict(zip(keys, match.groups(), strict=True))
    return None


def allow_list(options: Mapping[str, str]) -> tuple[list[str], bool]:
    """The allow list from AirflowConfigurationOptions and whether its entries are patterns."""
    raw = options.get("metrics.metrics_allow_list") or options.get("metrics.statsd_allow_list")
    entries = [e.strip().lower() for e in (raw or "").split(",") if e.strip()]
    pattern = str(options.get("metrics.metrics_use_pattern_match", "")).lower() == "true"
    return entries, pattern


def allowed(statsd_name: str, entries: list[str], pattern: bool = False) -> bool:
    """Airflow's rule: with no list everything; else names starting with an entry (or, with
    metrics_use_pattern_match, matching it as a regular expression)."""
    if not entries:
        return True
    name = statsd_name.removeprefix(f"{STATSD_PREFIX}.").lower()
    if pattern:
        return any(re.search(entry, name) for entry in entries)
    return any(name.startswith(entry) for entry in entries)
