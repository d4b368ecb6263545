"""The autoscaler's loop against a fake engine: what it reads, what it asks compose, which
container it stops, what it logs; and its host process (lock, start, stop)."""

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mwaa_local.scaling import process
from mwaa_local.scaling.loop import STOP_TIMEOUT_SECONDS, ScalingLoop
from mwaa_local.scaling.observe import parse_task_rows
from mwaa_local.spec.settings import load_environment


class FakeContainer:
    def __init__(self, engine: "FakeEngine", service: str, number: int) -> None:
        self.engine = engine
        self.service = service
        self.name = f"env_{service}_{number}"
        self.labels = {
            "com.docker.compose.project": "env",
            "com.docker.compose.service": service,
            "com.docker.compose.container-number": str(number),
        }
        self.status = "running"
        self.stopped_with: int | None = None

    @property
    def attrs(self) -> dict:
        return {
            "State": {"Status": self.status, "ExitCode": 0},
            "Config": {"Hostname": f"host{self.name[-1]}"},
        }

    def exec_run(self, command):
        assert command[0] == "psql"
        return 0, self.engine.task_rows.encode()

    def stop(self, timeout: int) -> None:
        self.stopped_with = timeout
        self.status = "exited"

    def reload(self) -> None:
        pass

    def remove(self) -> None:
        self.engine.items.remove(self)


class FakeEngine:
    def __init__(self) -> None:
        self.items: list[FakeContainer] = []
        self.task_rows = ""
        self.containers = self

    def add(self, service: str) -> FakeContainer:
        number = 1 + sum(1 for c in self.items if c.service == service)
        container = FakeContainer(self, service, number)
        self.items.append(container)
        return container

    def list(self, **query):
        filters = query.get("filters") or {}
        wanted = dict(label.split("=", 1) for label in filters.get("label", []))
        found = [c for c in self.items if query.get("all") or c.status == "running"]
        found = [c for c in found if filters.get("status") in (None, c.status)]
        return [c for c in found if all(c.labels.get(k) == v for k, v in wanted.items())]

    def get(self, name: str) -> FakeContainer:
        return next(c for c in self.items if c.name == name)


class FakeStack:
    project = "env"

    def __init__(self, environment, engine: FakeEngine) -> None:
        self.environment = environment
        self.client = engine
        self.composed: list[tuple[str, ...]] = []

    def compose(self, *args: str) -> str:
        self.composed.append(args)
        scale = next(a for a in args if a.startswith("worker="))
        wanted = int(scale.split("=")[1])
        while len(self.client.list(filters={"label": ["com.docker.compose.service=worker"]})) < (
            wanted
        ):
            self.client.add("worker")
        return ""


@pytest.fixture
def engine(tmp_path) -> FakeEngine:
    engine = FakeEngine()
    engine.add("postgres")
    engine.add("worker")
    return engine


@pytest.fixture
def loop(tmp_path, engine):
    (tmp_path / "mwaa-local.yaml").write_text(
        "Name: env\nMinWorkers: 1\nMaxWorkers: 3\n"
        "AirflowConfigurationOptions:\n  celery.worker_autoscale: '2,2'\n"
        "Local:\n  WorkerScaleInCooldown: 20\n"
    )
    environment = load_environment(tmp_path, environ={})
    clock = iter(range(0, 10_000, 5))
    return ScalingLoop(
        FakeStack(environment, engine),
        io.StringIO(),
        tmp_path / "autoscaling.json",
        clock=lambda: next(clock),
    )


def test_task_rows_count_running_by_host_and_queued():
    counts = parse_task_rows("running|abc.local|2\nqueued||3\nrunning|def|1\nbad line\n")
    assert (counts.running, counts.queued) == (3, 3)
    assert counts.running_by_host == {"abc": 2, "def": 1}


def test_a_burst_scales_out_through_compose_and_idle_scales_in_gracefully(loop, engine):
    engine.task_rows = "running|host1|2\nqueued||4\n"
    decision = loop.tick()
    assert decision.action == "scale-out"
    assert loop.stack.composed == [
        ("up", "--detach", "--no-deps", "--no-recreate", "--scale", "worker=3", "worker")
    ]
    # Every task runs; nothing more happens however long it takes.
    engine.task_rows = "running|host1|2\nrunning|host2|2\nrunning|host3|2\n"
    for _ in range(10):
        assert loop.tick().action == "hold"
    # All done: idle for the cooldown (20 s at 5 s a tick), then the two newest go.
    engine.task_rows = ""
    actions = [loop.tick().action for _ in range(5)]
    assert actions == ["hold"] * 4 + ["scale-in"]
    for thread in list(loop.draining.values()):
        thread.join(5)
    workers = [c for c in engine.items if c.service == "worker"]
    assert [w.name for w in workers] == ["env_worker_1"]
    assert loop.stack.composed[1:] == []
    log = loop.log.getvalue()
    assert "scale-out 1 -> 3" in log and '"queued": 4' in log
    assert "scale-in 3 -> 1 (stop env_worker_3, env_worker_2)" in log
    assert "env_worker_3 stopped (warm shutdown" in log
    state = json.loads((loop.state_file).read_text())
    assert state["Min"] == 1 and state["Max"] == 3 and state["TasksPerWorker"] == 2


def test_a_busy_worker_is_never_retired(loop, engine):
    loop.autoscaler.limits = loop.limits = type(loop.limits)(1, 3, 2, cooldown=0)
    engine.add("worker")
    engine.add("worker")
    # One task left, on the newest worker: no scale-in, however long it runs.
    engine.task_rows = "running|host3|1\n"
    for _ in range(5):
        assert loop.tick().action == "hold"
    assert all(c.stopped_with is None for c in engine.items)
    engine.task_rows = ""
    assert loop.tick().action == "scale-in"
    for thread in list(loop.draining.values()):
        thread.join(5)
    assert {c.name for c in engine.items if c.service == "worker"} == {"env_worker_1"}


def test_retire_uses_mwaa_graceful_limit(loop, engine):
    second = engine.add("worker")
    loop.retire(second.name)
    loop.draining[second.name].join(5)
    assert second.stopped_with == STOP_TIMEOUT_SECONDS == 12 * 3600


def test_the_host_process_holds_a_lock_and_stops_on_sigterm(tmp_path):
    folder = tmp_path / "state"
    assert process.running_pid(folder) is None
    script = (
        "import sys, time; from pathlib import Path; "
        "from mwaa_local.scaling.process import hold_lock; "
        "lock = hold_lock(Path(sys.argv[1])); print('held' if lock else 'busy', flush=True); "
        "time.sleep(60)"
    )
    lock_path = str(folder / process.LOCK_NAME)
    child = subprocess.Popen(
        [sys.executable, "-c", script, lock_path], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        assert process.running_pid(folder) == child.pid
        # A second one cannot take the lock.
        assert process.hold_lock(Path(lock_path)) is None
        assert process.stop_autoscaler(folder) is True
        assert child.wait(10) != 0  # ended by SIGTERM
        assert process.running_pid(folder) is None
        assert process.autoscaler_state(folder)["Running"] is False
    finally:
        child.kill()


def test_start_autoscaler_runs_the_loop_detached_and_it_exits_without_a_stack(tmp_path):
    # No engine answers here: the loop logs that it cannot observe and exits on its own
    # after a few polls; start returns at once with its pid.
    folder = tmp_path / "state"
    (tmp_path / "mwaa-local.yaml").write_text("Name: env\nMaxWorkers: 2\n")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    old = dict(os.environ)
    os.environ.update(env)
    try:
        started = time.monotonic()
        pid = process.start_autoscaler(folder, tmp_path, None)
        assert time.monotonic() - started < 10
        assert pid > 0
    finally:
        os.environ.clear()
        os.environ.update(old)
    deadline = time.monotonic() + 20
    while process.running_pid(folder) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.running_pid(folder) is None
    assert "No Docker engine answers" in (folder / process.LOG_NAME).read_text()
