"""LoggingConfiguration as MWAA applies it (mwaa-behaviour.md 7.1): one log group per enabled
type, `airflow-<Name>-<Type>`, and "when you choose a log level, Amazon MWAA sends logs for that
level and all higher levels".

Settings use CreateEnvironment's input shape, {DagProcessingLogs: {Enabled, LogLevel}, ...}.
Without a LoggingConfiguration every type is on at INFO (mwaa-local's default, so a local
environment has all its logs); with one, a type it leaves out is off, as CreateEnvironment does.
"""

import copy
import re
from dataclasses import dataclass
from typing import Any

# Settings key -> the log group's type name.
LOG_TYPES = {
    "DagProcessingLogs": "DAGProcessing",
    "SchedulerLogs": "Scheduler",
    "TaskLogs": "Task",
    "WebserverLogs": "WebServer",
    "WorkerLogs": "Worker",
}
LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
LEVEL_NUMBERS = {"CRITICAL": 50, "ERROR": 40, "WARNING": 30, "INFO": 20, "DEBUG": 10}
DEFAULT_LEVEL = "INFO"


@dataclass(frozen=True)
class LogType:
    enabled: bool
    level: str = DEFAULT_LEVEL

    def keeps(self, level: str | None) -> bool:
        """Whether a line at `level` reaches the group (a line with no level: as INFO)."""
        if not self.enabled:
            return False
        number = LEVEL_NUMBERS.get((level or DEFAULT_LEVEL).upper(), 20)
        return number >= LEVEL_NUMBERS[self.level]


def configuration_problems(raw: Any) -> list[str]:
    """Each problem of a LoggingConfiguration value, one line each."""
    if not isinstance(raw, dict):
        return [f"is not a mapping of {', '.join(LOG_TYPES)}"]
    problems = []
    for key, module in raw.items():
        if key not in LOG_TYPES:
            problems.append(f"{key}: is not a log type; use {', '.join(LOG_TYPES)}")
            continue
        if not isinstance(module, dict):
            problems.append(f"{key}: is not a mapping of Enabled and LogLevel")
            continue
        for field, value in module.items():
            if field == "Enabled" and not isinstance(value, bool):
                problems.append(f"{key}.Enabled: {value!r} is not true or false")
            elif field == "LogLevel" and value not in LEVELS:
                problems.append(f"{key}.LogLevel: {value!r} is not one of {', '.join(LEVELS)}")
            elif field not in ("Enabled", "LogLevel", "CloudWatchLogGroupArn"):
                problems.append(f"{key}.{field}: unknown; use Enabled and LogLevel")
    return problems


def log_types(configuration: dict[str, Any]) -> dict[str, LogType]:
    """Each group type's Enabled and LogLevel (validated input)."""
    if not configuration:
        return {name: LogType(True) for name in LOG_TYPES.values()}
    types = {}
    for key, name in LOG_TYPES.items():
        module = configuration.get(key) or {}
        types[name] = LogType(bool(module.get("Enabled", False)), module.get("LogLevel", "INFO"))
    return types


def group_name(environment_name: str, log_type: str) -> str:
    return f"airflow-{environment_name}-{log_type}"


# The level word in the lines Airflow, Celery and gunicorn write: `{file.py:12} INFO - `,
# `[info     ]`, `: INFO/MainProcess]`, `[INFO] - ` (mwaa-local's own streams), `"level": "info"`.
LEVEL_PATTERN = re.compile(
    r"(?:\}\s+|\[|: |\"level\":\s*\"|\s)(CRITICAL|FATAL|ERROR|WARNING|WARN|INFO|DEBUG)\b",
    re.IGNORECASE,
)


def line_level(line: str) -> str | None:
    """The level a log line names near its start, or None (a continuation line)."""
    match = LEVEL_PATTERN.search(line[:200])
    if not match:
        return None
    word = match.group(1).upper()
    return {"FATAL": "CRITICAL", "WARN": "WARNING"}.get(word, word)


# Airflow's (logger, its handler) for a LoggingConfiguration type, in its DEFAULT_LOGGING_CONFIG.
LEVELLED = (("airflow.task", "task", "Task"), ("airflow.processor", "processor", "DAGProcessing"))


def with_levels(base: dict[str, Any], types: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of Airflow's logging config with the enabled types' levels on their loggers and
    handlers (`types`: {Type: {Enabled, LogLevel}})."""
    config = copy.deepcopy(base)
    for logger, handler, log_type in LEVELLED:
        setting = types.get(log_type) or {}
        if not setting.get("Enabled"):
            continue  # a disabled type's files stay outside its group, at Airflow's level
        level = setting.get("LogLevel", "INFO")
        if logger in config.get("loggers", {}):
            config["loggers"][logger]["level"] = level
        if handler in config.get("handlers", {}):
            config["handlers"][handler]["level"] = level
    return config
