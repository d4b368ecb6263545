"""Whether the bucket's DAG folder holds anything Airflow would parse, so `start` can say so
instead of leaving a new user with an empty DAG list and no clue."""

from pathlib import Path

from mwaa_local.bucket.source import S3Bucket, open_bucket
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import Environment

# Airflow parses .py files and zipped DAG packages in its DAG folder.
DAG_SUFFIXES = (".py", ".zip")


def empty_dag_folder_note(environment: Environment) -> str | None:
    """A note when the DAG folder is missing or holds no DAG file; None when it holds one (or
    cannot be listed: starting says why)."""
    dag_path = environment.dag_s3_path.strip("/")
    if environment.bucket_is_s3:
        where = f"{environment.local.bucket.rstrip('/')}/{dag_path}/"
        from botocore.exceptions import BotoCoreError, ClientError

        bucket = open_bucket(environment)
        try:
            keys = bucket.list_keys(dag_path) if isinstance(bucket, S3Bucket) else {}
        except (BotoCoreError, ClientError, MwaaLocalError):
            return None  # credentials, network: starting reports these
        if any(key.endswith(DAG_SUFFIXES) for key in keys):
            return None
        state = "holds no .py or .zip file"
    else:
        folder = environment.bucket_folder / dag_path
        where = _shown(folder)
        if not folder.is_dir():
            state = "does not exist"
        elif _holds_dag_file(folder):
            return None
        else:
            state = "holds no .py or .zip file"
    return (
        f"The DAG folder {where} (DagS3Path: {environment.dag_s3_path}) {state}: Airflow will "
        "list no DAGs. Put DAG files there (they are synced in while the environment runs); "
        "`mwaa-local init` lays out an example DAG in a missing or empty folder."
    )


def _holds_dag_file(folder: Path) -> bool:
    try:
        return any(p.suffix in DAG_SUFFIXES and p.is_file() for p in folder.rglob("*"))
    except OSError:
        return True  # unreadable: the DAG sync reports it, in `status`


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve())) + "/"
    except ValueError:
        return f"{path}/"
