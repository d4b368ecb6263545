"""MWAA environment classes (mwaa-behaviour.md sections 4.4, 5.1, 5.2)."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """One Fargate task's size: vCPU and memory in GB (mwaa-behaviour.md 5.1)."""

    vcpu: float
    memory_gb: float


@dataclass(frozen=True)
class EnvironmentClass:
    name: str
    dag_capacity: int
    # Default concurrent tasks per worker: MWAA's celery.worker_autoscale "N,N" for the class.
    worker_concurrency: int
    autoscaling: bool
    schedulers: tuple[int, int, int]  # min, max, default
    webservers: tuple[int, int, int]  # min, max, default
    web_server: Size = Size(1, 2)
    # mw1.micro: the scheduler+worker hybrid's size.
    worker: Size = Size(1, 2)
    scheduler: Size = Size(1, 2)

    @property
    def hybrid(self) -> bool:
        """mw1.micro runs scheduler and worker in one container (mwaa-behaviour.md 5.1)."""
        return not self.autoscaling


ENVIRONMENT_CLASSES: dict[str, EnvironmentClass] = {
    c.name: c
    for c in (
        EnvironmentClass(
            "mw1.micro", 25, 3, False, (1, 1, 1), (1, 1, 1), Size(1, 3), Size(1, 3), Size(1, 3)
        ),
        EnvironmentClass(
            "mw1.small", 50, 5, True, (2, 5, 2), (2, 5, 2), Size(1, 2), Size(1, 2), Size(1, 2)
        ),
        EnvironmentClass(
            "mw1.medium", 250, 10, True, (2, 5, 2), (2, 5, 2), Size(1, 2), Size(2, 4), Size(2, 4)
        ),
        EnvironmentClass(
            "mw1.large", 1000, 20, True, (2, 5, 2), (2, 5, 2), Size(2, 4), Size(4, 8), Size(4, 8)
        ),
        EnvironmentClass(
            "mw1.xlarge",
            2000,
            40,
            True,
            (2, 5, 2),
            (2, 5, 2),
            Size(4, 12),
            Size(8, 24),
            Size(8, 24),
        ),  # fmt: skip
        EnvironmentClass(
            "mw1.2xlarge",
            4000,
            80,
            True,
            (2, 5, 2),
            (2, 5, 2),
            Size(8, 24),
            Size(16, 48),
            Size(16, 48),
        ),  # fmt: skip
    )
}

DEFAULT_CLASS = "mw1.small"
