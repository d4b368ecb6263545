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
import contextlib
import json
import os
import sys
import time
from pathlib import Path

from mwaa_local.bucket.keys import key_problem, path_inside
from mwaa_local.bucket.source import S3Bucket
from mwaa_local.container import paths
from mwaa_local.mwaa.log_streams import report_phase

MANIFEST = ".mwaa-local-etags.json"


def mirror_once(bucket: S3Bucket, dag_path: str, root: Path) -> dict:
    """One pass: download new and changed keys, remove deleted ones. A key that is not a plain
    relative path below the DAG folder, or that cannot be a file there (a file key where another
    key needs a folder), is skipped and named in `skipped`; nothing is written or removed
    outside the DAG folder."""
    try:
        wanted = bucket.list_keys(dag_path)
    except Exception as e:  # botocore raises many kinds; any of them means "unreachable"
        return {"ok": False, "error": f"cannot list {bucket.url}{dag_path}: {e}"}
    target = root / dag_path
    manifest_file = root / MANIFEST
    known = read_manifest(manifest_file, target)
    copied, deleted, skipped = [], [], {}
    folder_key = f"{bucket.prefix}{dag_path.strip('/')}/"
    # Deletions first, so a key that became a folder of keys (or back) is written in one pass.
    for name in sorted(set(known) - set(wanted)):
        known.pop(name)
        # A name an earlier mwaa-local recorded unchecked is forgotten, never removed.
        if key_problem(name) is None:
            with contextlib.suppress(OSError, ValueError):
                path = path_inside(target, name)
                path.unlink(missing_ok=True)
                _remove_empty_folders(target, path.parent)
            deleted.append(name)
    for name, etag in sorted(wanted.items()):
        problem = key_problem(name)
        if problem is None and known.get(name) == etag and (target / name).is_file():
            continue
        if problem is None:
            problem = _clash(target, name, folder_key)
        if problem:
            skipped[folder_key + name] = problem
            continue
        try:
            content = bucket.read_key(f"{dag_path.strip('/')}/{name}")
        except Exception as e:  # one unreadable object must not stop the others, or deletions
            # Skipped, as `aws s3 sync` goes on; its old ETag stays, so the next pass tries again.
            skipped[folder_key + name] = f"it cannot be read: {e}"
            continue
        try:
            _write(target, name, content)
        except (OSError, ValueError) as e:
            skipped[folder_key + name] = f"it cannot be written: {e}"
            continue
        known[name] = etag
        copied.append(name)
    tmp = manifest_file.with_name(f".{manifest_file.name}.tmp")
    tmp.write_text(json.dumps(known))
    tmp.replace(manifest_file)
    return {"ok": True, "copied": copied, "deleted": deleted, "skipped": skipped}


def read_manifest(manifest_file: Path, target: Path) -> dict[str, str]:
    """The ETags of what the mirror holds. A damaged manifest (a crash while an older version
    wrote it) is rebuilt from the files present, with no ETags: each is downloaded again, and
    removed if its key is gone."""
    if not manifest_file.is_file():
        return {}
    try:
        known = json.loads(manifest_file.read_text())
        if isinstance(known, dict):
            return known
    except (OSError, ValueError):
        pass
    print(
        f"WARNING bucket-sync: {manifest_file} is damaged; rebuilding it from the mirror",
        file=sys.stderr,
        flush=True,
    )
    if not target.is_dir():
        return {}
    return {
        p.relative_to(target).as_posix(): ""
        for p in target.rglob("*")
        if p.is_file() and not p.name.endswith(".mwaa-local-sync")
    }


def _clash(target: Path, name: str, folder_key: str) -> str | None:
    """Why `name` cannot be a file: another key's file is where it needs a folder, or other
    keys' files make a folder of its name (S3 allows both `dags/a` and `dags/a/b.py`)."""
    path = target / name
    if path.is_dir():
        return "other keys are below it, so it cannot also be a file"
    for parent in reversed(Path(name).parents[:-1]):
        if (target / parent).exists() and not (target / parent).is_dir():
            return (
                f"the key {folder_key}{parent.as_posix()} is a file where this key needs a folder"
            )
    return None


def _remove_empty_folders(target: Path, folder: Path) -> None:
    """Remove `folder` and its parents while empty, up to `target` (not included)."""
    while folder != target and target in folder.parents and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


def _write(target: Path, name: str, content: bytes) -> None:
    path = path_inside(target, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path = path_inside(target, name)  # the folders made, checked again
    tmp = path.with_name(f".{path.name}.mwaa-local-sync")
    tmp.write_bytes(content)
    tmp.replace(path)


def warn_skipped(skipped: dict[str, str]) -> None:
    for key, problem in sorted(skipped.items()):
        print(
            f"WARNING bucket-sync: skipped S3 key {key!r}: {problem}", file=sys.stderr, flush=True
        )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mwaa_local.container.s3_mirror")
    parser.add_argument("--once", action="store_true", help="Mirror now and exit.")
    args = parser.parse_args(argv)
    env = os.environ
    bucket = S3Bucket(env["MWAA_LOCAL_S3_BUCKET_URL"], env.get("MWAA_LOCAL_S3_ENDPOINT_URL"))
    dag_path = env.get("MWAA_LOCAL_DAG_S3_PATH", "dags")
    root = Path(env.get("MWAA_LOCAL_MIRROR", str(paths.BUCKET_MIRROR)))
    interval = float(env.get("MWAA_LOCAL_DAG_SYNC_INTERVAL", 1))
    last_ok: bool | None = None
    last_skipped: dict[str, str] | None = None
    while True:
        outcome = mirror_once(bucket, dag_path, root)
        skipped = outcome.get("skipped", {})
        if args.once:
            warn_skipped(skipped)
            report_phase("bucket_sync", "bucket-sync", outcome)
            return 0 if outcome["ok"] else 1
        # Each skipped key is named once, not at every pass.
        if outcome["ok"] and skipped != last_skipped:
            warn_skipped({k: v for k, v in skipped.items() if k not in (last_skipped or {})})
        changed = outcome.get("copied") or outcome.get("deleted")
        if changed or outcome["ok"] != last_ok or (outcome["ok"] and skipped != last_skipped):
            report_phase("bucket_sync", "bucket-sync", outcome)
        last_ok = outcome["ok"]
        if outcome["ok"]:
            last_skipped = skipped
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
