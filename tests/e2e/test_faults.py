"""Faults on a real engine (issue 17): what breaks on a laptop, and what mwaa-local (and the stack
it starts) does about it. One Airflow 3 stack for the whole module, the faults in sequence; the
engine restart runs last. Each test's docstring says the expected outcome first."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker.errors
import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.state import StateDir
from tests.e2e.stacks import Project, make_project
from tests.required import require

pytestmark = pytest.mark.e2e

DAG = "faults_sleep"
SLEEPY = '''"""A task that sleeps conf["sleep"] seconds on its first try, and not on a retry."""

import time

import pendulum
from airflow.sdk import dag, task


@dag(dag_id="faults_sleep", description="fault tests", schedule=None, catchup=False,
     start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
def faults_sleep():
    @task
    def nap(**context):
        if context["ti"].try_number == 1:
            time.sleep(int(context["dag_run"].conf.get("sleep", 0)))

    nap()


faults_sleep()
'''
# Airflow's own recovery, set short so each fault resolves in seconds: a task whose worker died
# is failed after the heartbeat timeout and retried once (MWAA lists core.default_task_retries);
# a task queued in a Redis that lost it is queued again after task_queued_timeout.
OPTIONS = {
    "core.default_task_retries": "1",
    "core.default_task_retry_delay": "2",
    "scheduler.task_instance_heartbeat_timeout": "30",
    "scheduler.task_instance_heartbeat_timeout_detection_interval": "5",
    "scheduler.task_queued_timeout": "30",
    "scheduler.task_queued_timeout_check_interval": "5",
}
# The command line .ci/run starts the engine with; the engine test repeats it.
DOCKERD = ["dockerd", "--storage-driver=overlay2"]


def poll(what: str, check, timeout: float, every: float = 0.5):
    """check()'s first truthy answer; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer:
            return answer
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def cli_process(project: Project, *args: str, log: Path) -> subprocess.Popen:
    """`mwaa-local` in its own process group (as a terminal runs it), output in `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "mwaa_local.cli", "--project-dir", str(project.path), *args],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # A terminal's Ctrl-C interrupts Python; a test run started in the background (`cmd &`,
        # nohup) hands its children SIGINT ignored, and Python then installs no handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def container(docker_engine, project: Project, service: str):
    label = [f"com.docker.compose.project={project.name.lower()}"]
    try:
        found = docker_engine.containers.list(
            all=True, filters={"label": [*label, f"com.docker.compose.service={service}"]}
        )
    except docker.errors.NotFound:  # compose removed one between the list and its inspect
        return None
    return found[0] if found else None


def available(project: Project) -> bool:
    with contextlib.suppress(json.JSONDecodeError):
        return project.status()["Status"] == "AVAILABLE"
    return False


def ensure_available(project: Project) -> None:
    if not available(project):
        started = project.cli("start", timeout=600)
        assert started.returncode == 0, started.output


def task_instance(project: Project, run_id: str) -> dict:
    return project.api().request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/nap")


def trigger(project: Project, sleep: int) -> str:
    api = project.api()
    poll(f"{DAG} parsed", lambda: project.dag_description(DAG) is not None, 180)
    api.unpause(DAG)
    return api.trigger(DAG, {"sleep": sleep})


def final_run(project: Project, run_id: str, timeout: float) -> dict:
    def finished():
        with contextlib.suppress(MwaaLocalError):  # the API server may be restarting
            run = project.api().dag_run(DAG, run_id)
            return run if run["state"] in ("success", "failed") else None

    return poll(f"run {run_id} final", finished, timeout, every=1)


def running_task(project: Project, run_id: str) -> dict:
    return poll(
        "the task running",
        lambda: (ti := task_instance(project, run_id))["state"] == "running" and ti,
        180,
    )


@pytest.fixture(scope="module")
def project(airflow3_image):
    project = make_project(f"e2e-faults-{os.getpid()}", airflow3_image.version, options=OPTIONS)
    (project.path / "dags" / f"{DAG}.py").write_text(SLEEPY)
    try:
        yield project
    finally:
        project.destroy()


def test_an_interrupted_start_is_finished_by_the_next_one(project, docker_engine, tmp_path):
    """Expected: a `start` killed by SIGTERM while migrate-db migrates, and one stopped by Ctrl-C
    (SIGINT to its process group) while the components start, leave nothing the next `start`
    cannot use: it brings the environment to AVAILABLE and says it found what the interrupted
    `start` (named, with its pid) left."""
    first = cli_process(project, "start", log=tmp_path / "first.log")

    def migrating():
        migrate = container(docker_engine, project, "migrate-db")
        return migrate is not None and migrate.status == "running"

    poll("migrate-db running", migrating, 600, every=0.2)
    os.killpg(first.pid, signal.SIGTERM)
    assert first.wait(60) != 0
    holder = StateDir(project.state).holder()
    assert holder is not None and holder.pid == first.pid  # left behind: it never finished

    second = cli_process(project, "start", log=tmp_path / "second.log")

    def starting():
        scheduler = container(docker_engine, project, "scheduler")
        if scheduler is None:
            return False
        scheduler.reload()
        return scheduler.status == "running" and scheduler.health != "healthy"

    poll("the components starting", starting, 600, every=0.2)
    os.killpg(second.pid, signal.SIGINT)
    assert second.wait(60) != 0
    said = " ".join((tmp_path / "second.log").read_text().split())
    assert f"Found what `mwaa-local start` (pid {first.pid}, since" in said, said

    third = project.cli("start", timeout=600)
    assert third.returncode == 0, third.output
    said = " ".join(third.stderr.split())
    assert f"Found what `mwaa-local start` (pid {second.pid}, since" in said, third.stderr
    assert "was interrupted before it finished" in said
    assert project.status()["Status"] == "AVAILABLE"


def test_a_worker_killed_mid_task_comes_back_and_the_task_is_retried(project, docker_engine):
    """Expected: the worker's main process SIGKILLed (as the OOM killer does) while a task sleeps
    in it: `status` shows the worker not healthy, the restart policy brings it back by itself,
    the scheduler fails the task once its heartbeat stops and retries it
    (core.default_task_retries = 1), so the run ends SUCCESS on try 2; the next run succeeds.
    (`docker kill` would not do: Docker counts it as a manual stop, and no restart policy
    restarts a container stopped by hand; the user's `mwaa-local start` does.)"""
    ensure_available(project)
    run_id = trigger(project, 300)
    running_task(project, run_id)
    worker = container(docker_engine, project, "worker")
    restarts = worker.attrs["RestartCount"]
    try:
        os.kill(worker.attrs["State"]["Pid"], signal.SIGKILL)
    except PermissionError:
        require(False, "killing the worker's process needs root on the engine's host")

    def worker_down():
        shown = project.status()
        component = shown["Components"]["worker"]
        return shown["Status"] != "AVAILABLE" and component["Health"] != "healthy" and shown

    shown = poll("status showing the worker down", worker_down, 30, every=0.2)
    assert shown["Status"] in ("UNAVAILABLE", "CREATING"), shown["Status"]

    run = final_run(project, run_id, 300)
    assert run["state"] == "success", run
    assert task_instance(project, run_id)["try_number"] == 2
    poll("the environment AVAILABLE again", lambda: available(project), 180, every=1)
    assert project.status()["Components"]["worker"]["RestartCount"] > restarts

    assert final_run(project, trigger(project, 0), 120)["state"] == "success"


def test_postgres_restarted_mid_run_loses_no_run(project, docker_engine):
    """Expected: Postgres restarted while a task runs: with no manual step the scheduler, the
    worker and the API server work again (AVAILABLE), the run in flight ends SUCCESS (on its
    first try or retried), and a new run succeeds."""
    ensure_available(project)
    run_id = trigger(project, 20)
    running_task(project, run_id)
    container(docker_engine, project, "postgres").restart(timeout=10)

    run = final_run(project, run_id, 300)
    assert run["state"] == "success", run
    poll("the environment AVAILABLE again", lambda: available(project), 180, every=1)
    assert final_run(project, trigger(project, 0), 120)["state"] == "success"


def test_a_task_queued_when_redis_restarts_is_not_stuck(project, docker_engine):
    """Expected: a task queued in Redis (no worker consuming) when Redis restarts, losing its
    queue: the worker reconnects to the new Redis, the scheduler queues the task again after
    scheduler.task_queued_timeout, and the run ends SUCCESS within a bound, not queued for
    ever."""
    ensure_available(project)
    worker = container(docker_engine, project, "worker")
    worker.stop(timeout=10)
    try:
        run_id = trigger(project, 0)
        poll("the task queued", lambda: task_instance(project, run_id)["state"] == "queued", 120)
        container(docker_engine, project, "redis").restart(timeout=5)
    finally:
        worker.start()
    run = final_run(project, run_id, 240)
    assert run["state"] == "success", run
    poll("the environment AVAILABLE again", lambda: available(project), 180, every=1)


def test_two_starts_at_once_and_a_killed_holder(project, tmp_path):
    """Expected: of two `start` on one project at once, the second waits, naming the first
    (command, pid, since), and both succeed; a `start` killed with kill -9 while it holds the
    lock leaves it free: the next `start` takes it at once, says what it found, and succeeds."""
    ensure_available(project)
    state = StateDir(project.state)

    def holding(process: subprocess.Popen):
        holder = state.holder()
        assert process.poll() is None, "it ended before it held the lock"
        return holder is not None and holder.pid == process.pid

    first = cli_process(project, "start", log=tmp_path / "first.log")
    poll("the first start holding the lock", lambda: holding(first), 60, every=0.05)
    second = cli_process(project, "start", log=tmp_path / "second.log")
    assert first.wait(600) == 0, (tmp_path / "first.log").read_text()
    assert second.wait(600) == 0, (tmp_path / "second.log").read_text()
    said = " ".join((tmp_path / "second.log").read_text().split())
    assert f"Waiting for `mwaa-local start` (pid {first.pid}, since " in said, said

    killed = cli_process(project, "start", log=tmp_path / "killed.log")
    poll("the start holding the lock", lambda: holding(killed), 60, every=0.05)
    killed.kill()
    killed.wait()
    began = time.monotonic()
    after = project.cli("start", timeout=600)
    assert after.returncode == 0, after.output
    said = " ".join(after.stderr.split())
    assert "Waiting for" not in said
    assert f"Found what `mwaa-local start` (pid {killed.pid}, since" in said, said
    assert time.monotonic() - began < 300


@contextlib.contextmanager
def tmpfs(folder: Path, size: str):
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_in_the_state_folder_is_a_clear_error(airflow3_image):
    """Expected: with the state folder on a full 64 KiB filesystem, `start` fails with an error
    naming the file it could not write and the free space there, no traceback, and every JSON
    file left there parses (nothing half-written)."""
    full = make_project(f"e2e-full-{os.getpid()}", airflow3_image.version)
    try:
        with tmpfs(full.path / ".mwaa-local", "64k") as folder:
            # The lock file exists (a page of its own), so `start` gets to the secrets.
            (folder / full.name).mkdir()
            (folder / full.name / "command.lock").write_text("null")
            with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
                while True:
                    filler.write(b"\0" * 4096)
                    filler.flush()
            result = full.cli("start", "--timeout", "60", timeout=300)
            assert result.returncode == 1, result.output
            said = " ".join(result.stderr.split())
            assert "Traceback" not in result.output
            assert f"Cannot write {folder}/" in said, said
            assert "No space left on device" in said and "free there" in said, said
            for path in folder.rglob("*"):
                if path.suffix == ".json" or path.name == "command.lock":
                    text = path.read_text()
                    assert not text or json.loads(text) is not None, path
            assert not list(folder.rglob("*.tmp"))
    finally:
        full.destroy()


def engine_process() -> int | None:
    """The pid of a dockerd started by the command line .ci/run uses (None: another one, e.g.
    Docker Desktop or systemd's, which this test cannot restart the same way)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().rstrip(b"\0").split(b"\0")
            if argv and os.path.basename(argv[0].decode()) == "dockerd":
                return int(entry.name) if [a.decode() for a in argv[1:]] == DOCKERD[1:] else None
    return None


def gone(pid: int) -> bool:
    """The process ended (a zombie its parent has not reaped counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def engine_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def test_the_engine_restarted_keeps_the_history(project):
    """Expected (runs last): with dockerd stopped, `status` says UNAVAILABLE and why; once
    dockerd runs again, `start` brings the environment back to AVAILABLE and the earlier DAG
    runs are still listed. dockerd is started again even when the test fails."""
    pid = engine_process()
    require(
        pid is not None and os.geteuid() == 0,
        f"dockerd was not started as `{' '.join(DOCKERD)}` by root, so this test cannot stop "
        "and start it again",
    )
    ensure_available(project)
    before = {run["dag_run_id"] for run in project.api().dag_runs(DAG)}
    if not before:
        before = {trigger(project, 0)}
        final_run(project, next(iter(before)), 120)
    try:
        os.kill(pid, signal.SIGTERM)
        poll("dockerd stopped", lambda: gone(pid), 120)
        status = project.cli("status")
        assert status.returncode == 1, status.output
        assert status.stdout.splitlines()[0] == f"Environment {project.name}: UNAVAILABLE"
        assert "No Docker engine answers" in status.stdout
    finally:
        if not engine_answers():
            with open("/tmp/dockerd.log", "ab") as log:
                subprocess.Popen(DOCKERD, stdout=log, stderr=log, start_new_session=True)
            poll("dockerd answering again", engine_answers, 120, every=1)
    started = project.cli("start", timeout=600)
    assert started.returncode == 0, started.output
    assert "is AVAILABLE" in started.stdout
    assert before <= {run["dag_run_id"] for run in project.api().dag_runs(DAG)}
