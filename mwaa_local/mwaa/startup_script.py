"""The startup script, as MWAA runs it (mwaa-behaviour.md 1; anchor-amazon-mwaa-docker-images.md
3.4-3.5): sourced by bash in every Airflow container before requirements are installed, with
MWAA_AIRFLOW_COMPONENT set and a 5-minute cap. Variables it exports reach the component and its
tasks; reserved ones are restored to MWAA's values.

Where mwaa-local differs from MWAA's image, on purpose:
- each restored reserved variable is logged as a WARNING naming it (MWAA restores silently);
- the exit status is reported (MWAA's wrapper swallows it); like MWAA, a non-zero status does not
  stop the component, and `set -e` aborts count as a non-zero status, not as a lost environment;
- a time-out fails the component, as on MWAA, with a message that says so.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# mwaa-behaviour.md 1.5: the documented reserved variables (PYTHONPATH is added per version).
DOCUMENTED_RESERVED = frozenset(
    {
        "MWAA__AIRFLOW__COMPONENT",
        "AIRFLOW__WEBSERVER__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW_HOME",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__CORE__LOAD_EXAMPLES",
        "AIRFLOW__METRICS__METRICS_BLOCK_LIST",
        "SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__DEFAULT_QUEUE",
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE",
        "AIRFLOW_VERSION",
        "AIRFLOW_CONN_AWS_DEFAULT",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "PYTHONUNBUFFERED",
        "AIRFLOW__METRICS__STATSD_ALLOW_LIST",
        "AIRFLOW__METRICS__STATSD_ON",
        "AIRFLOW__METRICS__STATSD_HOST",
        "AIRFLOW__METRICS__STATSD_PORT",
        "AIRFLOW__METRICS__STATSD_PREFIX",
        "AIRFLOW__CELERY__WORKER_AUTOSCALE",
        "AIRFLOW__CORE__DAG_CONCURRENCY",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG",
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__SCHEDULER__PARSING_PROCESSES",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__PREDEFINED_QUEUES",
        "AIRFLOW_SCHEDULER_ALLOWED_RUN_ID_PATTERN",
        "AIRFLOW__WEBSERVER__BASE_URL",
    }
)

# mwaa-behaviour.md 1.5 / anchor 3.5: what MWAA's image protects in code, and the essential
# Airflow configuration it sets last (database, auth, execution API).
IMAGE_PROTECTED = frozenset(
    {
        "AIRFLOW_ENV_ID",
        "AIRFLOW_ENV_NAME",
        "AIRFLOW_TASK_REVISION_ID",
        "CUSTOMER_ACCOUNT_ID",
        "AIRFLOW__AWS_MWAA__REDIRECT_URL",
        "JWT_PUBLIC_KEY",
        "AIRFLOW__API__BASE_URL",
        "ECS_AGENT_URI",
        "ECS_CONTAINER_METADATA_URI",
        "ECS_CONTAINER_METADATA_URI_V4",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_EXECUTION_ENV",
        "WATCHTOWER_VERSION",
        "USE_NON_CRITICAL_LOGGING",
        "AIRFLOW__CORE__DATABASE_ACCESS_ISOLATION",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__AUTH_MANAGER",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    }
)
PROTECTED_PREFIXES = ("MWAA__", "MWAA_LOCAL_")

# Variables bash exports by itself; not the script's doing.
SHELL_VARIABLES = frozenset({"SHLVL", "PWD", "OLDPWD", "_"})

DEFAULT_TIMEOUT_SECONDS = 300

CRLF_EXPLANATION = (
    "the startup script has Windows line endings (CRLF); MWAA's bash fails on them with "
    "`$'\\r': command not found`. Save it with LF line endings (dos2unix, or your editor's "
    "line-ending setting)."
)

# Sourced, so `#!/bin/sh` is ignored and bash rules apply, as on MWAA. The EXIT trap records the
# exported environment and the status whether the script ends, calls `exit N`, or trips `set -e`.
WRAPPER = """
__mwaa_local_done() {
  __mwaa_local_status=$?
  env -0 > "$MWAA_LOCAL_STARTUP_ENV_DUMP"
  echo "$__mwaa_local_status" > "$MWAA_LOCAL_STARTUP_STATUS"
  exit "$__mwaa_local_status"
}
trap __mwaa_local_done EXIT
cd "$AIRFLOW_HOME"
source "$MWAA_LOCAL_STARTUP_SCRIPT"
"""


def reserved_variables(airflow_version: str) -> frozenset[str]:
    """MWAA's reserved variables for `airflow_version`: PYTHONPATH only from Airflow 2.9."""
    major, minor = (int(part) for part in airflow_version.split(".")[:2])
    python_path = {"PYTHONPATH"} if (major, minor) >= (2, 9) else set()
    return DOCUMENTED_RESERVED | IMAGE_PROTECTED | python_path


def is_reserved(name: str, airflow_version: str) -> bool:
    return name in reserved_variables(airflow_version) or name.startswith(PROTECTED_PREFIXES)


@dataclass
class StartupScriptResult:
    path: str
    ran: bool = False
    exit_status: int | None = None
    timed_out: bool = False
    duration: float = 0.0
    exported: dict[str, str] = field(default_factory=dict)
    restored: list[str] = field(default_factory=list)
    overridden_by_options: list[str] = field(default_factory=list)
    ignored_unsets: list[str] = field(default_factory=list)
    crlf: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def fatal(self) -> bool:
        return self.timed_out

    def summary(self) -> str:
        if not self.ran:
            return f"no startup script at {self.path}"
        if self.timed_out:
            return f"startup script timed out after {self.timeout:.0f} s (MWAA's cap is 5 minutes)"
        return (
            f"startup script finished with exit status {self.exit_status} in {self.duration:.2f} s"
        )


def sort_exports(
    result: StartupScriptResult,
    before: Mapping[str, str],
    after: Mapping[str, str],
    airflow_version: str,
    option_keys: frozenset[str],
    on_warning: Callable[[str], None],
) -> None:
    ours = {"MWAA_LOCAL_STARTUP_SCRIPT", "MWAA_LOCAL_STARTUP_ENV_DUMP", "MWAA_LOCAL_STARTUP_STATUS"}
    for name, value in sorted(after.items()):
        if name in SHELL_VARIABLES or name in ours or before.get(name) == value:
            continue
        if is_reserved(name, airflow_version):
            result.restored.append(name)
            on_warning(
                f"the startup script set reserved variable {name}; restored to MWAA's value "
                "(MWAA reserves it and restores it silently)"
            )
        elif name in option_keys:
            result.overridden_by_options.append(name)
            on_warning(
                f"the startup script set {name}, which AirflowConfigurationOptions also set; "
                "the configuration option wins, as on MWAA"
            )
        else:
            result.exported[name] = value
    for name in sorted(set(before) - set(after) - SHELL_VARIABLES):
        result.ignored_unsets.append(name)
        on_warning(f"the startup script unset {name}; that has no effect on MWAA, so it is kept")


def read_env_dump(path: Path) -> dict[str, str]:
    variables = {}
    for entry in path.read_bytes().split(b"\0"):
        name, sep, value = entry.decode(errors="replace").partition("=")
        if sep and name:
            variables[name] = value
    return variables
