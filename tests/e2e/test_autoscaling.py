"""Sized and scaled like MWAA, on one real stack and one DAG run (issue 14).

mw1.small, MinWorkers 1, MaxWorkers 3, celery.worker_autoscale 2,2, scale-in cooldown 20 s;
a DAG of 6 parallel 60-second tasks. The run's tasks also feed the log and metrics checks, so
the whole scenario costs one stack start and one run.
"""

import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.stacks import REPO, make_project

pytestmark = pytest.mark.e2e

DAG = "mwaa_local_burst"
TASKS = 6
FIXTURE = REPO / "tests" / "fixtures" / "autoscaling" / f"{DAG}.py"
COOLDOWN = 20
# The autoscaler polls every 5 s; a new replica counts once compose has created it.
SCALE_UP_SECONDS = 60
# Cooldown, a poll, and a warm shutdown of an idle worker.
SCALE_IN_SECONDS = COOLDOWN + 60


def worker_count(engine, project) -> int:
    labels = [f"com.docker.compose.project={project.name.lower()}"]
    labels.append("com.docker.compose.service=worker")
    return len(engine.containers.list(filters={"label": labels, "status": "running"}))


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def burst_project(request):
    image = request.getfixturevalue("airflow2_image")
    name = f"e2e-scale-{os.getpid()}"
    project = make_project(name, image.version, {"celery.worker_autoscale": "2,2"})
    settings = yaml.safe_load((project.path / "mwaa-local.yaml").read_text())
    settings |= {"EnvironmentClass": "mw1.small", "MinWorkers": 1, "MaxWorkers": 3}
    settings["Local"]["WorkerScaleInCooldown"] = COOLDOWN
    (project.path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    shutil.copy(FIXTURE, project.path / "dags" / FIXTURE.name)
    yield project
    project.cli("stop", timeout=120)
    project.destroy()


@pytest.fixture(scope="module")
def burst_run(burst_project, docker_engine):
    """Start the stack, run the burst once, and record the worker count every second."""
    project = burst_project
    timings = {}
    started = time.monotonic()
    result = project.cli("start")
    assert result.returncode == 0, result.output
    timings["start"] = time.monotonic() - started
    assert worker_count(docker_engine, project) == 1
    api = project.api()
    wait_for("the burst DAG is parsed", lambda: project.dag_description(DAG) is not None, 120)
    api.unpause(DAG)
    triggered = time.monotonic()
    run_id = api.trigger(DAG)
    counts: list[tuple[float, int]] = []
    state = None
    while time.monotonic() - triggered < 600:
        counts.append((time.monotonic() - triggered, worker_count(docker_engine, project)))
        state = api.dag_run(DAG, run_id)["state"]
        if state in ("success", "failed"):
            break
        time.sleep(1)
    timings["run"] = time.monotonic() - triggered
    ended = time.monotonic()
    wait_for(
        "back to one worker after the cooldown",
        lambda: worker_count(docker_engine, project) == 1,
        SCALE_IN_SECONDS,
    )
    timings["scale_in"] = time.monotonic() - ended
    instances = api.request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances")
    print("e2e autoscaling timings (s):", json.dumps({k: round(v) for k, v in timings.items()}))
    return {
        "project": project,
        "run_id": run_id,
        "state": state,
        "counts": counts,
        "instances": instances["task_instances"],
        "timings": timings,
    }


def test_workers_scale_out_to_max_and_back_to_min_without_killing_a_task(burst_run):
    assert burst_run["state"] == "success"
    counts = burst_run["counts"]
    reached = [at for at, count in counts if count == 3]
    assert reached, f"never 3 workers: {counts}"
    assert reached[0] <= SCALE_UP_SECONDS, counts
    assert max(count for _, count in counts) == 3  # never above MaxWorkers
    instances = burst_run["instances"]
    assert len(instances) == TASKS
    # Every task succeeded on its first try: none was killed by a scale-in.
    assert {(ti["state"], ti["try_number"]) for ti in instances} == {("success", 1)}
    # They ran on three workers, two at a time each (celery.worker_autoscale 2,2).
    hosts = [ti["hostname"] for ti in instances]
    assert len(set(hosts)) == 3 and all(hosts.count(h) == 2 for h in hosts), hosts


def test_status_shows_workers_and_the_decisions_are_logged(burst_run):
    project: object = burst_run["project"]
    status = project.status()
    workers = status["Workers"]
    assert (workers["Current"], workers["Min"], workers["Max"]) == (1, 1, 3)
    assert workers["Autoscaler"]["Running"] is True
    text = project.cli("status").stdout
    assert "Workers: 1/1/3 (current/min/max)" in text
    log = Path(workers["Autoscaler"]["Log"]).read_text()
    assert "scale-out 1 -> 3" in log
    assert '"tasks_per_worker": 2' in log
    assert "scale-in 3 -> 1" in log
    assert "stopped (warm shutdown" in log
