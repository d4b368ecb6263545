"""MWAA's worker autoscaling rule (mwaa-behaviour.md 5.3), without Docker."""

import pytest

from mwaa_local.mwaa.autoscaling import (
    HOLD,
    SCALE_IN,
    SCALE_OUT,
    Autoscaler,
    Limits,
    Observation,
    Worker,
    required_workers,
)


def workers(*running: int) -> tuple[Worker, ...]:
    return tuple(Worker(f"worker-{i + 1}", n) for i, n in enumerate(running))


def test_mwaa_worked_example_190_tasks_20_per_worker_max_10():
    # mw1.large, min 1, max 10: 190 / 20 = 9.5, rounded up to 10.
    assert required_workers(100, 90, Limits(1, 10, 20)) == 10


@pytest.mark.parametrize(
    ("running", "queued", "expected"),
    [
        (0, 0, 2),  # never below MinWorkers
        (1, 0, 2),
        (5, 5, 2),  # 10 / 5 = 2
        (5, 6, 3),  # 11 / 5 rounds up
        (20, 0, 4),
        (100, 100, 4),  # never above MaxWorkers
    ],
)
def test_required_workers_is_clamped_to_min_and_max(running, queued, expected):
    assert required_workers(running, queued, Limits(2, 4, 5)) == expected


def test_scale_out_to_the_required_number_at_once():
    scaler = Autoscaler(Limits(1, 3, 2, cooldown=20))
    decision = scaler.decide(Observation(0, running=2, queued=4, workers=workers(2)))
    assert (decision.action, decision.current, decision.target) == (SCALE_OUT, 1, 3)
    assert decision.inputs["running"] == 2 and decision.inputs["queued"] == 4
    assert "ceil = 3" in decision.describe()


def test_no_scale_in_while_any_task_runs_or_waits():
    scaler = Autoscaler(Limits(1, 3, 2, cooldown=20))
    # One task left on three workers: required is 1, but MWAA scales in only at zero.
    for at in range(0, 300, 10):
        decision = scaler.decide(Observation(at, running=1, queued=0, workers=workers(1, 0, 0)))
        assert decision.action == HOLD and decision.stop == ()


def test_scale_in_only_after_the_cooldown_of_zero_tasks():
    scaler = Autoscaler(Limits(1, 3, 2, cooldown=20))
    idle = workers(0, 0, 0)
    assert scaler.decide(Observation(100, 0, 0, idle)).action == HOLD
    assert scaler.decide(Observation(119.9, 0, 0, idle)).action == HOLD
    decision = scaler.decide(Observation(120, 0, 0, idle))
    assert decision.action == SCALE_IN
    assert decision.target == 1
    # The newest workers go; the first (MWAA's base worker) stays.
    assert decision.stop == ("worker-3", "worker-2")


def test_new_work_restarts_the_cooldown():
    scaler = Autoscaler(Limits(1, 3, 2, cooldown=20))
    idle = workers(0, 0, 0)
    scaler.decide(Observation(0, 0, 0, idle))
    scaler.decide(Observation(15, 1, 0, workers(0, 1, 0)))  # a task arrived
    assert scaler.decide(Observation(30, 0, 0, idle)).action == HOLD
    assert scaler.decide(Observation(49, 0, 0, idle)).action == HOLD
    assert scaler.decide(Observation(50, 0, 0, idle)).action == SCALE_IN


def test_a_worker_with_a_running_task_is_never_stopped():
    # The database says no task runs, yet worker-3 reports one (it has just picked it up).
    scaler = Autoscaler(Limits(1, 3, 2, cooldown=0))
    decision = scaler.decide(Observation(0, 0, 0, workers(0, 0, 1)))
    assert decision.action == SCALE_IN
    assert decision.stop == ("worker-2", "worker-1")
    assert decision.target == 1
    # Every worker busy: nothing is stopped.
    decision = scaler.decide(Observation(1, 0, 0, workers(1, 1, 1)))
    assert decision.action == HOLD and decision.stop == ()


def test_workers_above_a_lowered_max_go_only_when_idle():
    scaler = Autoscaler(Limits(1, 2, 5, cooldown=120))
    decision = scaler.decide(Observation(0, running=3, queued=0, workers=workers(2, 1, 0, 0)))
    assert decision.action == SCALE_IN
    assert decision.stop == ("worker-4", "worker-3")
    decision = scaler.decide(Observation(1, running=3, queued=0, workers=workers(1, 1, 1)))
    assert decision.action == HOLD


def test_below_min_workers_scales_out_even_when_idle():
    scaler = Autoscaler(Limits(2, 5, 5))
    decision = scaler.decide(Observation(0, 0, 0, workers()))
    assert (decision.action, decision.target) == (SCALE_OUT, 2)


def test_min_equals_max_never_changes():
    scaler = Autoscaler(Limits(3, 3, 5, cooldown=0))
    for at, tasks in enumerate((0, 100, 0, 0)):
        assert scaler.decide(Observation(at, tasks, 0, workers(0, 0, 0))).action == HOLD
