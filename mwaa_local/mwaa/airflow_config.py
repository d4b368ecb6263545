"""AirflowConfigurationOptions as MWAA applies them: environment variables on every container.

Source: ../shared/reference/mwaa-behaviour.md section 4.
"""

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


def env_file_text(variables: Mapping[str, str]) -> str:
    """An env file Docker and compose both read: KEY=value, one per line, no quoting."""
    lines = []
    for key, value in variables.items():
        if "\n" in value:
            raise MwaaLocalError(f"{key} holds a line break, which an env file cannot carry.")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
