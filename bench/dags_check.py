"""Times `mwaa-local dags check` on 50 generated DAG files (5 tasks each), warm (image built,
uv cache filled), in a one-off container with no stack running. The baseline, run in the same
script on the same image and files, is Airflow's own `airflow dags list-import-errors` in a
one-off container: the usual way to check imports, without parse times, duplicates or
MWAA's start sequence.

    python bench/dags_check.py --airflow-version 3.3.1 --runs 3
"""

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from common import mwaa_local, project_with, timed

from mwaa_local.runtime.image import image_tag
from mwaa_local.spec.versions import airflow_version

DAG = """
import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("generated_{n:02d}", schedule=None, start_date=pendulum.datetime(2024, 1, 1)):
    tasks = [EmptyOperator(task_id=f"t{{i}}") for i in range(5)]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
"""


def make_project(version: str, files: int) -> Path:
    settings = {"Name": f"bench-check-{int(time.time())}", "AirflowVersion": version}
    project = project_with(settings, dags=None)
    dags = project / "dags"
    dags.mkdir()
    dags.chmod(0o755)
    for n in range(files):
        (dags / f"generated_{n:02d}.py").write_text(DAG.format(n=n))
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.3.1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--files", type=int, default=50)
    args = parser.parse_args()
    project = make_project(args.airflow_version, args.files)
    check = mwaa_local(project, "dags", "check", "--json")
    image = image_tag(airflow_version(args.airflow_version))
    baseline = ["docker", "run", "--rm", "-v", f"{project / 'dags'}:/usr/local/airflow/dags:ro"]
    baseline += ["-e", "AIRFLOW__CORE__LOAD_EXAMPLES=False", image, "bash", "-c"]
    baseline += ["airflow db migrate >/dev/null 2>&1; airflow dags list-import-errors"]
    try:
        timed(check)  # warm-up: the uv cache and the page cache
        ours = [timed(check) for _ in range(args.runs)]
        theirs = [timed(baseline) for _ in range(args.runs)]
    finally:
        shutil.rmtree(project, ignore_errors=True)
    result = {
        "airflow_version": args.airflow_version,
        "files": args.files,
        "dags_check_median_s": round(statistics.median(ours), 1),
        "baseline_list_import_errors_median_s": round(statistics.median(theirs), 1),
    }
    result["baseline_over_dags_check"] = round(
        result["baseline_list_import_errors_median_s"] / result["dags_check_median_s"], 2
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
