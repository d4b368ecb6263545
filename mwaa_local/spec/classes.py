"""MWAA environment classes (mwaa-behaviour.md sections 4.4, 5.1, 5.2)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class EnvironmentClass:
    name: str
    dag_capacity: int
    # Default concurrent tasks per worker: MWAA's celery.worker_autoscale "N,N" for the class.
    worker_concurrency: int
    autoscaling: bool
    schedulers: tuple[int, int, int]  # min, max, default
    webservers: tuple[int, int, int]  # min, max, default


ENVIRONMENT_CLASSES: dict[str, EnvironmentClass] = {
    c.name: c
    for c in (
        EnvironmentClass("mw1.micro", 25, 3, False, (1, 1, 1), (1, 1, 1)),
        EnvironmentClass("mw1.small", 50, 5, True, (2, 5, 2), (2, 5, 2)),
        EnvironmentClass("mw1.medium", 250, 10, True, (2, 5, 2), (2, 5, 2)),
        EnvironmentClass("mw1.large", 1000, 20, True, (2, 5, 2), (2, 5, 2)),
        EnvironmentClass("mw1.xlarge", 2000, 40, True, (2, 5, 2), (2, 5, 2)),
        EnvironmentClass("mw1.2xlarge", 4000, 80, True, (2, 5, 2), (2, 5, 2)),
    )
}

DEFAULT_CLASS = "mw1.small"
