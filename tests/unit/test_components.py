"""Environment classes as resources: which components run, how many, with what limits
(mwaa-behaviour.md 5.1, 5.2), and mw1.micro's hybrid container."""

import sys
import time

import pytest

from mwaa_local.container.hybrid import hybrid_commands, supervise
from mwaa_local.errors import SettingsError
from mwaa_local.mwaa.components import (
    GIB,
    capacity_warnings,
    component_limit,
    component_replicas,
)
from mwaa_local.spec.classes import ENVIRONMENT_CLASSES
from mwaa_local.spec.settings import load_environment


def environment(tmp_path, text: str):
    (tmp_path / "mwaa-local.yaml").write_text(text)
    return load_environment(tmp_path, environ={})


def test_small_runs_schedulers_each_with_a_triggerer_and_min_workers(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '3.3.1'\nSchedulers: 3\nMinWorkers: 2\n")
    assert component_replicas(env) == {
        "api-server": 1,
        "scheduler": 3,
        "dag-processor": 1,
        "triggerer": 3,
        "worker": 2,
    }
    assert component_replicas(env, workers=5)["worker"] == 5


def test_default_schedulers_is_mwaas_two(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '2.10.3'\n")
    assert component_replicas(env) == {"webserver": 1, "scheduler": 2, "triggerer": 2, "worker": 1}


def test_schedulers_outside_the_class_range_are_rejected(tmp_path):
    with pytest.raises(SettingsError, match="Schedulers: 6 is out of range for mw1.small"):
        environment(tmp_path, "Schedulers: 6\n")
    with pytest.raises(SettingsError, match="MinWebservers: 1 is out of range for mw1.small"):
        environment(tmp_path, "MinWebservers: 1\n")


def test_micro_runs_one_web_server_and_the_hybrid(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '3.3.1'\nEnvironmentClass: mw1.micro\n")
    assert component_replicas(env) == {
        "api-server": 1,
        "scheduler": 0,
        "dag-processor": 0,
        "triggerer": 0,
        "worker": 0,
        "hybrid": 1,
    }


@pytest.mark.parametrize(
    ("name", "component", "cpus", "memory_gb"),
    [
        ("mw1.small", "worker", 1, 2),
        ("mw1.small", "webserver", 1, 2),
        ("mw1.medium", "scheduler", 2, 4),
        ("mw1.large", "api-server", 2, 4),
        ("mw1.large", "triggerer", 4, 8),  # shares the scheduler's Fargate task on MWAA
        ("mw1.xlarge", "worker", 8, 24),
        ("mw1.2xlarge", "worker", 16, 48),
        ("mw1.micro", "hybrid", 1, 3),
        ("mw1.micro", "webserver", 1, 3),
    ],
)
def test_limits_are_the_class_sizes(name, component, cpus, memory_gb):
    limit = component_limit(ENVIRONMENT_CLASSES[name], component, 1.0)
    assert (limit.cpus, limit.memory_bytes) == (cpus, memory_gb * GIB)


def test_limits_scale_and_stop_at_the_engines_cpus():
    large = ENVIRONMENT_CLASSES["mw1.large"]
    limit = component_limit(large, "worker", 0.25, host_cpus=2)
    assert (limit.cpus, limit.memory_bytes) == (1, 2 * GIB)
    assert component_limit(large, "worker", 1.0, host_cpus=2).cpus == 2
    assert component_limit(large, "worker", 0).describe() == "no limits"
    assert component_limit(large, "worker", 0.25).describe() == "1 vCPU, 2 GiB"


def test_resource_scale_setting(tmp_path):
    assert environment(tmp_path, "Name: a\n").local.resource_scale == 1.0
    assert environment(tmp_path, "Local:\n  ResourceScale: 0.25\n").local.resource_scale == 0.25
    with pytest.raises(SettingsError, match="ResourceScale: -1 is not a factor"):
        environment(tmp_path, "Local:\n  ResourceScale: -1\n")


def test_a_warning_when_the_engine_cannot_hold_the_limits(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '2.10.3'\nMaxWorkers: 10\n")
    # 2 GiB each: webserver, 2 schedulers, 2 triggerers, 1 worker = 12 GiB; 10 workers: 30 GiB.
    assert capacity_warnings(env, 64 * GIB) == []
    (busy,) = capacity_warnings(env, 24 * GIB)
    assert "with 10 workers (MaxWorkers)" in busy and "30.0 GiB" in busy
    (rest,) = capacity_warnings(env, 8 * GIB)
    assert "add up to 12.0 GiB, more than the engine's 8.0 GiB" in rest
    scaled = environment(tmp_path, "AirflowVersion: '2.10.3'\nLocal:\n  ResourceScale: 0\n")
    assert capacity_warnings(scaled, 1 * GIB) == []


def test_hybrid_runs_the_scheduler_tasks_and_the_worker():
    assert hybrid_commands(2) == [
        ["airflow", "scheduler"],
        ["airflow", "triggerer"],
        ["airflow", "celery", "worker"],
    ]
    assert ["airflow", "dag-processor"] in hybrid_commands(3)


def test_hybrid_stops_the_others_when_one_exits():
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    failing = [sys.executable, "-c", "import sys; sys.exit(3)"]
    started = time.monotonic()
    assert supervise([sleeper, failing, sleeper], patience=5) == 3
    assert time.monotonic() - started < 10
