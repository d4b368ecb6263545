"""The autoscaler: every few seconds, observe the stack, decide with MWAA's rule, act.

Scale-out is compose's own `up --scale worker=N --no-recreate`. Scale-in retires the idle
replicas the rule named: `docker stop` (SIGTERM: Celery's warm shutdown, which finishes the tasks
it holds and hands back what it had not started) with MWAA's GRACEFUL time limit, then the
container is removed, so compose's replica count is the new one. Every decision is logged with
its inputs. Run by `mwaa-local start` as a host process (scaling/process.py):

    python -m mwaa_local.scaling.loop --project-dir DIR [--settings FILE]
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import docker.errors

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.autoscaling import HOLD, SCALE_IN, SCALE_OUT, Autoscaler, Decision, Limits
from mwaa_local.runtime.stack import Stack
from mwaa_local.scaling.observe import (
    WORKER_SERVICE,
    observation,
    task_counts,
    worker_replicas,
)
from mwaa_local.spec.settings import Environment

POLL_SECONDS = 5.0
# mwaa-behaviour.md 5.3 (WorkerReplacementStrategy GRACEFUL): running tasks get up to 12 hours.
# Only idle workers are retired, so this is a bound for a task picked up at the last moment.
STOP_TIMEOUT_SECONDS = 12 * 3600
SERVICE_METRICS_FILE = "service-metrics.jsonl"
SERVICE_METRICS_MAX_BYTES = 16 * 1024 * 1024
# The stack is gone (stopped, removed) when its database has not answered for this many polls.
GONE_AFTER_POLLS = 6


def limits_for(environment: Environment) -> Limits:
    return Limits(
        min_workers=environment.min_workers,
        max_workers=environment.max_workers,
        tasks_per_worker=environment.worker_concurrency,
        cooldown=environment.local.worker_scale_in_cooldown,
    )


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ScalingLoop:
    def __init__(
        self,
        stack: Stack,
        log: TextIO,
        state_file: Path,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stack = stack
        self.limits = limits_for(stack.environment)
        self.autoscaler = Autoscaler(self.limits)
        self.log = log
        self.state_file = state_file
        self.clock = clock
        self.draining: dict[str, threading.Thread] = {}
        self.stopping = threading.Event()
        self.last_logged: tuple | None = None
        self.failed_polls = 0

    def write(self, message: str) -> None:
        self.log.write(f"{utc_now()} {message}\n")
        self.log.flush()

    def run(self) -> int:
        self.write(
            f"autoscaler started for {self.stack.project}: MinWorkers {self.limits.min_workers}, "
            f"MaxWorkers {self.limits.max_workers}, {self.limits.tasks_per_worker} tasks per "
            f"worker, scale-in cooldown {self.limits.cooldown:.0f} s"
        )
        while not self.stopping.is_set():
            try:
                self.tick()
                self.failed_polls = 0
            except (MwaaLocalError, docker.errors.DockerException, OSError) as e:
                self.failed_polls += 1
                self.write(f"cannot observe the stack ({self.failed_polls}): {e}")
                if self.failed_polls >= GONE_AFTER_POLLS:
                    self.write("the stack is not running; the autoscaler stops")
                    return 0
            self.stopping.wait(POLL_SECONDS)
        self.write("autoscaler stopped")
        return 0

    def tick(self) -> Decision:
        client, project = self.stack.client, self.stack.project
        self.draining = {n: t for n, t in self.draining.items() if t.is_alive()}
        replicas = [r for r in worker_replicas(client, project) if r.name not in self.draining]
        counts = task_counts(client, project)
        decision = self.autoscaler.decide(observation(self.clock(), counts, replicas))
        self.record(decision)
        if decision.action == SCALE_OUT:
            # Replicas still draining count for compose until they are removed.
            try:
                self.scale_to(decision.target + len(self.draining))
            except MwaaLocalError as e:  # the next poll tries again
                self.write(f"scaling out failed: {e}")
        elif decision.action == SCALE_IN:
            for name in decision.stop:
                self.retire(name)
        self.save_state(decision, len(replicas))
        return decision

    def record(self, decision: Decision) -> None:
        """Log every scaling decision, and a hold only when what it saw changed."""
        inputs = decision.inputs
        seen = (decision.action, inputs["running"], inputs["queued"], decision.current)
        if decision.action == HOLD and seen == self.last_logged:
            return
        self.last_logged = seen
        self.write(f"{decision.describe()} inputs={json.dumps(inputs, sort_keys=True)}")

    def scale_to(self, replicas: int) -> None:
        self.stack.compose(
            "up", "--detach", "--no-deps", "--no-recreate",
            "--scale", f"{WORKER_SERVICE}={replicas}", WORKER_SERVICE,
        )  # fmt: skip
        self.write(f"compose: {WORKER_SERVICE} scaled to {replicas} replicas")

    def retire(self, name: str) -> None:
        def stop() -> None:
            started = time.monotonic()
            try:
                container = self.stack.client.containers.get(name)
                container.stop(timeout=STOP_TIMEOUT_SECONDS)
                container.reload()
                code = container.attrs["State"].get("ExitCode")
                container.remove()
            except docker.errors.DockerException as e:
                self.write(f"retiring {name} failed: {e}")
                return
            took = time.monotonic() - started
            self.write(f"{name} stopped (warm shutdown, exit {code}, {took:.1f} s) and removed")

        self.write(f"retiring idle worker {name}: SIGTERM, Celery warm shutdown")
        thread = threading.Thread(target=stop, name=f"retire-{name}", daemon=True)
        self.draining[name] = thread
        thread.start()

    def save_state(self, decision: Decision, current: int) -> None:
        state = {
            "Pid": os.getpid(),
            "UpdatedAt": utc_now(),
            "Current": current,
            "Draining": sorted(self.draining),
            "Min": self.limits.min_workers,
            "Max": self.limits.max_workers,
            "TasksPerWorker": self.limits.tasks_per_worker,
            "CooldownSeconds": self.limits.cooldown,
            "LastDecision": {
                "Action": decision.action,
                "Target": decision.target,
                "Required": decision.required,
                "Reason": decision.reason,
            },
        }
        self.publish_worker_counts(current)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2))
        temporary.replace(self.state_file)

    def publish_worker_counts(self, current: int) -> None:
        """AWS/MWAA NumWorkers (the base worker: 1) and NumAdditionalWorkers (the rest),
        mwaa-behaviour.md 7.2; `mwaa-local metrics` reads them from the state folder."""
        path = self.state_file.parent / SERVICE_METRICS_FILE
        if path.is_file() and path.stat().st_size > SERVICE_METRICS_MAX_BYTES:
            path.replace(path.with_suffix(".1.jsonl"))
        now = time.time()
        name = self.stack.environment.name
        records = [
            ("NumWorkers", "BaseWorker", min(current, 1)),
            ("NumAdditionalWorkers", "AdditionalWorker", max(current - 1, 0)),
        ]
        with path.open("a", encoding="utf-8") as f:
            for metric, cluster, value in records:
                dimensions = {"Cluster": cluster, "Environment": name}
                record = {"t": now, "ns": "AWS/MWAA", "n": metric, "d": dimensions, "v": value}
                f.write(json.dumps(record) + "\n")


def scaled_stack(environment: Environment) -> Stack:
    """The workers' stack on the engine the environment runs on (Docker, or Podman's socket)."""
    from mwaa_local.runtime.select import open_runtime

    return open_runtime(environment)  # type: ignore[return-value]  # host has no autoscaler


def main(argv: list[str] | None = None) -> int:
    from mwaa_local.scaling.process import LOCK_NAME, LOG_NAME, STATE_NAME, hold_lock
    from mwaa_local.spec.settings import load_environment

    parser = argparse.ArgumentParser(prog="python -m mwaa_local.scaling.loop")
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--settings", type=Path, default=None)
    args = parser.parse_args(argv)
    try:
        stack = scaled_stack(load_environment(args.project_dir, args.settings))
    except MwaaLocalError as e:
        print(f"{utc_now()} the autoscaler cannot start: {e}", file=sys.stderr)
        return 1
    folder = stack.state.path
    lock = hold_lock(folder / LOCK_NAME)
    if lock is None:
        print("an autoscaler already runs for this environment", file=sys.stderr)
        return 0
    with (folder / LOG_NAME).open("a", encoding="utf-8") as log:
        loop = ScalingLoop(stack, log, folder / STATE_NAME)
        signal.signal(signal.SIGTERM, lambda *_: loop.stopping.set())
        signal.signal(signal.SIGINT, lambda *_: loop.stopping.set())
        return loop.run()


if __name__ == "__main__":
    sys.exit(main())
