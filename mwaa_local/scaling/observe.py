"""What the autoscaler sees: the worker replicas up now and the metadata database's running and
queued task instances, the running ones by the host that runs them.

MWAA reads RunningTasks and QueuedTasks (the executor's gauges, mwaa-behaviour.md 5.3); the task
instances in those states are what the executor holds, so the database gives the same numbers
without waiting for a metrics period. It is read with `psql` in the postgres container, over the
engine's API from the host: no Airflow container gets the engine's socket.
"""

from dataclasses import dataclass

import docker.errors

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.autoscaling import Observation, Worker

WORKER_SERVICE = "worker"
# A replica counts from the moment compose creates it until it has stopped.
UP_STATES = ("created", "running", "restarting")
TASKS_QUERY = (
    "SELECT state, coalesce(hostname, ''), count(*) FROM task_instance "
    "WHERE state IN ('running', 'queued') GROUP BY 1, 2"
)


@dataclass(frozen=True)
class Replica:
    name: str  # the container's name
    hostname: str  # what Airflow records as the task instance's hostname
    number: int  # compose's replica number
    status: str


@dataclass(frozen=True)
class TaskCounts:
    running: int
    queued: int
    running_by_host: dict[str, int]


def worker_replicas(client, project: str) -> list[Replica]:
    """The worker service's containers that are up, in compose's replica order."""
    filters = {"label": service_labels(project, WORKER_SERVICE)}
    replicas = []
    for container in client.containers.list(all=True, filters=filters):
        status = container.attrs["State"]["Status"]
        if status not in UP_STATES:
            continue
        number = container.labels.get("com.docker.compose.container-number", "0")
        replicas.append(
            Replica(
                name=container.name,
                hostname=container.attrs["Config"].get("Hostname", ""),
                number=int(number) if number.isdigit() else 0,
                status=status,
            )
        )
    return sorted(replicas, key=lambda r: (r.number, r.name))


def service_labels(project: str, service: str) -> list[str]:
    return [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]


def service_container(client, project: str, service: str):
    filters = {"label": service_labels(project, service), "status": "running"}
    found = client.containers.list(filters=filters)
    if not found:
        raise MwaaLocalError(f"{service} is not running in {project}.")
    return found[0]


def parse_task_rows(text: str) -> TaskCounts:
    """`state|hostname|count` rows, as `psql -At -F'|'` prints them."""
    running = queued = 0
    by_host: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) != 3 or not parts[2].isdigit():
            continue
        state, host, count = parts[0], parts[1], int(parts[2])
        if state == "running":
            running += count
            short = host.split(".")[0]
            by_host[short] = by_host.get(short, 0) + count
        elif state == "queued":
            queued += count
    return TaskCounts(running, queued, by_host)


def task_counts(client, project: str) -> TaskCounts:
    postgres = service_container(client, project, "postgres")
    command = ["psql", "-U", "airflow", "-d", "airflow", "-At", "-F", "|", "-c", TASKS_QUERY]
    try:
        code, output = postgres.exec_run(command)
    except docker.errors.APIError as e:
        raise MwaaLocalError(f"cannot query the metadata database: {e}") from e
    text = output.decode(errors="replace")
    if code != 0:
        raise MwaaLocalError(f"cannot query the metadata database: {text.strip()[-300:]}")
    return parse_task_rows(text)


def observation(at: float, counts: TaskCounts, replicas: list[Replica]) -> Observation:
    workers = tuple(
        Worker(r.name, counts.running_by_host.get(r.hostname.split(".")[0], 0)) for r in replicas
    )
    return Observation(at, counts.running, counts.queued, workers)
