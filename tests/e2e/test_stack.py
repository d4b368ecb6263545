"""`mwaa-local start` and its lifecycle on real stacks: one Airflow 2 and one Airflow 3."""

import json
import os
import socket

import pytest

from tests.e2e.stacks import make_project

pytestmark = pytest.mark.e2e

DAG = "mwaa_local_example"


@pytest.fixture(params=["airflow2_image", "airflow3_image"])
def project(request):
    image = request.getfixturevalue(request.param)
    name = f"e2e-{image.version.replace('.', '')}-{os.getpid()}"
    project = make_project(name, image.version)
    yield project
    project.destroy()


def run_example(project) -> tuple[str, dict]:
    api = project.api()
    api.unpause(DAG)
    run_id = api.trigger(DAG)
    return run_id, api.wait_for_run(DAG, run_id)


def test_lifecycle(project, docker_engine):
    started = project.cli("start", "--timings")
    assert started.returncode == 0, started.output
    assert "is AVAILABLE" in started.stdout
    # --timings: the phases, then when each component became ready after `compose up`.
    assert "Where start spent its time" in started.stderr
    for phase in ("image checked", "compose up", "scheduler ready", "every component ready"):
        assert phase in started.stderr, started.stderr
    assert f"http://127.0.0.1:{project.port}" in started.stdout
    assert "admin / " in started.stdout

    status = json.loads(project.cli("status", "--json").stdout)
    assert status["Status"] == "AVAILABLE"
    expected = {"postgres", "redis", "metrics", "migrate-db", "scheduler", "worker", "triggerer"}
    expected |= {"api-server", "dag-processor"} if project.version >= "3" else {"webserver"}
    assert set(status["Components"]) == expected

    # The example DAG runs on the Celery worker: its log names the worker's container.
    run_id, run = run_example(project)
    assert run["state"] == "success"
    log = project.api().task_log(DAG, run_id, "where_am_i")
    worker = docker_engine.containers.get(status["Components"]["worker"]["Container"])
    assert f"ran on host {worker.attrs['Config']['Hostname']} in component worker" in log
    if project.version >= "3":
        # Logged on the task's own stream, the line comes before the "Post Execute" group, which
        # the UI shows folded (a print() could land inside it).
        assert log.index("ran on host") < log.index("::group::Post Execute"), log

    listed = project.cli("airflow", "dags", "list")
    assert listed.returncode == 0, listed.output
    assert DAG in listed.stdout

    shell = project.cli("shell", "worker", input="echo component=$MWAA_AIRFLOW_COMPONENT\n")
    assert "component=worker" in shell.stdout, shell.output

    restarted = project.cli("restart", "worker")
    assert restarted.returncode == 0, restarted.output
    assert json.loads(project.cli("status", "--json").stdout)["Status"] == "AVAILABLE"

    # stop keeps the metadata database: the run is still there after a new start.
    assert project.cli("stop").returncode == 0
    assert json.loads(project.cli("status", "--json").stdout)["Status"] == "STOPPED"
    again = project.cli("start")
    assert again.returncode == 0, again.output
    assert run_id in [r["dag_run_id"] for r in project.api().dag_runs(DAG)]
    # Same image, same login: the one-shot migration job has nothing to do.
    assert "already current for this image; skipped" in project.cli("logs", "migrate-db").output

    # reset-db empties it.
    reset = project.cli("reset-db", "--yes")
    assert reset.returncode == 0, reset.output
    assert project.api().dag_runs(DAG) == []
    assert "skipped" not in project.cli("logs", "migrate-db").output


def test_broken_component_fails_start_naming_it(airflow3_image):
    name = f"e2e-broken-{os.getpid()}"
    project = make_project(name, airflow3_image.version, options={"celery.pool": "no_such_pool"})
    try:
        result = project.cli("start", "--timeout", "240")
        assert result.returncode != 0
        assert "worker" in result.stderr.split("Last lines of its log")[0]
        assert "no_such_pool" in result.stderr  # the log tail shows the cause
        assert "Traceback" not in result.stderr.split("Last lines of its log")[0]
    finally:
        project.destroy()


def test_a_busy_port_is_refused_naming_the_setting(airflow3_image, docker_engine):
    project = make_project(f"e2e-port-{os.getpid()}", airflow3_image.version)
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", project.port))
            busy.listen()
            result = project.cli("start", "--timeout", "60")
        assert result.returncode == 1
        assert f"Port {project.port}" in result.stderr
        assert "WebserverPort" in result.stderr and "MWAA_LOCAL_WEBSERVER_PORT" in result.stderr
        label = f"com.docker.compose.project={project.name.lower()}"
        assert docker_engine.containers.list(all=True, filters={"label": label}) == []
    finally:
        project.destroy()
