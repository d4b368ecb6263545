"""The example DAG: one task that says where it ran. Works on Airflow 2 and 3."""

import logging
import os
import socket

import pendulum

try:
    from airflow.sdk import dag, task  # Airflow 3
except ImportError:
    from airflow.decorators import dag, task  # Airflow 2

log = logging.getLogger(__name__)


@dag(
    dag_id="mwaa_local_example",
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mwaa-local"],
)
def mwaa_local_example():
    @task
    def where_am_i() -> str:
        host = socket.gethostname()
        component = os.environ.get("MWAA_AIRFLOW_COMPONENT")
        # The task's logger, not print(): Airflow 3 carries a task's stdout on a stream of its
        # own, so a printed line can land in the log's collapsed "Post Execute" group.
        log.info("mwaa-local example ran on host %s in component %s", host, component)
        return host

    where_am_i()


mwaa_local_example()
