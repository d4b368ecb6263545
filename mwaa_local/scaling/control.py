"""What the commands ask of autoscaling: start it with the stack, stop it with the stack, and
say how many workers run against MinWorkers and MaxWorkers."""

from typing import Any

from mwaa_local.mwaa.components import HYBRID, capacity_warnings
from mwaa_local.runtime.stack import Stack
from mwaa_local.scaling.observe import service_labels, worker_replicas
from mwaa_local.scaling.process import autoscaler_state, start_autoscaler, stop_autoscaler
from mwaa_local.spec.settings import Environment


def autoscales(environment: Environment) -> bool:
    """mw1.micro does not autoscale (mwaa-behaviour.md 5.1); MinWorkers = MaxWorkers needs no
    scaler either."""
    return environment.class_spec.autoscaling and environment.max_workers > environment.min_workers


def start_for(stack: Stack) -> int | None:
    """Start the stack's autoscaler (its pid), or None when the environment does not scale."""
    environment = stack.environment
    if not autoscales(environment) or not stack.has_workers:
        return None
    settings = environment.settings_file.resolve() if environment.settings_file else None
    return start_autoscaler(stack.state.path, environment.project_dir.resolve(), settings)


def stop_for(stack: Stack) -> bool:
    return stop_autoscaler(stack.state.path)


def workers_summary(stack: Stack) -> dict[str, Any]:
    """Workers current/min/max and the autoscaler's state, for `status`."""
    environment = stack.environment
    if not stack.has_workers:
        # The host runtime: the scheduler's executor runs the tasks (its `start` says so).
        return {
            "Current": 0,
            "Min": environment.min_workers,
            "Max": environment.max_workers,
            "Autoscaling": False,
            "Autoscaler": None,
        }
    if environment.class_spec.hybrid:
        # mw1.micro's worker runs in the hybrid container.
        filters = {"label": service_labels(stack.project, HYBRID), "status": "running"}
        current = len(stack.client.containers.list(filters=filters))
    else:
        replicas = worker_replicas(stack.client, stack.project)
        current = sum(1 for r in replicas if r.status == "running")
    return {
        "Current": current,
        "Min": environment.min_workers,
        "Max": environment.max_workers,
        "Autoscaling": autoscales(environment),
        "Autoscaler": autoscaler_state(stack.state.path) if autoscales(environment) else None,
    }


def sizing_warnings(stack: Stack) -> list[str]:
    """The class's limits against the engine's memory (mwaa/components.py); none where the
    components run without limits (the host runtime)."""
    if not stack.has_workers:
        return []
    _, memory = stack.engine_size()
    return capacity_warnings(stack.environment, memory)
