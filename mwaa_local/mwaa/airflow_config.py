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
