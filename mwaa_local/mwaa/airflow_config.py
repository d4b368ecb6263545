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
    "secrets.connections_lookup_pattern": "^(?!aws_default$).*$",
    "core.load_examples": "False",
}


def env_file_text(variables: Mapping[str, str]) -> str:
    """An env file Docker and compose both read: KEY=value, one per line, no quoting."""
    lines = []
    for key, value in variables.items():
        if "\n" in value:
            raise MwaaLocalError(f"{key} holds a line break, which an env file cannot carry.")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"
