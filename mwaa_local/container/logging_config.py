"""Airflow's own logging config with the LoggingConfiguration levels applied at the source, as
MWAA's logging config does (MWAA owns logging.logging_config_class, mwaa-behaviour.md 4.3, 7.1):
the task logger and handler at the Task level, the DAG file processor's at the DAGProcessing
level. Where the files go (the groups' folders) is set by base_log_folder and
child_process_log_directory in the components' environment (runtime/stack.py).

    AIRFLOW__LOGGING__LOGGING_CONFIG_CLASS=mwaa_local.container.logging_config.LOGGING_CONFIG

Every Airflow process imports this, so it never raises: on any surprise it is Airflow's default.
"""

import json
import os
from typing import Any

from airflow.config_templates.airflow_local_settings import DEFAULT_LOGGING_CONFIG

from mwaa_local.mwaa.logging_levels import with_levels


def _build() -> dict[str, Any]:
    try:
        types = json.loads(os.environ.get("MWAA_LOCAL_LOGGING") or "{}")
        return with_levels(DEFAULT_LOGGING_CONFIG, types)
    except Exception:  # never break a component over its log levels
        return DEFAULT_LOGGING_CONFIG


LOGGING_CONFIG = _build()
