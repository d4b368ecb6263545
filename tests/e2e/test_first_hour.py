"""A new user's first hour on real stacks (issue 10, item 5): `mwaa-local init && mwaa-local
start` in an empty folder runs the example DAG with no other step; piped output is plain;
`down --volumes` leaves nothing behind; images that cannot be pulled are named."""

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mwaa_local.runtime.stack import UV_CACHE_VOLUME
from mwaa_local.spec.settings import default_name
from tests.e2e.conftest import AIRFLOW2, AIRFLOW3, run_cli
from tests.e2e.stacks import REPO, Project, free_port, make_project

pytestmark = pytest.mark.e2e

DAG = "mwaa_local_example"


def leftovers(engine, project: str) -> dict[str, list[str]]:
    """Every container, network and volume of the compose project (the shared uv cache aside)."""
    label = {"label": f"com.docker.compose.project={project}"}
    volumes = {v.name for v in engine.volumes.list(filters=label)}
    volumes |= {v.name for v in engine.volumes.list() if v.name.startswith(f"{project}_")}
    return {
        "containers": [c.name for c in engine.containers.list(all=True, filters=label)],
        "networks": [n.name for n in engine.networks.list(filters=label)],
        "volumes": sorted(volumes - {UV_CACHE_VOLUME}),
    }


def piped_lines_are_whole(text: str) -> bool:
    return "…" not in text and "\x1b[" not in text


def test_init_and_start_run_the_example_dag_then_down_removes_everything(
    airflow3_image, docker_engine
):
    folder = Path(tempfile.mkdtemp(prefix="mwaa-local-first-"))
    folder.chmod(0o755)  # the containers' airflow user reads the bucket folder
    port = free_port()
    # The suite's MWAA_LOCAL_* variables name the test images; only the port is this test's.
    env = {"MWAA_LOCAL_WEBSERVER_PORT": str(port), "PYTHONPATH": str(REPO)}
    project = Project(folder, default_name(folder), AIRFLOW3, port)

    def cli(*args: str, timeout: float = 900):
        return run_cli(*args, cwd=folder, env=env, timeout=timeout)

    try:
        init = cli("init")
        assert init.returncode == 0, init.output
        assert (folder / "dags" / f"{DAG}.py").is_file()

        before = cli("status")
        assert before.returncode == 0, before.output
        assert "Never started" in before.stdout and "Pending changes" not in before.stdout
        assert f"Airflow UI: http://127.0.0.1:{port}" in before.stdout

        started = cli("start")
        assert started.returncode == 0, started.output
        assert "is AVAILABLE" in started.stdout
        # Not a terminal: plain progress lines, one per change, with the elapsed time.
        assert " health  scheduler: ready" in started.stderr, started.stderr
        assert " up      " in started.stderr
        assert "MWAA_LOCAL_PHASE" not in started.output
        assert "holds no .py" not in started.stderr and "does not exist" not in started.stderr

        api = project.api()
        api.unpause(DAG)
        run_id = api.trigger(DAG)
        assert api.wait_for_run(DAG, run_id)["state"] == "success"

        listed = cli("airflow", "dags", "list", "-o", "json")
        assert listed.returncode == 0, listed.output
        assert DAG in [row["dag_id"] for row in json.loads(listed.stdout)], listed.stdout

        logs = cli("logs", "scheduler", "--tail", "all")
        assert logs.returncode == 0, logs.output
        assert "MWAA_LOCAL_PHASE" not in logs.stdout and "\x1b[" not in logs.stdout
        assert "startup.sh running in the scheduler component" in logs.stdout

        status = cli("status")
        assert status.returncode == 0, status.output
        assert piped_lines_are_whole(status.stdout) and "Requirements" in status.stdout
        assert "Pending changes" not in status.stdout and "Never started" not in status.stdout
        assert f".mwaa-local/{project.name}/secrets.json" in status.stdout

        down = cli("down", "--volumes", "--yes")
        assert down.returncode == 0, down.output
        assert leftovers(docker_engine, project.name.lower()) == {
            "containers": [],
            "networks": [],
            "volumes": [],
        }
        assert not project.state.exists()
        docker_engine.volumes.get(UV_CACHE_VOLUME)  # shared: removed only with --uv-cache
    finally:
        if any(leftovers(docker_engine, project.name.lower()).values()):
            project.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def test_an_empty_dag_folder_starts_with_a_note_and_json_output_parses(
    airflow2_image, docker_engine
):
    project = make_project(f"e2e-first2-{os.getpid()}", AIRFLOW2)
    shutil.rmtree(project.path / "dags")
    (project.path / "dags").mkdir(mode=0o755)
    try:
        started = project.cli("start")
        assert started.returncode == 0, started.output
        assert "holds no .py or .zip file" in started.stderr
        assert "DagS3Path: dags" in started.stderr

        shutil.copy(REPO / "dags" / f"{DAG}.py", project.path / "dags")
        assert project.cli("sync").returncode == 0
        listed = project.cli("airflow", "dags", "list", "-o", "json")
        assert listed.returncode == 0, listed.output
        assert DAG in [row["dag_id"] for row in json.loads(listed.stdout)], listed.stdout

        down = project.cli("down", "--volumes", "--yes")
        assert down.returncode == 0, down.output
        assert not any(leftovers(docker_engine, project.name.lower()).values())
    finally:
        project.destroy()


def test_images_that_cannot_be_pulled_are_named_with_their_setting(docker_engine, tmp_path):
    project = make_project(f"e2e-first-pull-{os.getpid()}", AIRFLOW3)
    missing = "mwaa-local-test/no-such-postgres:1"
    try:
        started = project.cli("start", env={"MWAA_LOCAL_POSTGRES_IMAGE": missing})
        assert started.returncode == 1
        message = [line for line in started.stderr.splitlines() if line.startswith("Error:")]
        assert len(message) == 1 and missing in message[0], started.stderr
        assert "Local.PostgresImage" in started.stderr
        assert "MWAA_LOCAL_POSTGRES_IMAGE" in started.stderr
        assert "Pulling postgres (" not in started.output  # compose's own text
        assert not any(leftovers(docker_engine, project.name.lower()).values())

        base = "mwaa-local-test/no-such-base:1"
        built = project.cli("build-image", "--airflow-version", AIRFLOW3, "--base-image", base)
        assert built.returncode == 1
        assert f"The image {base} is not on this Docker engine" in built.stderr
        assert "--base-image" in built.stderr and "Step 1/" not in built.stderr
    finally:
        project.destroy()
