"""MWAA's worker autoscaling rule, as a pure function of what was observed.

mwaa-behaviour.md 5.3 (and aws-clients-and-serverless.md G.3): required workers =
ceil((running + queued) / tasks per worker), clamped to [MinWorkers, MaxWorkers]; MWAA adds
workers up to that number. Extra workers are removed only once running + queued has been 0 for a
while ("two to five minutes"), and a worker still completing work is never stopped ("no tasks
will be interrupted"). Nothing here touches Docker: `scaling/` observes and acts.
"""

import math
from dataclasses import dataclass, field

# mwaa-behaviour.md 5.3: MWAA's scale-in window is "between two to five minutes".
DEFAULT_SCALE_IN_COOLDOWN_SECONDS = 120

SCALE_OUT = "scale-out"
SCALE_IN = "scale-in"
HOLD = "hold"


@dataclass(frozen=True)
class Worker:
    """One worker replica and the tasks it is running now (0: idle)."""

    name: str
    running: int = 0


@dataclass(frozen=True)
class Observation:
    """What the scaler sees at one moment: the metadata database's running and queued task
    instances (MWAA's RunningTasks and QueuedTasks) and the worker replicas up now."""

    at: float  # seconds, monotonic
    running: int
    queued: int
    workers: tuple[Worker, ...]

    @property
    def tasks(self) -> int:
        return self.running + self.queued


@dataclass(frozen=True)
class Limits:
    min_workers: int
    max_workers: int
    tasks_per_worker: int
    cooldown: float = DEFAULT_SCALE_IN_COOLDOWN_SECONDS


@dataclass(frozen=True)
class Decision:
    action: str  # scale-out, scale-in or hold
    current: int
    target: int
    required: int
    # The idle workers to stop (scale-in only); never one with a running task.
    stop: tuple[str, ...] = ()
    reason: str = ""
    inputs: dict = field(default_factory=dict)

    def describe(self) -> str:
        arrow = f"{self.current} -> {self.target}" if self.target != self.current else "stay"
        stopped = f" (stop {', '.join(self.stop)})" if self.stop else ""
        return f"{self.action} {arrow}{stopped}: {self.reason}"


def required_workers(running: int, queued: int, limits: Limits) -> int:
    """ceil((running + queued) / tasks per worker), clamped to [MinWorkers, MaxWorkers]."""
    needed = math.ceil(max(running + queued, 0) / max(limits.tasks_per_worker, 1))
    return min(max(needed, limits.min_workers), limits.max_workers)


class Autoscaler:
    """The rule plus the one thing it must remember: since when running + queued has been 0."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.idle_since: float | None = None

    def decide(self, seen: Observation) -> Decision:
        limits = self.limits
        current = len(seen.workers)
        required = required_workers(seen.running, seen.queued, limits)
        per_worker = max(limits.tasks_per_worker, 1)
        formula = (
            f"running {seen.running} + queued {seen.queued} = {seen.tasks} tasks, "
            f"{per_worker} per worker -> ceil = {math.ceil(seen.tasks / per_worker)}, "
            f"clamped to [{limits.min_workers}, {limits.max_workers}] = {required}"
        )
        inputs = {
            "running": seen.running,
            "queued": seen.queued,
            "tasks_per_worker": per_worker,
            "min_workers": limits.min_workers,
            "max_workers": limits.max_workers,
            "workers": {w.name: w.running for w in seen.workers},
        }
        if seen.tasks == 0:
            self.idle_since = seen.at if self.idle_since is None else self.idle_since
        else:
            self.idle_since = None
        idle_for = 0.0 if self.idle_since is None else seen.at - self.idle_since
        inputs["idle_seconds"] = round(idle_for, 1)

        def decision(action: str, target: int, reason: str, stop: tuple[str, ...] = ()):
            return Decision(action, current, target, required, stop, reason, inputs)

        if required > current:
            return decision(SCALE_OUT, required, formula)
        # Above MaxWorkers (it was lowered): idle extras may go at once, busy ones never.
        over_max = current - limits.max_workers
        cooled = seen.tasks == 0 and idle_for >= limits.cooldown
        surplus = current - limits.min_workers if cooled else over_max
        if surplus <= 0:
            if seen.tasks == 0 and current > limits.min_workers:
                wait = limits.cooldown - idle_for
                return decision(HOLD, current, f"{formula}; idle, scale-in in {wait:.0f} s")
            return decision(HOLD, current, formula)
        stop = idle_workers(seen.workers, surplus)
        if not stop:
            return decision(HOLD, current, f"{formula}; every extra worker is busy")
        why = (
            f"idle for {idle_for:.0f} s >= cooldown {limits.cooldown:.0f} s"
            if cooled
            else (f"{current} workers > MaxWorkers {limits.max_workers}")
        )
        return decision(SCALE_IN, current - len(stop), f"{formula}; {why}", stop)


def idle_workers(workers: tuple[Worker, ...], at_most: int) -> tuple[str, ...]:
    """Up to `at_most` workers with no running task, newest first (the last listed), so the
    first worker, MWAA's base worker, stays."""
    idle = [w.name for w in workers if w.running == 0]
    return tuple(reversed(idle))[: max(at_most, 0)]
