"""AirflowConfigurationOptions as MWAA applies them: environment variables on every container.

Source: ../shared/reference/mwaa-behaviour.md section 4.
"""

import re
from collections.abc import Mapping

from mwaa_local.errors import MwaaLocalError

# mwaa-behaviour.md 4.3: "You cannot set or override these options using the Amazon MWAA console
# or API".
FORBIDDEN_OPTIONS: dict[str, str] = {
    "core.multi_team": "incompatible with MWAA auth, CeleryExecutor and environment-level secrets",
    "triggerer.queues_enabled": "deferred tasks hang",
}

# mwaa-behaviour.md 4.3: "Amazon MWAA overrides … Any value specified for this option is ignored";
# MWAA derives it from celery.worker_autoscale.
IGNORED_OPTIONS: frozenset[str] = frozenset({"celery.worker_concurrency"})

# mwaa-behaviour.md 4.3: set by MWAA with highest precedence; user values are silently overridden.
MWAA_OWNED_OPTIONS: frozenset[str] = frozenset(
    {
        "core.executor",
        "core.sql_alchemy_conn",
        "database.sql_alchemy_conn",
        "celery.broker_url",
        "celery.result_backend",
        "core.fernet_key",
        "webserver.secret_key",
        "logging.logging_config_class",
        "core.load_examples",
        "webserver.base_url",
    }
)


def option_env_name(option: str) -> str:
    """`section.key` -> `AIRFLOW__SECTION__KEY`, splitting on the first dot.

    mwaa-behaviour.md 4.1: `foo.user` -> `AIRFLOW__FOO__USER`.
    """
    section, dot, key = option.partition(".")
    if not dot or not section or not key:
        raise MwaaLocalError(
            f"Airflow configuration option {option!r} has no section.",
            hint="Write it as section.key, e.g. core.parallelism.",
        )
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def configuration_options_as_env(options: Mapping[str, str]) -> dict[str, str]:
    """The environment variables MWAA attaches to each container for AirflowConfigurationOptions."""
    return {option_env_name(option): str(value) for option, value in options.items()}


# mwaa-behaviour.md 4.4: MWAA's documented overrides of Airflow's defaults, which the user's
# AirflowConfigurationOptions may change.
MWAA_DEFAULT_OPTIONS: dict[str, str] = {
    "core.parallelism": "10000",
    "core.max_active_tasks_per_dag": "10000",
    "celery.sync_parallelism": "1",
    "scheduler.task_queued_timeout": "1800",
    "usage_data_collection.enabled": "False",
    # mwaa-behaviour.md 4.4 and 4.5: MWAA's image passes the secrets backend this pattern so
    # aws_default (the execution role, aws://) never costs a secrets lookup. A backend_kwargs in
    # AirflowConfigurationOptions replaces it whole, as on MWAA. Airflow 3's workers read
    # workers.secrets_backend_kwargs only with their own workers.secrets_backend, else these.
    "secrets.backend_kwargs": '{"connections_lookup_pattern": "^(?!aws_default$).*$"}',
    "core.load_examples": "False",
}


# mwaa-behaviour.md 3 and 4.4: on MWAA a new DAG file is listed after dag_dir_list_interval
# (300 s) and a changed one parsed after min_file_process_interval (30 s); the serialized DAG is
# written at most every min_serialized_dag_update_interval (30 s). mwaa-local's fast mode
# shortens them so a saved file is parsed within seconds; AirflowConfigurationOptions still win.
FAST_PARSING_OPTIONS: dict[int, dict[str, str]] = {
    2: {
        "scheduler.dag_dir_list_interval": "2",
        "scheduler.min_file_process_interval": "2",
        "core.min_serialized_dag_update_interval": "1",
        "core.min_serialized_dag_fetch_interval": "1",
    },
    3: {
        "dag_processor.refresh_interval": "2",
        "dag_processor.min_file_process_interval": "2",
    },
}


def parsing_options(airflow_major: int, dag_sync: str) -> dict[str, str]:
    """The parsing intervals for a DagSync mode: fast, or MWAA's own (Airflow's defaults)."""
    return FAST_PARSING_OPTIONS[airflow_major] if dag_sync == "fast" else {}


# The env files (compose.env through --env-file, airflow.env as a service's env_file) are read by
# docker-compose v1 or compose v2, whose rules differ. v1 parses them with python-dotenv: quotes
# removed, `\\` and `\'` decoded in single quotes, escapes in double quotes, an unquoted value cut
# at ` #`, and `${VAR}` / `${VAR:-default}` expanded in every value, however quoted. v2 parses
# them with compose-go (docs.docker.com/compose/env-file/, "Syntax"): single-quoted values
# literal but for `\'`, double-quoted and unquoted values interpolated (`$VAR`, `$$`). So a
# value is written single-quoted when both read that alike (no quote, no `\\`), else
# double-quoted with `\\` and `\"` when it holds no `$`. A value neither form carries, or ending
# in a backslash (v1 reads `\"` or `\'` there), is refused, naming the key, never the value.
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
V1_EXPANDED = re.compile(r"\$\{[^}:]*(?::-[^}]*)?\}")


def env_file_value(key: str, value: str) -> str:
    """`value` quoted so that docker-compose v1 and compose v2 both read it back unchanged."""
    if not ENV_KEY.fullmatch(key):
        raise MwaaLocalError(f"{key!r} is not an environment variable name.")
    if any(c in value for c in "\n\r\x00"):
        raise MwaaLocalError(f"{key} holds a line break or NUL, which an env file cannot carry.")
    # v1 takes a backslash before the closing quote for an escaped quote.
    if not V1_EXPANDED.search(value) and not value.endswith("\\"):
        if "'" not in value and "\\\\" not in value:
            return f"'{value}'"
        if "$" not in value:
            return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise MwaaLocalError(
        f"{key}'s value cannot be written to an env file that docker-compose v1 and v2 read "
        "alike: it holds ${...}, ends with a backslash, or holds '$' together with a quote (') "
        "or a backslash.",
        hint="Choose a value without them (MWAA_LOCAL_ADMIN_PASSWORD is Local.AdminPassword; "
        "AIRFLOW__SECTION__KEY is AirflowConfigurationOptions' section.key; the paths come from "
        "where the project folder is).",
    )


def env_file_text(variables: Mapping[str, str]) -> str:
    """An env file docker-compose v1 and v2 both read as `variables`: KEY='value', one a line."""
    return "".join(f"{key}={env_file_value(key, value)}\n" for key, value in variables.items())
