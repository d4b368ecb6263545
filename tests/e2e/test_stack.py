"""`mwaa-local start` and its lifecycle on real stacks: one Airflow 2 and one Airflow 3, on each
runtime (docker; host; podman where Podman's socket answers)."""

import json
import os
import socket
from dataclasses import dataclass

import docker
import pytest

from tests.e2e.conftest import AIRFLOW2, AIRFLOW3
from tests.e2e.stacks import Project, host_processes, make_project

pytestmark = pytest.mark.e2e

DAG = "mwaa_local_example"


# (runtime, the fixture giving the image or, for host, the Airflow version): the same scenario on
# each runtime. The host runtime needs no image: its virtual environment comes from uv's cache.
SCENARIOS = {
    "docker-airflow2": ("docker", "airflow2_image"),
    "docker-airflow3": ("docker", "airflow3_image"),
    "host-airflow2": ("host", AIRFLOW2),
    "host-airflow3": ("host", AIRFLOW3),
    "podman-airflow3": ("podman", "podman_airflow3_image"),
}


@dataclass
class Scenario:
    project: Project
    runtime: str
    engine: docker.DockerClient | None  # where the containers are; None on host

    @property
    def task_component(self) -> str:
        """Where the example's task runs: a Celery worker, or the host's scheduler."""
        return "scheduler" if self.runtime == "host" else "worker"


@pytest.fixture(params=SCENARIOS.values(), ids=SCENARIOS.keys())
def scenario(request):
    runtime, source = request.param
    if runtime == "host":
        version, engine = source, None
    else:
        version = request.getfixturevalue(source).version
        engine = request.getfixturevalue(f"{runtime}_engine")
    name = f"e2e-{runtime[0]}{version.replace('.', '')}-{os.getpid()}"
    project = make_project(name, version, Runtime=runtime)
    yield Scenario(project, runtime, engine)
    project.destroy()


def run_example(project) -> tuple[str, dict]:
    api = project.api()
    api.unpause(DAG)
    run_id = api.trigger(DAG)
    return run_id, api.wait_for_run(DAG, run_id)


def expected_components(scenario: Scenario) -> set[str]:
    major3 = scenario.project.version >= "3"
    airflow = {"scheduler", "triggerer"} | (
        {"api-server", "dag-processor"} if major3 else {"webserver"}
    )
    if scenario.runtime == "host":
        return airflow | {"migrate-db"}
    return airflow | {"postgres", "redis", "metrics", "migrate-db", "worker"}


def test_lifecycle(scenario):
    project, task_component = scenario.project, scenario.task_component
    started = project.cli("start", "--timings")
    assert started.returncode == 0, started.output
    assert "is AVAILABLE" in started.stdout
    # --timings: the phases, then when each component became ready after `compose up`.
    assert "Where start spent its time" in started.stderr
    for phase in ("image checked", "compose up", "scheduler ready", "every component ready"):
        assert phase in started.stderr, started.stderr
    assert f"http://127.0.0.1:{project.port}" in started.stdout
    assert "admin / " in started.stdout
    assert f"Runtime: {scenario.runtime}" in started.stderr
    if scenario.runtime == "host":  # what cannot be as on MWAA, said once
        assert started.stderr.count("Unlike MWAA") == 1 and "SQLite" in started.stderr

    status = json.loads(project.cli("status", "--json").stdout)
    assert status["Status"] == "AVAILABLE"
    assert set(status["Components"]) == expected_components(scenario)

    # The example DAG runs on the Celery worker (on host, in the scheduler's executor): its log
    # names the worker's container (this machine).
    run_id, run = run_example(project)
    assert run["state"] == "success"
    log = project.api().task_log(DAG, run_id, "where_am_i")
    if scenario.engine is None:
        host = socket.gethostname()
    else:
        container = status["Components"]["worker"]["Container"]
        host = scenario.engine.containers.get(container).attrs["Config"]["Hostname"]
    assert f"ran on host {host} in component {task_component}" in log
    if project.version >= "3":
        # Logged on the task's own stream, the line comes before the "Post Execute" group, which
        # the UI shows folded (a print() could land inside it).
        assert log.index("ran on host") < log.index("::group::Post Execute"), log

    listed = project.cli("airflow", "dags", "list")
    assert listed.returncode == 0, listed.output
    assert DAG in listed.stdout

    echo = "echo component=$MWAA_AIRFLOW_COMPONENT\n"
    shell = project.cli("shell", task_component, input=echo)
    assert f"component={task_component}" in shell.stdout, shell.output

    restarted = project.cli("restart", task_component)
    assert restarted.returncode == 0, restarted.output
    assert json.loads(project.cli("status", "--json").stdout)["Status"] == "AVAILABLE"

    # stop keeps the metadata database: the run is still there after a new start.
    assert project.cli("stop").returncode == 0
    assert json.loads(project.cli("status", "--json").stdout)["Status"] == "STOPPED"
    if scenario.runtime == "host":  # nothing of it keeps running
        assert host_processes(project.state / "host") == []
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
