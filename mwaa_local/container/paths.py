"""Every path inside the image, in one place: MWAA's layout and mwaa-local's own folders.

This module is the contract between the two halves: the host mounts volumes and runs commands at
these paths, the in-container code reads them. It is the one module of `container/` that host code
imports (ARCHITECTURE.md), so it holds constants only and imports nothing.
"""

from pathlib import PurePosixPath

# MWAA's layout (mwaa-behaviour.md 1.5, 2.1, 2.5): AIRFLOW_HOME, the airflow user's site where
# packages are installed, and where plugins.zip is extracted.
AIRFLOW_HOME = PurePosixPath("/usr/local/airflow")
DAGS_DIR = AIRFLOW_HOME / "dags"
PLUGINS_DIR = AIRFLOW_HOME / "plugins"
USER_SITE = AIRFLOW_HOME / ".local"
# The CloudWatch-shaped log streams, in the logs volume every Airflow container shares.
STREAMS_ROOT = AIRFLOW_HOME / "logs" / "mwaa-local"
# What a component started with (the startup script's exports included), for `shell` and `airflow`.
COMPONENT_ENV_FILE = AIRFLOW_HOME / ".mwaa-local" / "component.env"
# When the container's health check last passed in full (container/health.py).
HEALTHY_MARKER = PurePosixPath("/tmp/mwaa-local-healthy")

# mwaa-local's own folders.
MWAA_LOCAL_HOME = PurePosixPath("/usr/local/mwaa-local")
# The bucket folder (read-only), or for an s3:// bucket the volume its mirror fills.
BUCKET_MOUNT = MWAA_LOCAL_HOME / "bucket"
BUCKET_MIRROR = MWAA_LOCAL_HOME / "bucket-mirror"
# The object-version store (read-only): the applied plugins.zip, requirements and startup script.
VERSIONS_MOUNT = MWAA_LOCAL_HOME / "versions"
UV_CACHE = MWAA_LOCAL_HOME / "uv-cache"
# The image's tools venv (uv, and a pip for the image's Python version when that has none).
TOOLS_VENV = MWAA_LOCAL_HOME / "uv"
# Official constraints files the host staged in the version store, laid out like the URL path.
STAGED_CONSTRAINTS = VERSIONS_MOUNT / "constraints"
# A DAG folder outside the bucket that `dags check PATH` mounts read-only.
DAGS_CHECK_MOUNT = MWAA_LOCAL_HOME / "dags-check"
