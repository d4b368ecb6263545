"""Continuous DAG sync inside each Airflow container: `python -m mwaa_local.container.dag_sync`.

MWAA syncs the bucket's DAG folder into every container every 30 seconds, new, changed and
deleted files alike (mwaa-behaviour.md 3); mwaa-local does the same at `Local.DagSyncInterval`
(1 s by default, 30 for MWAA's pace). A bucket that cannot be read leaves the last good copy in
place, and the error is reported for `status`; a file or folder in it that cannot be read is
skipped with a warning naming it, and the rest is synced.
"""

import argparse
import os
import sys
import time
from pathlib import Path

from mwaa_local.container import paths
from mwaa_local.container.sync_folder import sync_folder
from mwaa_local.mwaa.log_streams import report_phase


def sync_once(bucket: Path, dag_path: str, target: Path) -> dict:
    """One sync; an unreadable bucket changes nothing (the last copy stays) and says why."""
    if not os.access(bucket, os.R_OK | os.X_OK) or not bucket.is_dir():
        return {"ok": False, "error": f"the bucket {bucket} cannot be read"}
    try:
        result = sync_folder(bucket / dag_path, target)
    except OSError as e:
        return {"ok": False, "error": f"the DAG sync failed: {e}"}
    return {
        "ok": True,
        "copied": result.copied,
        "deleted": result.deleted,
        "skipped": result.skipped,
    }


def skipped_warnings(outcome: dict) -> list[str]:
    return [
        f"WARNING DAG sync: skipped {name} ({reason}); the rest of the folder is synced"
        for name, reason in sorted(outcome.get("skipped", {}).items())
    ]


def run(bucket: Path, dag_path: str, target: Path, interval: float, component: str) -> None:
    last: tuple | None = None  # the first pass is always reported
    # The component that started this loop; when it is gone (a host runtime's process, stopped),
    # so is the loop. In a container it is process 1, gone only with the container.
    parent = os.getppid()
    while os.getppid() == parent:
        outcome = sync_once(bucket, dag_path, target)
        changed = outcome.get("copied") or outcome.get("deleted")
        now = (outcome["ok"], sorted(outcome.get("skipped", {}).items()))
        if changed or now != last:
            for warning in skipped_warnings(outcome):
                print(f"[mwaa-local] {warning}", file=sys.stderr, flush=True)
            report_phase("dag_sync", component, outcome)
        last = now
        time.sleep(interval)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mwaa_local.container.dag_sync")
    parser.add_argument("--once", action="store_true", help="Sync now and exit.")
    args = parser.parse_args(argv)
    env = os.environ
    bucket = Path(env.get("MWAA_LOCAL_BUCKET_MOUNT", str(paths.BUCKET_MOUNT)))
    dag_path = env.get("MWAA_LOCAL_DAG_S3_PATH", "dags")
    target = Path(env.get("AIRFLOW_HOME", str(paths.AIRFLOW_HOME))) / "dags"
    component = env.get("MWAA_LOCAL_COMPONENT", "?")
    if args.once:
        outcome = sync_once(bucket, dag_path, target)
        for warning in skipped_warnings(outcome):
            print(f"[mwaa-local] {warning}", file=sys.stderr, flush=True)
        report_phase("dag_sync", component, outcome)
        return 0 if outcome["ok"] else 1
    run(bucket, dag_path, target, float(env.get("MWAA_LOCAL_DAG_SYNC_INTERVAL", 1)), component)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
