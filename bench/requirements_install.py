"""Times `mwaa-local test-requirements` on the sample requirements (requirements/), cold (uv's
cache volume removed first) and warm, against a baseline in the same run: pip installing the
same file under the same constraints in the same image, as the anchors do at every start.

    python bench/requirements_install.py --airflow-version 3.3.1 --runs 3

Needs the image built (mwaa-local build-image).
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from common import timed

from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.stack import UV_CACHE_VOLUME
from mwaa_local.spec.versions import airflow_version

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.3.1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    version = airflow_version(args.airflow_version)
    project = Path(tempfile.mkdtemp(prefix="mwaa-local-bench-req-"))
    project.chmod(0o755)
    shutil.copytree(REPO / "requirements", project / "requirements")
    settings = {"Name": "bench-requirements", "AirflowVersion": version.airflow}
    (project / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    ours = [sys.executable, "-m", "mwaa_local.cli", "--project-dir", str(project)]
    ours += ["test-requirements", "--quiet"]
    # The anchors' way: pip, into the airflow user's site, with the constraints, every time.
    baseline = [
        "docker", "run", "--rm", "-v", f"{project}:/bucket:ro", "--entrypoint", "sh",
        image_tag(version), "-c",
        "/usr/local/mwaa-local/uv/bin/pip --python /usr/local/mwaa-local/bin/python3 "
        "install -q --user --no-cache-dir "
        "-r /bucket/requirements/requirements.txt -c $AIRFLOW_CONSTRAINTS_FILE "
        "-c $MWAA_ESSENTIAL_CONSTRAINTS_FILE",
    ]  # fmt: skip
    cold, warm, pip = [], [], []
    try:
        for _ in range(args.runs):
            subprocess.run(["docker", "volume", "rm", "-f", UV_CACHE_VOLUME], capture_output=True)
            cold.append(timed(ours))
            warm.append(timed(ours))
            pip.append(timed(baseline))
    finally:
        shutil.rmtree(project, ignore_errors=True)
    result = {
        "airflow_version": version.airflow,
        "runs": args.runs,
        "requirements": (REPO / "requirements" / "requirements.txt").read_text().split("\n")[-2],
        "cold_median_s": round(statistics.median(cold), 1),
        "warm_median_s": round(statistics.median(warm), 1),
        "baseline_pip_median_s": round(statistics.median(pip), 1),
        "baseline_over_warm_ratio": round(statistics.median(pip) / statistics.median(warm), 1),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
