"""The in-container entrypoint: `python -m mwaa_local.entrypoint <component> [args...]`.

Sets up the Airflow environment, waits for the metadata database and the Celery broker, then
execs the component. MWAA's start sequence (plugins, startup script, requirements) joins here.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

from mwaa_local.bucket.sync import sync_folder
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
BUCKET = "/usr/local/mwaa-local/bucket"


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


def sync_dags(env: dict[str, str]) -> None:
    """Copy the bucket's DAG folder into this container's own DAG folder."""
    source = Path(BUCKET) / env.get("MWAA_LOCAL_DAG_S3_PATH", "dags")
    target = Path(env["AIRFLOW_HOME"]) / "dags"
    try:
        result = sync_folder(source, target)
    except PermissionError as e:
        raise MwaaLocalError(
            f"cannot read the bucket's DAG folder ({e.filename}) as user airflow (uid "
            f"{os.getuid()}): make the project folder readable by others (chmod o+rX)"
        ) from e
    log.info("synced %s: %d copied, %d deleted", source, len(result.copied), len(result.deleted))


def migrate_db(env: dict[str, str]) -> int:
    """The one-shot job before the components: migrate the metadata database, then make sure
    the admin login exists with the password mwaa-local printed."""
    steps = [["airflow", "db", "migrate"]]
    username = env.get("MWAA_LOCAL_ADMIN_USERNAME")
    password = env.get("MWAA_LOCAL_ADMIN_PASSWORD")
    if username and password:
        steps.append(["python", "-m", "mwaa_local.mwaa.admin_user", username])
    for command in steps:
        log.info("migrate-db: %s", " ".join(command[:3]))
        code = subprocess.run(command, env=env).returncode
        if code != 0:
            log.error("migrate-db: %s exited with %d", " ".join(command[:3]), code)
            return code
    return 0


def main(argv: list[str]) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [mwaa-local] %(message)s",
        stream=sys.stderr,
    )
    if not argv or argv[0] == "shell":
        os.execvp("bash", ["bash", *argv[1:]])
    component, extra = argv[0], argv[1:]
    if component not in MWAA_COMPONENT_NAMES:
        # Anything else (`airflow version`, `python ...`) runs as given, with no waiting.
        os.execvp(component, argv)
    env = airflow_environment(component, dict(os.environ))
    try:
        wait_for_services(env)
        if component == "migrate-db":
            sys.exit(migrate_db(env))
        sync_dags(env)
    except MwaaLocalError as e:
        log.error("%s: %s", component, e)
        sys.exit(1)
    command = COMPONENT_COMMANDS[component] + extra
    log.info("starting %s: %s", component, " ".join(command))
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
