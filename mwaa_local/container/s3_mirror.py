"""The bucket-sync container of an environment whose bucket is s3://: it mirrors the bucket's DAG
folder into a volume the Airflow containers mount as their bucket, so their own DAG sync works
as with a folder. New and changed objects are downloaded (by ETag), deleted ones removed; an
unreachable bucket leaves the last good mirror in place and the error is reported for `status`;
an object that cannot be read is skipped and named, and the rest is mirrored, as `aws s3 sync`
goes on.

`python -m mwaa_local.container.s3_mirror [--once]`, with MWAA_LOCAL_S3_BUCKET_URL,
MWAA_LOCAL_S3_ENDPOINT_URL, MWAA_LOCAL_DAG_S3_PATH and the AWS credentials in the environment.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mwaa_local.bucket.source import S3Bucket
from mwaa_local.container import paths
from mwaa_local.container.dag_sync import skipped_warnings
from mwaa_local.mwaa.log_streams import report_phase

MANIFEST = ".mwaa-local-etags.json"


def mirror_once(bucket: S3Bucket, dag_path: str, root: Path) -> dict:
    try:
        wanted = bucket.list_keys(dag_path)
    except Exception as e:  # botocore raises many kinds; any of them means "unreachable"
        return {"ok": False, "error": f"cannot list {bucket.url}{dag_path}: {e}"}
    target = root / dag_path
    manifest_file = root / MANIFEST
    known = json.loads(manifest_file.read_text()) if manifest_file.is_file() else {}
    copied, deleted, skipped = [], [], {}
    for name, etag in sorted(wanted.items()):
        path = target / name
        if known.get(name) == etag and path.is_file():
            continue
        if ".." in Path(name).parts:
            skipped[name] = "the key would land outside the DAG folder"
            continue
        try:
            content = bucket.read_key(f"{dag_path.strip('/')}/{name}")
        except Exception as e:
            skipped[name] = str(e)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.mwaa-local-sync")
        tmp.write_bytes(content)
        tmp.replace(path)
        known[name] = etag
        copied.append(name)
    for name in sorted(set(known) - set(wanted)):
        (target / name).unlink(missing_ok=True)
        known.pop(name)
        deleted.append(name)
    manifest_file.write_text(json.dumps(known))
    return {"ok": True, "copied": copied, "deleted": deleted, "skipped": skipped}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mwaa_local.container.s3_mirror")
    parser.add_argument("--once", action="store_true", help="Mirror now and exit.")
    args = parser.parse_args(argv)
    env = os.environ
    bucket = S3Bucket(env["MWAA_LOCAL_S3_BUCKET_URL"], env.get("MWAA_LOCAL_S3_ENDPOINT_URL"))
    dag_path = env.get("MWAA_LOCAL_DAG_S3_PATH", "dags")
    root = Path(env.get("MWAA_LOCAL_MIRROR", str(paths.BUCKET_MIRROR)))
    interval = float(env.get("MWAA_LOCAL_DAG_SYNC_INTERVAL", 1))
    last: tuple | None = None
    while True:
        outcome = mirror_once(bucket, dag_path, root)
        now = (outcome["ok"], sorted(outcome.get("skipped", {}).items()))
        if args.once or outcome.get("copied") or outcome.get("deleted") or now != last:
            for warning in skipped_warnings(outcome):
                print(f"[mwaa-local] {warning}", file=sys.stderr, flush=True)
            report_phase("bucket_sync", "bucket-sync", outcome)
        if args.once:
            return 0 if outcome["ok"] else 1
        last = now
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
