"""Times worker autoscaling on a real stack: from a burst of N queued tasks to every worker the
rule asks for up (its container healthy: a Celery ping answers), and the memory each extra
worker adds (its container's usage, less page cache, while it runs its tasks).

    python bench/autoscaling.py --tasks 6 --per-worker 2 --max-workers 3

Needs the image built (mwaa-local build-image) and, where no registry is reachable,
MWAA_LOCAL_POSTGRES_IMAGE / MWAA_LOCAL_REDIS_IMAGE pointing at local images.
"""

import argparse
import json
import math
import shutil
import socket
import time

from common import cli, project_with

from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.stack import Stack
from mwaa_local.spec.settings import load_environment

DAG = "bench_burst"
DAG_TEMPLATE = """
import time
from datetime import datetime
try:
    from airflow.sdk import DAG, task
except ImportError:
    from airflow import DAG
    from airflow.decorators import task

with DAG("{dag}", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         max_active_tasks={tasks}, default_args={{"retries": 0}}):
    @task
    def work(n: int) -> None:
        time.sleep({seconds})

    for n in range({tasks}):
        work.override(task_id=f"work_{{n}}")(n)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers(stack: Stack) -> list:
    return [
        c
        for c in stack.containers()
        if c.labels.get("com.docker.compose.service") == "worker" and c.status == "running"
    ]


def healthy(container) -> bool:
    container.reload()
    return container.attrs["State"].get("Health", {}).get("Status") == "healthy"


def memory_mib(container) -> float:
    usage = container.stats(stream=False)["memory_stats"]
    return (usage["usage"] - usage.get("stats", {}).get("inactive_file", 0)) / 2**20


def measure(args) -> dict:
    required = min(math.ceil(args.tasks / args.per_worker), args.max_workers)
    settings = {
        "Name": f"bench-scale-{int(time.time())}",
        "AirflowVersion": args.airflow_version,
        "EnvironmentClass": "mw1.small",
        "MinWorkers": 1,
        "MaxWorkers": args.max_workers,
        "AirflowConfigurationOptions": {
            "celery.worker_autoscale": f"{args.per_worker},{args.per_worker}"
        },
        "Local": {"WebserverPort": free_port(), "WorkerScaleInCooldown": 20},
    }
    project = project_with(settings)
    (project / "dags" / f"{DAG}.py").write_text(
        DAG_TEMPLATE.format(dag=DAG, tasks=args.tasks, seconds=args.seconds)
    )
    stack = Stack(load_environment(project), docker_client())
    try:
        start = cli(project, "start")
        api = stack.api()
        deadline = time.monotonic() + 180
        while True:
            try:
                api.request("GET", f"/dags/{DAG}")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        api.unpause(DAG)
        base_memory = memory_mib(workers(stack)[0])
        triggered = time.monotonic()
        api.trigger(DAG)
        created = up = None
        while time.monotonic() - triggered < 600:
            running = workers(stack)
            if created is None and len(running) >= required:
                created = time.monotonic() - triggered
            if len(running) >= required and all(healthy(c) for c in running):
                up = time.monotonic() - triggered
                break
            time.sleep(1)
        per_worker = [memory_mib(c) for c in workers(stack)]
        return {
            "airflow": args.airflow_version,
            "tasks": args.tasks,
            "per_worker": args.per_worker,
            "workers_required": required,
            "start_s": round(start, 1),
            "burst_to_replicas_created_s": round(created, 1) if created else None,
            "burst_to_all_workers_healthy_s": round(up, 1) if up else None,
            "idle_worker_mib": round(base_memory),
            "busy_worker_mib": [round(m) for m in per_worker],
            "extra_worker_mib_mean": round(sum(per_worker[1:]) / max(len(per_worker) - 1, 1)),
        }
    finally:
        cli(project, "stop")  # the autoscaler first
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        shutil.rmtree(project, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--airflow-version", default="2.10.3")
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--per-worker", type=int, default=2)
    parser.add_argument("--max-workers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=60)
    print(json.dumps(measure(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
