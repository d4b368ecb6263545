"""`mwaa-local update` as UpdateEnvironment: pending changes, a rolling restart, and a rollback
to the last good versions when a component fails to start with the new ones."""

import json
import os
import zipfile

import pytest

from tests.e2e.stacks import make_project
from tests.e2e.wheels import make_wheel

pytestmark = pytest.mark.e2e

GOOD = "--find-links /usr/local/airflow/plugins\nmwaa_local_probe==1.0\n"


def installed_probe(docker_engine, project, service: str) -> str:
    label = f"com.docker.compose.project={project.name.lower()}"
    [container] = docker_engine.containers.list(
        filters={"label": [label, f"com.docker.compose.service={service}"]}
    )
    code, output = container.exec_run(["python", "-c", "import mwaa_local_probe as p; print(p.V)"])
    return output.decode().strip() if code == 0 else f"exit {code}: {output.decode()[-300:]}"


def test_a_failed_update_rolls_back_and_a_good_one_applies(airflow2_image, docker_engine, tmp_path):
    project = make_project(f"e2e-upd-{os.getpid()}", airflow2_image.version)
    try:
        wheel = make_wheel(tmp_path, "mwaa_local_probe", "1.0", "V = 'one'\n")
        with zipfile.ZipFile(project.path / "plugins.zip", "w") as archive:
            archive.write(wheel, wheel.name)
        (project.path / "plugins.zip").chmod(0o644)
        (project.path / "requirements").mkdir()
        requirements = project.path / "requirements" / "requirements.txt"
        requirements.write_text(GOOD)
        started = project.cli("start")
        assert started.returncode == 0, started.output
        assert installed_probe(docker_engine, project, "worker") == "one"
        first = project.status()["Applied"]["RequirementsS3Path"]

        bad = GOOD + "mwaa-local-no-such-package-e2e==1.0\n"
        requirements.write_text(bad)
        pending = project.status()["PendingChanges"]
        assert [c["what"] for c in pending] == ["RequirementsS3Path"], pending

        failed = project.cli("update")
        assert failed.returncode == 1, failed.output
        assert "ROLLING_BACK" in failed.stderr
        assert "UPDATE_FAILED: REQUIREMENTS_INSTALL_FAILED" in failed.stderr
        status = project.status()
        assert status["Status"] == "UPDATE_FAILED"
        error = status["LastUpdate"]["Error"]
        assert error["ErrorCode"] == "REQUIREMENTS_INSTALL_FAILED"
        assert "mwaa-local-no-such-package-e2e" in error["ErrorMessage"]
        assert status["Applied"]["RequirementsS3Path"] == first  # still the previous version
        assert all(c["Health"] in (None, "healthy") for c in status["Components"].values())
        for service in ("webserver", "scheduler", "worker", "triggerer"):
            assert installed_probe(docker_engine, project, service) == "one"
        assert "FAILED" in project.cli("status").stdout
        assert requirements.read_text() == bad  # the user's file is never rewritten

        api = project.api()
        api.unpause("mwaa_local_example")
        run_id = api.trigger("mwaa_local_example")
        assert api.wait_for_run("mwaa_local_example", run_id)["state"] == "success"

        requirements.write_text(GOOD + "# reviewed\n")
        applied = project.cli("update")
        assert applied.returncode == 0, applied.output
        assert "is AVAILABLE" in applied.stdout
        status = project.status()
        assert status["Status"] == "AVAILABLE"
        assert status["LastUpdate"]["Status"] == "SUCCESS" and not status["PendingChanges"]
        assert status["Applied"]["RequirementsS3Path"] != first

        versions = json.loads(project.cli("versions", "--json").stdout)["Recorded"]
        requirement_versions = [v for v in versions if v["Kind"] == "RequirementsS3Path"]
        assert len(requirement_versions) == 3
        assert [v["Applied"] for v in requirement_versions] == [False, False, True]
        assert project.cli("update").stdout.startswith("Nothing to update")
    finally:
        project.destroy()


def test_a_malicious_plugins_zip_is_refused_and_writes_nothing_outside(
    airflow2_image, docker_engine, tmp_path
):
    evil = tmp_path / "plugins.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("operators/ok.py", "X = 1\n")
        archive.writestr("../escaped.py", "X = 1\n")
    evil.chmod(0o644)
    output = docker_engine.containers.run(
        airflow2_image.tag,
        [
            "bash", "-c",
            "python -m mwaa_local.container.entrypoint test-requirements worker; echo exit=$?; "
            "ls /usr/local/airflow/escaped.py /usr/local/airflow/plugins 2>&1; true",
        ],
        volumes={str(evil): {"bind": "/tmp/plugins.zip", "mode": "ro"}},
        environment={"MWAA_LOCAL_PLUGINS_FILE": "/tmp/plugins.zip"},
        remove=True,
        stderr=True,
    ).decode()  # fmt: skip
    assert "exit=1" in output
    assert "../escaped.py" in output and "nothing was extracted" in output
    assert "No such file or directory" in output  # escaped.py was not written
    assert "ok.py" not in output  # and the zip was refused whole
