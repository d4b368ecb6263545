"""DAG sync as on MWAA: each container keeps its own copy, synced from the bucket folder."""

import json
import os
import time

import pytest

from tests.e2e.stacks import make_project

pytestmark = pytest.mark.e2e

AIRFLOW_SERVICES = ("scheduler", "worker", "triggerer", "webserver")
PROBE_DAG = """
import pendulum
from airflow import DAG
from airflow.operators.empty import EmptyOperator

with DAG("sync_probe", description="{description}", schedule=None,
         start_date=pendulum.datetime(2024, 1, 1)):
    EmptyOperator(task_id="noop")
"""


def copies(docker_engine, project, name: str) -> dict[str, str | None]:
    """The file's content in each Airflow container's own DAG folder (None where absent)."""
    label = f"com.docker.compose.project={project.name.lower()}"
    found = {}
    for container in docker_engine.containers.list(filters={"label": label}):
        service = container.labels["com.docker.compose.service"]
        if service in AIRFLOW_SERVICES:
            code, output = container.exec_run(["cat", f"/usr/local/airflow/dags/{name}"])
            found[service] = output.decode() if code == 0 else None
    return found


def wait_until(predicate, timeout: float = 10) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "not synced in time"
        time.sleep(0.2)
    return time.monotonic() - started


def test_new_changed_and_deleted_files_reach_every_container(airflow2_image, docker_engine):
    project = make_project(f"e2e-sync-{os.getpid()}", airflow2_image.version)
    try:
        assert project.cli("start").returncode == 0
        dag = project.path / "dags" / "synced.py"
        dag.write_text("# v1 airflow dag\n")
        seconds = wait_until(
            lambda: (
                set(copies(docker_engine, project, "synced.py").values()) == {"# v1 airflow dag\n"}
            )
        )
        assert seconds < 3  # the default interval is 1 s
        assert len(copies(docker_engine, project, "synced.py")) == len(AIRFLOW_SERVICES)

        dag.write_text("# v2 airflow dag\n")
        wait_until(
            lambda: (
                set(copies(docker_engine, project, "synced.py").values()) == {"# v2 airflow dag\n"}
            )
        )
        dag.unlink()
        wait_until(lambda: set(copies(docker_engine, project, "synced.py").values()) == {None})

        # In Airflow: a new DAG is parsed, an edit is parsed again, a deleted file's DAG stays
        # listed until deleted in Airflow (mwaa-behaviour.md 3).
        probe = project.path / "dags" / "sync_probe.py"
        probe.write_text(PROBE_DAG.format(description="v1"))
        wait_until(lambda: project.dag_description("sync_probe") == "v1", timeout=30)
        probe.write_text(PROBE_DAG.format(description="v2"))
        wait_until(lambda: project.dag_description("sync_probe") == "v2", timeout=15)
        probe.unlink()
        wait_until(lambda: set(copies(docker_engine, project, "sync_probe.py").values()) == {None})
        assert project.dag_description("sync_probe") == "v2"

        synced = project.cli("sync")
        assert synced.returncode == 0, synced.output

        # One file the containers cannot read is skipped and named; the rest still syncs,
        # deletions included (as `aws s3 sync` goes on).
        doomed = project.path / "dags" / "doomed.py"
        doomed.write_text("# doomed airflow dag\n")
        wait_until(lambda: None not in copies(docker_engine, project, "doomed.py").values())
        private = project.path / "dags" / "private.py"
        private.write_text("# only its owner reads this\n")
        private.chmod(0o600)  # owned by the host user, not the containers' airflow user
        doomed.unlink()
        wait_until(lambda: set(copies(docker_engine, project, "doomed.py").values()) == {None})
        status = json.loads(project.cli("status", "--json").stdout)
        sync = status["Components"]["worker"]["StartSequence"]["dag_sync"]
        assert sync["ok"] is True and sync["skipped"] == {"private.py": "Permission denied"}
        assert "skipped private.py" in project.cli("logs", "worker", "--tail", "all").output
        # A DAG check cannot pass while a DAG file was not checked.
        checked = project.cli("dags", "check", "--json")
        assert checked.returncode == 1, checked.output
        assert json.loads(checked.stdout)["not_checked"] == {"private.py": "Permission denied"}
        private.unlink()

        # An unreadable bucket leaves the last good copy, and status says why.
        project.path.chmod(0o700)  # the containers' airflow user (uid 1000) loses access
        try:
            assert project.cli("sync").returncode == 1
            time.sleep(2)
            status = json.loads(project.cli("status", "--json").stdout)
            sync = status["Components"]["worker"]["StartSequence"]["dag_sync"]
            assert sync["ok"] is False and "cannot be read" in sync["error"]
            assert copies(docker_engine, project, "mwaa_local_example.py")["worker"]
        finally:
            project.path.chmod(0o755)
    finally:
        project.destroy()
