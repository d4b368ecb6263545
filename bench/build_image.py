"""Times `mwaa-local build-image`: a cold build, then a no-change rebuild, against a baseline.

A cold build removes the image and its cached layers first (the base image stays). The baseline
is a pip-based build of the same packages on the same base (bench/baseline/pip.Dockerfile), the
way the anchors build, run cold in the same script.

    python bench/build_image.py --airflow-version 3.0.6 --base-image local/python:3.12-bookworm

Prints the median of each over --runs runs and the ratios; --json for machine-readable output.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import timed

from mwaa_local.mwaa.constraints import official_constraints
from mwaa_local.runtime.image import airflow_packages, find_ca_bundle, image_tag
from mwaa_local.spec.versions import airflow_version

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mwaa-local"


def remove_image(tag: str) -> None:
    subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    subprocess.run(["docker", "image", "prune", "-f"], capture_output=True)


def baseline_build(version, base_image: str, tag: str) -> float:
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(HERE / "baseline" / "pip.Dockerfile", Path(context) / "Dockerfile")
        mirror = os.environ.get("MWAA_LOCAL_CONSTRAINTS_MIRROR")
        text = official_constraints(version, mirror, CACHE / "constraints")
        (Path(context) / "constraints.txt").write_text(text)
        bundle = find_ca_bundle(None)
        (Path(context) / "ca-bundle.pem").write_bytes(bundle.read_bytes() if bundle else b"")
        return timed(
            [
                "docker",
                "build",
                "-q",
                "-t",
                tag,
                "--build-arg",
                f"BASE_IMAGE={base_image}",
                "--build-arg",
                f"PYTHON_VERSION={version.python}",
                "--build-arg",
                f"AIRFLOW_PACKAGES={' '.join(airflow_packages(version))}",
                context,
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.0.6")
    parser.add_argument("--base-image", default="local/python:3.12-bookworm")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    version = airflow_version(args.airflow_version)
    tag = image_tag(version)
    build = [
        sys.executable,
        "-m",
        "mwaa_local.cli",
        "build-image",
        "--quiet",
        "--airflow-version",
        version.airflow,
        "--base-image",
        args.base_image,
    ]
    cold, warm, baseline = [], [], []
    for _ in range(args.runs):
        remove_image(tag)
        cold.append(timed(build))
        warm.append(timed(build))
        if not args.no_baseline:
            remove_image("mwaa-local-bench/pip-baseline")
            baseline.append(
                baseline_build(version, args.base_image, "mwaa-local-bench/pip-baseline")
            )
    remove_image("mwaa-local-bench/pip-baseline")
    result = {
        "airflow_version": version.airflow,
        "base_image": args.base_image,
        "runs": args.runs,
        "cold_build_median_s": round(statistics.median(cold), 1),
        "no_change_rebuild_median_s": round(statistics.median(warm), 2),
    }
    if baseline:
        result["baseline_pip_cold_build_median_s"] = round(statistics.median(baseline), 1)
        result["baseline_over_cold_ratio"] = round(
            statistics.median(baseline) / statistics.median(cold), 1
        )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
