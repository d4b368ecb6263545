"""Times edit-to-parsed: a DAG file saved in the bucket folder -> its new version in the metadata
database (the DAG's description, read back through the REST API). Measured for an edited file
and for a new one, in mwaa-local's fast mode and, as the baseline in the same script, in MWAA's
pace (Local.DagSync: mwaa: 30 s sync, Airflow's 30 s re-parse and 300 s listing intervals).

    python bench/dag_parse_latency.py --airflow-version 3.3.1 --runs 5 --mwaa-runs 2

Needs the image built (mwaa-local build-image) and, where no registry is reachable,
MWAA_LOCAL_POSTGRES_IMAGE / MWAA_LOCAL_REDIS_IMAGE pointing at local images.
"""

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from common import cli, project_with

from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.stack import Stack
from mwaa_local.spec.settings import load_environment

DAG = """
import pendulum
from airflow import DAG

with DAG("{dag_id}", description="{description}", schedule=None,
         start_date=pendulum.datetime(2024, 1, 1)):
    pass
"""


def description(api: AirflowApi, dag_id: str) -> str | None:
    try:
        return api.request("GET", f"/dags/{dag_id}").get("description")
    except MwaaLocalError:
        return None


def save_and_wait(api: AirflowApi, dags: Path, dag_id: str, text: str, limit: float) -> float:
    """Seconds from saving the file until the database holds the DAG with this description."""
    tmp = dags / f".{dag_id}.tmp"
    tmp.write_text(DAG.format(dag_id=dag_id, description=text))
    started = time.monotonic()
    tmp.replace(dags / f"{dag_id}.py")  # saved at once, as an editor does
    while description(api, dag_id) != text:
        if time.monotonic() - started > limit:
            return float("nan")
        time.sleep(0.1)
    return time.monotonic() - started


def measure(version: str, mode: str, runs: int, port: int, limit: float) -> dict:
    settings = {
        "Name": f"bench-parse-{mode}-{int(time.time())}",
        "AirflowVersion": version,
        "Local": {"WebserverPort": port, "DagSync": mode},
    }
    project = project_with(settings)
    environment = load_environment(project)
    stack = Stack(environment, docker_client())
    edited, new = [], []
    try:
        cli(project, "start")
        api = stack.api()
        dags = project / "dags"
        save_and_wait(api, dags, "bench_edited", "v0", limit)
        for run in range(1, runs + 1):
            edited.append(save_and_wait(api, dags, "bench_edited", f"v{run}", limit))
            new.append(save_and_wait(api, dags, f"bench_new_{run}", "v1", limit))
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", check=False)
        shutil.rmtree(project, ignore_errors=True)
    return {
        "edited_file_median_s": round(statistics.median(edited), 1),
        "new_file_median_s": round(statistics.median(new), 1),
        "edited_runs_s": [round(s, 1) for s in edited],
        "new_runs_s": [round(s, 1) for s in new],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.3.1")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mwaa-runs", type=int, default=2, help="0 skips the MWAA baseline.")
    parser.add_argument("--port", type=int, default=18182)
    parser.add_argument("--limit", type=float, default=420, help="Give up on one edit after.")
    args = parser.parse_args()
    result = {"airflow_version": args.airflow_version}
    result["fast"] = measure(args.airflow_version, "fast", args.runs, args.port, args.limit)
    if args.mwaa_runs:
        mwaa = measure(args.airflow_version, "mwaa", args.mwaa_runs, args.port, args.limit)
        result["mwaa_pace"] = mwaa
        result["mwaa_pace_over_fast"] = {
            key: round(mwaa[key] / result["fast"][key], 1)
            for key in ("edited_file_median_s", "new_file_median_s")
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
