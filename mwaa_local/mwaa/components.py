"""Which components an environment runs, how many of each, and with what resources, as MWAA
lays them out for the environment class (mwaa-behaviour.md 5.1, 5.2).

- mw1.micro runs the scheduler, its triggerer (and on Airflow 3 the DAG processor) and the Celery
  worker in one "hybrid" container beside one web server, and does not autoscale.
- Larger classes run `Schedulers` schedulers, "a triggerer alongside each", and between
  MinWorkers and MaxWorkers workers.
- Each component's container gets its Fargate task's vCPU and memory as limits, times
  Local.ResourceScale (0: no limits). The scheduler's task holds its triggerer and DAG processor
  on MWAA; here they are containers of their own, each capped at the scheduler's size.
"""

from dataclasses import dataclass

from mwaa_local.spec.classes import EnvironmentClass, Size
from mwaa_local.spec.settings import Environment

HYBRID = "hybrid"
WEB_COMPONENTS = ("webserver", "api-server")
SCHEDULER_TASK = ("scheduler", "triggerer", "dag-processor")
GIB = 1024**3


def component_replicas(environment: Environment, workers: int | None = None) -> dict[str, int]:
    """Replicas of every Airflow component of the version (0: not run), plus `hybrid` on
    mw1.micro; `workers` defaults to MinWorkers."""
    components = environment.airflow_version.components
    if environment.class_spec.hybrid:
        return {**{c: int(c in WEB_COMPONENTS) for c in components}, HYBRID: 1}
    replicas = dict.fromkeys(components, 1)
    replicas["scheduler"] = replicas["triggerer"] = environment.schedulers
    replicas["worker"] = environment.min_workers if workers is None else workers
    return replicas


def container_of(environment: Environment, component: str) -> str:
    """The compose service whose container runs `component`: on mw1.micro the hybrid, for the
    components the class runs no replica of (the scheduler, its triggerer and DAG processor,
    the worker); else the component's own."""
    return HYBRID if component_replicas(environment).get(component) == 0 else component


def component_size(env_class: EnvironmentClass, component: str) -> Size:
    if component in WEB_COMPONENTS:
        return env_class.web_server
    if component in SCHEDULER_TASK:
        return env_class.scheduler
    return env_class.worker  # the worker, or mw1.micro's hybrid


@dataclass(frozen=True)
class Limit:
    cpus: float  # 0: none
    memory_bytes: int  # 0: none

    def describe(self) -> str:
        if not self.cpus and not self.memory_bytes:
            return "no limits"
        return f"{self.cpus:g} vCPU, {self.memory_bytes / GIB:.2g} GiB"


def component_limit(
    env_class: EnvironmentClass, component: str, scale: float, host_cpus: int | None = None
) -> Limit:
    """The class's size for the component times `scale`; the engine refuses more CPUs than it
    has, so the vCPU limit stops there."""
    if scale <= 0:
        return Limit(0, 0)
    size = component_size(env_class, component)
    cpus = round(size.vcpu * scale, 2)
    if host_cpus:
        cpus = min(cpus, float(host_cpus))
    return Limit(max(cpus, 0.01), int(size.memory_gb * scale * GIB))


def memory_sum(environment: Environment, replicas: dict[str, int]) -> int:
    scale = environment.local.resource_scale
    return sum(
        component_limit(environment.class_spec, c, scale).memory_bytes * n
        for c, n in replicas.items()
    )


def capacity_warnings(environment: Environment, host_memory: int) -> list[str]:
    """A warning when the engine's memory cannot hold the components' limits, at MinWorkers
    (always running) and at MaxWorkers (what autoscaling can reach)."""
    if environment.local.resource_scale <= 0 or host_memory <= 0:
        return []
    scale = environment.local.resource_scale
    at_rest = memory_sum(environment, component_replicas(environment))
    busiest = memory_sum(environment, component_replicas(environment, environment.max_workers))
    engine = host_memory / GIB
    advice = "lower Local.ResourceScale (0 = no limits) or MaxWorkers"
    if at_rest > host_memory:
        return [
            f"{environment.environment_class} at Local.ResourceScale {scale:g}: the components' "
            f"memory limits add up to {at_rest / GIB:.1f} GiB, more than the engine's "
            f"{engine:.1f} GiB; {advice}"
        ]
    if busiest > host_memory:
        return [
            f"{environment.environment_class} at Local.ResourceScale {scale:g}: with "
            f"{environment.max_workers} workers (MaxWorkers) the memory limits add up to "
            f"{busiest / GIB:.1f} GiB, more than the engine's {engine:.1f} GiB; {advice}"
        ]
    return []
