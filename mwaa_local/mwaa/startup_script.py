"""The startup script, as MWAA runs it (mwaa-behaviour.md 1; anchor-amazon-mwaa-docker-images.md
3.4-3.5): sourced by bash in every Airflow container before requirements are installed, with
MWAA_AIRFLOW_COMPONENT set and a 5-minute cap. Variables it exports reach the component and its
tasks; reserved ones are restored to MWAA's values.

Where mwaa-local differs from MWAA's image, on purpose:
- each restored reserved variable is logged as a WARNING naming it (MWAA restores silently);
- the exit status is reported (MWAA's wrapper swallows it); like MWAA, a non-zero status does not
  stop the component, and `set -e` aborts count as a non-zero status, not as a lost environment;
- a script that ends in `exec CMD` keeps the exports made before it, with a warning (MWAA's
  wrapper would never read its environment back); an environment that cannot be read back at all
  is a warning and a failed test-startup-script, never silent;
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

# Sourced, so `#!/bin/sh` is ignored and bash rules apply, as on MWAA. MWAA's wrapper reads the
# environment back after `source` returns (anchor-amazon-mwaa-docker-images.md 3.4); this one must
# also survive what a script can do to a wrapper's EXIT trap:
# - `exit N` and `set -e` aborts end the shell: the EXIT trap records the environment and status;
# - the script's own `trap ... EXIT` would replace ours: a `trap` function shadows the builtin in
#   this shell and chains the script's action after ours, so both run (subshells keep the builtin);
# - `exec CMD` replaces the shell and no trap runs: `exec` is an alias (aliases expand in the
#   sourced file, as MWAA's `alias exit=handle_exit` does) that records the environment and the
#   line first, from a command substitution, which sees the same exports; as a prefix assignment it
#   keeps `a || exec b` one command and `exec >log 2>&1` a permanent redirection. The status file
#   then says `exec LINE` and the process's own exit status is the script's.
# `command -p env` reads the environment even when the script emptied PATH; `>|` beats
# noclobber; `{ ...; } 2>/dev/null` keeps the wrapper's own lines out of a `set -x` trace.
WRAPPER = r"""
__mwaa_local_pid=$BASHPID
__mwaa_local_env_file=$MWAA_LOCAL_STARTUP_ENV_DUMP
__mwaa_local_status_file=$MWAA_LOCAL_STARTUP_STATUS
__mwaa_local_script=$MWAA_LOCAL_STARTUP_SCRIPT
unset MWAA_LOCAL_STARTUP_ENV_DUMP MWAA_LOCAL_STARTUP_STATUS MWAA_LOCAL_STARTUP_SCRIPT
__mwaa_local_user_exit=
__mwaa_local_record() {
  builtin command -p env -0 >| "$__mwaa_local_env_file"
  builtin echo "$1" >| "$__mwaa_local_status_file"
}
__mwaa_local_exit() {
  local status=$?
  [[ $BASHPID != "$__mwaa_local_pid" ]] || __mwaa_local_record "$status"
  return "$status"
}
__mwaa_local_arm() {
  local on_exit=$__mwaa_local_user_exit
  [[ $on_exit != - ]] || on_exit=
  builtin trap -- "{ __mwaa_local_exit && :; } 2>/dev/null${on_exit:+; $on_exit}" EXIT
}
trap() {
  if [[ $BASHPID != "$__mwaa_local_pid" ]]; then builtin trap "$@"; return; fi
  local -a args=("$@") sigs others=()
  [[ ${args[0]-} != -- ]] || args=("${args[@]:1}")
  if (( ${#args[@]} == 0 )) || [[ ${args[0]} == -?* ]]; then builtin trap "$@"; return; fi
  local action=${args[0]} sig
  sigs=("${args[@]:1}")
  if (( ${#args[@]} == 1 )) || [[ $action =~ ^[0-9]+$ ]]; then action=-; sigs=("${args[@]}"); fi
  for sig in "${sigs[@]}"; do
    case ${sig^^} in
      EXIT | SIGEXIT | 0) __mwaa_local_user_exit=$action ;;
      *) others+=("$sig") ;;
    esac
  done
  __mwaa_local_arm
  (( ${#others[@]} == 0 )) || builtin trap -- "$action" "${others[@]}"
}
shopt -s expand_aliases
alias exec='__mwaa_local_exec=$({ __mwaa_local_record "exec $LINENO"; } 2>/dev/null) exec'
__mwaa_local_arm
builtin cd "$AIRFLOW_HOME"
source "$__mwaa_local_script"
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
    # The `exec ...` command that replaced the shell, when the script ended that way.
    ended_by_exec: str | None = None
    # The environment could not be read back: every export is lost, and that is never silent.
    environment_lost: bool = False

    @property
    def fatal(self) -> bool:
        return self.timed_out

    def summary(self) -> str:
        if not self.ran:
            return f"no startup script at {self.path}"
        if self.timed_out:
            return f"startup script timed out after {self.timeout:.0f} s (MWAA's cap is 5 minutes)"
        how = f" (its shell replaced by exec, {self.ended_by_exec})" if self.ended_by_exec else ""
        lost = "; its environment could not be read back" if self.environment_lost else ""
        return (
            f"startup script finished with exit status {self.exit_status}{how} in "
            f"{self.duration:.2f} s{lost}"
        )


def exec_warning(where: str) -> str:
    return (
        f"the startup script's exec ({where}) replaced its shell: its exports up to that line "
        "are kept. MWAA's wrapper reads the environment back only after the script returns "
        "(anchor-amazon-mwaa-docker-images.md 3.4), so on MWAA this start would find no "
        "environment file and fail; end the script without exec, or run the command in the "
        "background."
    )


def lost_environment_warning(returncode: int | None) -> str:
    return (
        f"the startup script's shell ended (status {returncode}) without recording its "
        "environment, so none of its exports reach the component: something ended bash before "
        "the wrapper could (a signal, or `builtin trap` replacing the wrapper's EXIT trap)."
    )


def read_status(
    text: str, returncode: int | None, script: str = ""
) -> tuple[int | None, str | None]:
    """The wrapper's status file: the script's exit status, or `exec LINE` when the `exec` on
    that line of `script` replaced the shell (the process's own status is then the script's);
    the second value names that exec."""
    if returncode is not None and returncode < 0:  # killed by a signal: bash's 128 + N
        returncode = 128 - returncode
    word, _, line = text.strip().partition(" ")
    if word == "exec":
        lines = script.splitlines()
        number = int(line) if line.isdigit() else 0
        shown = lines[number - 1].strip() if 0 < number <= len(lines) else "exec"
        return returncode, f"line {number}: {shown}" if number else shown
    return (int(word), None) if word.lstrip("-").isdigit() else (returncode, None)


def sort_exports(
    result: StartupScriptResult,
    before: Mapping[str, str],
    after: Mapping[str, str],
    airflow_version: str,
    option_keys: frozenset[str],
    on_warning: Callable[[str], None],
) -> None:
    for name, value in sorted(after.items()):
        if name in SHELL_VARIABLES or before.get(name) == value:
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
