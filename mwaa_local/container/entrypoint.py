"""The in-container entrypoint: `python -m mwaa_local.container.entrypoint <component> [args...]`.

For an Airflow component it runs MWAA's start sequence (DAG sync, plugins, startup script,
requirements), waits for the metadata database and the Celery broker, then execs the component
with the environment the startup script left. `test-requirements` and `test-startup-script` run
the same sequence steps alone and print a JSON report on stdout.
"""

import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from mwaa_local.container import migration_marker, paths
from mwaa_local.container.dag_sync import skipped_warnings, sync_once
from mwaa_local.container.services import check_database, check_redis, wait_for
from mwaa_local.container.start_sequence import SequenceSettings, run_start_sequence, startup_report
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.log_streams import report_phase

log = logging.getLogger("mwaa-local")

COMPONENT_COMMANDS: dict[str, list[str]] = {
    "webserver": ["airflow", "webserver"],
    "api-server": ["airflow", "api-server"],
    "scheduler": ["airflow", "scheduler"],
    "dag-processor": ["airflow", "dag-processor"],
    "triggerer": ["airflow", "triggerer"],
    "worker": ["airflow", "celery", "worker"],
    # mw1.micro: scheduler, triggerer (DAG processor) and worker in one container.
    "hybrid": [sys.executable, "-m", "mwaa_local.container.hybrid"],
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
    # MWAA's image sets the command's name (anchor-amazon-mwaa-docker-images.md).
    "hybrid": "hybrid",
    "migrate-db": "migrate-db",
}

TEST_COMMANDS = {
    "test-requirements": ("plugins", "startup_script", "requirements"),
    "test-startup-script": ("startup_script",),
}

DEFAULT_WAIT_SECONDS = 120


def airflow_environment(component: str, environ: dict[str, str]) -> dict[str, str]:
    """The environment a component runs with."""
    env = dict(environ)
    env.setdefault("AIRFLOW_HOME", str(paths.AIRFLOW_HOME))
    env["MWAA_AIRFLOW_COMPONENT"] = MWAA_COMPONENT_NAMES.get(component, "worker")
    return env


def wait_for_services(env: dict[str, str]) -> None:
    timeout = float(env.get("MWAA_LOCAL_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))
    database = env.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN") or env.get(
        "AIRFLOW__CORE__SQL_ALCHEMY_CONN"
    )
    # A SQLite file (the host runtime) has no server to wait for.
    if database and database.startswith("postgres"):
        wait_for("the metadata database", lambda: check_database(database), timeout)
    broker = env.get("AIRFLOW__CELERY__BROKER_URL", "")
    if broker.startswith("redis"):
        wait_for("the Celery broker", lambda: check_redis(broker), timeout)


def sync_dags(settings: SequenceSettings) -> None:
    """Copy the bucket's DAG folder into this container's own DAG folder, before anything else."""
    outcome = sync_once(settings.bucket, settings.dag_path, settings.airflow_home / "dags")
    # On stdout, where one-off commands' callers read it (dags check: what was not checked).
    report_phase("dag_sync", settings.component, outcome)
    if not outcome["ok"]:
        raise MwaaLocalError(
            f"{outcome['error']} as user airflow (uid {os.getuid()}): make the project folder "
            "readable by others (chmod o+rX)"
        )
    for warning in skipped_warnings(outcome):
        log.warning("%s", warning.removeprefix("WARNING "))
    log.info(
        "synced %s: %d copied, %d deleted, %d skipped",
        settings.bucket / settings.dag_path,
        len(outcome["copied"]),
        len(outcome["deleted"]),
        len(outcome["skipped"]),
    )


def start_dag_sync(component: str, env: dict[str, str]) -> None:
    """Keep this container's DAG folder in step with the bucket, in the background, for as long
    as the container runs (mwaa-behaviour.md 3)."""
    subprocess.Popen(
        [sys.executable, "-m", "mwaa_local.container.dag_sync"],
        env={**env, "MWAA_LOCAL_COMPONENT": component},
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def write_component_env(env: dict[str, str]) -> None:
    """Leave the component's environment where `mwaa-local shell` and `mwaa-local airflow` load
    it, so they see what the component sees (its name, the startup script's exports)."""
    home = Path(env.get("AIRFLOW_HOME", str(paths.AIRFLOW_HOME)))
    path = home / paths.COMPONENT_ENV_FILE.relative_to(paths.AIRFLOW_HOME)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"export {k}={shlex.quote(v)}" for k, v in sorted(env.items()) if k.isidentifier()]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def migrate_db(env: dict[str, str]) -> int:
    """The one-shot job before the components: migrate the metadata database, then make sure
    the admin login exists with the password mwaa-local printed."""
    if migration_marker.is_current(env):
        log.info("migrate-db: database and admin login already current for this image; skipped")
        return 0
    command = ["python", "-m", "mwaa_local.container.migrate_db"]
    command += [env["MWAA_LOCAL_ADMIN_USERNAME"]] if env.get("MWAA_LOCAL_ADMIN_USERNAME") else []
    log.info("migrate-db: migrating the metadata database")
    code = subprocess.run(command, env=env).returncode
    if code != 0:
        log.error("migrate-db: exited with %d", code)
        return code
    migration_marker.record(env)
    return 0


def start_component(component: str, extra: list[str]) -> None:
    env = airflow_environment(component, dict(os.environ))
    if component == "migrate-db":
        wait_for_services(env)
        sys.exit(migrate_db(env))
    settings = SequenceSettings.from_environ(component, env)
    try:
        sync_dags(settings)
        streams = settings.airflow_home / paths.STREAMS_ROOT.relative_to(paths.AIRFLOW_HOME)
        outcome = run_start_sequence(settings, env, streams_root=streams)
        if outcome.fatal:
            raise MwaaLocalError(f"{component} cannot start: {outcome.fatal}")
    except MwaaLocalError as e:
        # What `update` reads back when the component does not come up (environment/update.py).
        report_phase("start", component, {"ok": False, "error": e.message})
        raise
    write_component_env(outcome.env)
    start_dag_sync(component, outcome.env)
    wait_for_services(outcome.env)
    command = COMPONENT_COMMANDS[component] + extra
    log.info("starting %s: %s", component, " ".join(command))
    os.execvpe(command[0], command, outcome.env)


def run_test_command(name: str, component: str) -> int:
    """`test-requirements` / `test-startup-script`: the sequence's steps alone, a JSON report."""
    env = airflow_environment(component, dict(os.environ))
    settings = SequenceSettings.from_environ(component, env)
    outcome = run_start_sequence(settings, env, streams_root=None, steps=TEST_COMMANDS[name])
    report = {
        "component": component,
        "plugins": outcome.plugins or None,
        "startup_script": startup_report(outcome.startup_script)
        if outcome.startup_script
        else None,
        "requirements": outcome.requirements or None,
        "fatal": outcome.fatal,
    }
    print(json.dumps(report), flush=True)
    if outcome.fatal:
        return 1
    if name == "test-startup-script":
        script = outcome.startup_script
        return 0 if script.exit_status in (0, None) and not script.environment_lost else 1
    return 0 if outcome.requirements.get("ok", True) else 1


# One-off commands that run a module after the scheduler's whole start sequence (`mwaa-local
# dags check`, `dags test` without a running stack, `pytest`): DAGs and tests import with what
# it leaves, as on MWAA.
ONE_OFF_MODULES = {
    "dags-check": ["mwaa_local.container.dag_check"],
    "dags-test": ["mwaa_local.container.dag_test", "--throwaway-db"],
    "project-pytest": ["mwaa_local.container.project_pytest"],
}


def run_one_off_module(name: str, args: list[str]) -> None:
    """`dags-check [ARGS]`, `dags-test DAG_ID [ARGS]`, `project-pytest [ARGS]`: sync the DAG
    folder, run the scheduler's start sequence, then exec the command's module, whose last stdout
    line is its report."""
    env = airflow_environment("scheduler", dict(os.environ))
    settings = SequenceSettings.from_environ("scheduler", env)
    sync_dags(settings)
    outcome = run_start_sequence(settings, env, streams_root=None)
    if outcome.fatal:
        print(json.dumps({"ok": False, "fatal": outcome.fatal}), flush=True)
        sys.exit(1)
    command = [sys.executable, "-m", *ONE_OFF_MODULES[name], *args]
    os.execvpe(command[0], command, outcome.env)


def main(argv: list[str]) -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s [mwaa-local] %(message)s",
        stream=sys.stderr,
    )
    if not argv or argv[0] == "shell":
        os.execvp("bash", ["bash", *argv[1:]])
    component, extra = argv[0], argv[1:]
    try:
        if component in TEST_COMMANDS:
            sys.exit(run_test_command(component, extra[0] if extra else "worker"))
        if component in ONE_OFF_MODULES:
            run_one_off_module(component, extra)
        if component == "bucket-sync":
            os.execvp(sys.executable, [sys.executable, "-m", "mwaa_local.container.s3_mirror"])
        if component == "metrics":
            module = "mwaa_local.container.statsd_collector"
            os.execvp(sys.executable, [sys.executable, "-m", module, *extra])
        if component in MWAA_COMPONENT_NAMES:
            start_component(component, extra)
    except MwaaLocalError as e:
        log.error("%s", e)
        sys.exit(1)
    # Anything else (`airflow version`, `python ...`) runs as given, with no waiting.
    os.execvp(component, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
