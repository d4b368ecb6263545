"""Times an MWAA-shaped stack: start-to-healthy (empty and existing database), trigger-to-
success of the one-task example DAG, and idle memory of the whole stack.

The baseline, run in the same script on the same images, is the same stack with Airflow's own
defaults instead of mwaa-local's (4 web/API workers, Celery concurrency 16): what a hand-made
Celery stack looks like.

    python bench/stack.py --airflow-version 3.0.6 --runs 3

Needs the image built (mwaa-local build-image) and, where no registry is reachable,
MWAA_LOCAL_POSTGRES_IMAGE / MWAA_LOCAL_REDIS_IMAGE pointing at local images.
"""

import argparse
import json
import shutil
import statistics
import time

from common import cli, project_with

from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.stack import Stack
from mwaa_local.spec.settings import load_environment

DAG = "mwaa_local_example"
AIRFLOW_DEFAULTS = {
    "api.workers": "4",
    "webserver.workers": "4",
    "celery.worker_autoscale": "16,16",
}


def idle_memory_mib(stack: Stack, settle: float) -> float:
    time.sleep(settle)
    total = 0.0
    for container in stack.containers():
        if container.status == "running":
            stats = container.stats(stream=False)
            usage = stats["memory_stats"]
            # What `docker stats` shows: usage less the page cache.
            cache = usage.get("stats", {}).get("inactive_file", 0)
            total += (usage["usage"] - cache) / 2**20
    return total


def measure(version: str, runs: int, options: dict, settle: float, port: int) -> dict:
    settings = {
        "Name": f"bench-{int(time.time())}",
        "AirflowVersion": version,
        "Local": {"WebserverPort": port},
    }
    if options:
        settings["AirflowConfigurationOptions"] = options
    project = project_with(settings)
    environment = load_environment(project)
    stack = Stack(environment, docker_client())
    empty, existing, trigger = [], [], []
    memory = 0.0
    try:
        for _ in range(runs):
            if stack.containers():
                stack.remove_database()
            empty.append(cli(project, "start"))
            cli(project, "stop")
            existing.append(cli(project, "start"))
        api = stack.api()
        api.unpause(DAG)
        for _ in range(runs):
            run_id = api.trigger(DAG)
            started = time.monotonic()
            run = api.wait_for_run(DAG, run_id)
            trigger.append(time.monotonic() - started)
            assert run["state"] == "success", run
        memory = idle_memory_mib(stack, settle)
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", check=False)
        shutil.rmtree(project, ignore_errors=True)
    return {
        "start_empty_db_median_s": round(statistics.median(empty), 1),
        "start_existing_db_median_s": round(statistics.median(existing), 1),
        "trigger_to_success_median_s": round(statistics.median(trigger), 1),
        "idle_memory_mib": round(memory),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.0.6")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=30, help="Idle seconds before memory.")
    parser.add_argument("--port", type=int, default=18181)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {"airflow_version": args.airflow_version, "runs": args.runs}
    ours = measure(args.airflow_version, args.runs, {}, args.settle, args.port)
    result["mwaa_local"] = ours
    if not args.no_baseline:
        base = measure(args.airflow_version, args.runs, AIRFLOW_DEFAULTS, args.settle, args.port)
        result["baseline_airflow_defaults"] = base
        result["baseline_over_mwaa_local"] = {
            key: round(base[key] / ours[key], 2) if ours[key] else None for key in ours
        }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"airflow {args.airflow_version}, {args.runs} runs, medians")
    for key in ours:
        line = f"  {key:30} {ours[key]:>8}"
        if "baseline_airflow_defaults" in result:
            line += f"   baseline {result['baseline_airflow_defaults'][key]:>8}"
            line += f"   ratio {result['baseline_over_mwaa_local'][key]}"
        print(line)


if __name__ == "__main__":
    main()
