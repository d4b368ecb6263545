"""The in-container entrypoint: `python -m mwaa_local.entrypoint <component> [args...]`.

Sets up the Airflow environment, waits for the metadata database and the Celery broker, then
execs the component. MWAA's start sequence (plugins, startup script, requirements) joins here.
"""

import logging
import os
import sys

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.services import check_database, check_redis, wait_for

log = logging.getLogger("mwaa-local")

COMPONENT_COMMANDS: dict[str, list[str]] = {
    "webserver": ["airflow", "webserver"],
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "worker": ["airflow", "celery", "worker"],
    "migrate-db": ["airflow", "db", "migrate"],
}

# What MWAA calls each component in MWAA_AIRFLOW_COMPONENT (mwaa-behaviour.md 1.3 and 8.2: on
# Airflow 3 the API server runs in the web server component, the DAG processor and triggerer
# in the scheduler's).
MWAA_COMPONENT_NAMES = {
    "webserver": "webserver",
    "api-server": "webserver",
    "scheduler": "scheduler",
    "dag-processor": "scheduler",
    "triggerer": "scheduler",
    "worker": "worker",
    "migrate-db": "migrate-db",
}

DEFAULT_WAIT_SECONDS = 120


def airflow_environment(component: str, environ: dict[str, str]) -> dict[str, str]:
    """The environment a component runs with."""
    env = dict(environ)
    env.setdefault("AIRFLOW_HOME", "/usr/local/airflow")
    env["MWAA_AIRFLOW_COMPONENT"] = MWAA_COMPONENT_NAMES[component]
    return env


def wait_for_services(env: dict[str, str]) -> None:
    timeout = float(env.get("MWAA_LOCAL_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
    database = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or env.get(
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN"
    )
    if database:
        wait_for("the metadata database", lambda: check_database(database), timeout)
    broker = env.get("AIRFLOW__CELERY__BROKER_URL", "")
    if broker.startswith("redis"):
        wait_for("the Celery broker", lambda: check_redis(broker), timeout)


def main(argv: list[str]) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [mwaa-local] %(message)s",
        stream=sys.stderr,
    )
    if not argv or argv[0] == "shell":
        os.execvp("bash", ["bash", *argv[1:]])
    component, extra = argv[0], argv[1:]
    if component not in COMPONENT_COMMANDS:
        # Anything else (`airflow version`, `python ...`) runs as given, with no waiting.
        os.execvp(component, argv)
    env = airflow_environment(component, dict(os.environ))
    try:
        wait_for_services(env)
    except MwaaLocalError as e:
        log.error("%s: %s", component, e)
        sys.exit(1)
    command = COMPONENT_COMMANDS[component] + extra
    log.info("starting %s: %s", component, " ".join(command))
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
