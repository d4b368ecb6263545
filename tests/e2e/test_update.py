"""`mwaa-local update` as UpdateEnvironment: pending changes, a rolling restart, and a rollback
to the last good versions when a component fails to start with the new ones, for each cause
(requirements, plugins.zip, startup script, anything else) and when the rollback fails too.

One Airflow 2 stack serves the whole module (CI time is limited): each test leaves it running
the applied versions, except the last, which breaks it for good. The same stack proves the
Airflow 2 REST API (/api/v1) path of `objects apply` / `objects export` on a real web server.
"""

import json
import os
import zipfile

import pytest
import yaml

from tests.e2e.stacks import make_project
from tests.e2e.wheels import make_wheel

pytestmark = pytest.mark.e2e

GOOD = "--find-links /usr/local/airflow/plugins\nmwaa_local_probe==1.0\n"
STARTUP = "export STAGE=one\n"
STARTUP_TIMEOUT = 5  # Local.StartupScriptTimeout: short, so a script past it fails fast
SECRET = "e2e-airflow2-password-never-echoed"
OBJECTS = {
    "connections": {
        "warehouse": {
            "conn_type": "postgres",
            "host": "db.example.com",
            "port": 5432,
            "login": "etl",
            "password": SECRET,
        },
        "public_api": "http://api.example.com:8080/v1?timeout=30",
    },
    "variables": {"stage": "dev", "limits": {"rows": 1000}},
    "pools": {"etl": {"slots": 3, "description": "ETL jobs"}},
}


def installed_probe(docker_engine, project, service: str) -> str:
    label = f"com.docker.compose.project={project.name.lower()}"
    [container] = docker_engine.containers.list(
        # The first of the service's containers: MWAA runs two schedulers by default.
        filters={
            "label": [
                label,
                f"com.docker.compose.service={service}",
                "com.docker.compose.container-number=1",
            ]
        }
    )
    code, output = container.exec_run(["python", "-c", "import mwaa_local_probe as p; print(p.V)"])
    return output.decode().strip() if code == 0 else f"exit {code}: {output.decode()[-300:]}"


@pytest.fixture(scope="module")
def stack(airflow2_image, tmp_path_factory):
    """A running Airflow 2 environment: a wheel in plugins.zip installed by requirements.txt, a
    startup script, airflow-objects.yaml; removed at the end whatever happened."""
    project = make_project(
        f"e2e-upd-{os.getpid()}", airflow2_image.version, StartupScriptTimeout=STARTUP_TIMEOUT
    )
    try:
        wheel = make_wheel(tmp_path_factory.mktemp("wheel"), "mwaa_local_probe", "1.0", "V='one'\n")
        with zipfile.ZipFile(project.path / "plugins.zip", "w") as archive:
            archive.write(wheel, wheel.name)
        (project.path / "plugins.zip").chmod(0o644)
        (project.path / "requirements").mkdir()
        (project.path / "requirements" / "requirements.txt").write_text(GOOD)
        (project.path / "startup").mkdir()
        (project.path / "startup" / "startup.sh").write_text(STARTUP)
        (project.path / "airflow-objects.yaml").write_text(yaml.safe_dump(OBJECTS))
        started = project.cli("start")
        assert started.returncode == 0, started.output
        assert "5 created, 0 updated, 0 unchanged" in started.stdout, started.stdout
        assert SECRET not in started.output
        yield project
    finally:
        project.destroy()


def assert_rolled_back(project, failed, code: str, says: str) -> dict:
    """The update failed with `code`, rolled back, and the environment runs as before."""
    assert failed.returncode == 1, failed.output
    assert "ROLLING_BACK" in failed.stderr
    assert f"UPDATE_FAILED: {code}" in failed.stderr, failed.stderr
    status = project.status()
    assert status["Status"] == "UPDATE_FAILED"
    error = status["LastUpdate"]["Error"]
    assert error["ErrorCode"] == code and says in error["ErrorMessage"], error
    assert all(c["Health"] in (None, "healthy") for c in status["Components"].values()), status
    return status


def test_a_failed_update_rolls_back_and_a_good_one_applies(stack, docker_engine):
    project = stack
    requirements = project.path / "requirements" / "requirements.txt"
    assert installed_probe(docker_engine, project, "worker") == "one"
    first = project.status()["Applied"]["RequirementsS3Path"]

    bad = GOOD + "mwaa-local-no-such-package-e2e==1.0\n"
    requirements.write_text(bad)
    pending = project.status()["PendingChanges"]
    assert [c["what"] for c in pending] == ["RequirementsS3Path"], pending

    failed = project.cli("update")
    status = assert_rolled_back(
        project, failed, "REQUIREMENTS_INSTALL_FAILED", "mwaa-local-no-such-package-e2e"
    )
    assert status["Applied"]["RequirementsS3Path"] == first  # still the previous version
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


def test_objects_through_airflow2s_rest_api_on_a_real_webserver(stack):
    project = stack
    api = project.api()
    assert api.request("GET", "/variables/stage")["value"] == "dev"
    assert json.loads(api.request("GET", "/variables/limits")["value"]) == {"rows": 1000}
    assert api.request("GET", "/pools/etl")["slots"] == 3
    connection = api.request("GET", "/connections/warehouse")
    assert connection["host"] == "db.example.com" and connection["port"] == 5432

    again = project.cli("objects", "apply")
    assert again.returncode == 0, again.output
    assert "0 created, 0 updated, 5 unchanged" in again.stdout

    changed = json.loads(json.dumps(OBJECTS))
    changed["connections"]["warehouse"]["host"] = "db2.example.com"
    changed["variables"]["stage"] = "prod"
    changed["pools"]["etl"]["slots"] = 5
    (project.path / "airflow-objects.yaml").write_text(yaml.safe_dump(changed))
    updated = project.cli("objects", "apply")
    assert updated.returncode == 0, updated.output
    assert "0 created, 3 updated, 2 unchanged" in updated.stdout
    assert SECRET not in updated.output
    assert api.request("GET", "/connections/warehouse")["host"] == "db2.example.com"
    assert api.request("GET", "/variables/stage")["value"] == "prod"
    assert api.request("GET", "/pools/etl")["slots"] == 5

    exported = project.cli("objects", "export")
    assert exported.returncode == 0, exported.output
    assert SECRET not in exported.stdout
    data = yaml.safe_load(exported.stdout)
    assert data["variables"]["stage"] == "prod"
    assert data["pools"]["etl"]["slots"] == 5
    assert data["connections"]["warehouse"]["host"] == "db2.example.com"
    assert "password" not in data["connections"]["warehouse"]


def test_an_unsafe_plugins_zip_is_rolled_back(stack, tmp_path):
    project = stack
    plugins = project.path / "plugins.zip"
    good = plugins.read_bytes()
    evil = tmp_path / "plugins.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("operators/ok.py", "X = 1\n")
        archive.writestr("../escaped.py", "X = 1\n")
    plugins.write_bytes(evil.read_bytes())
    failed = project.cli("update")
    assert_rolled_back(project, failed, "PLUGINS_INVALID", "../escaped.py")
    plugins.write_bytes(good)
    assert project.status()["PendingChanges"] == []


def test_a_new_startup_script_past_the_cap_is_rolled_back(stack):
    project = stack
    script = project.path / "startup" / "startup.sh"
    script.write_text("echo taking my time\nsleep 60\n")
    failed = project.cli("update")
    assert_rolled_back(
        project, failed, "STARTUP_SCRIPT_FAILED", f"timed out after {STARTUP_TIMEOUT} s"
    )
    script.write_text(STARTUP)
    assert project.status()["PendingChanges"] == []


def test_a_component_that_fails_for_another_reason_is_rolled_back(stack):
    project = stack
    settings_file = project.path / "mwaa-local.yaml"
    before = settings_file.read_text()
    settings = yaml.safe_load(before)
    # Valid for MWAA's settings, fatal for Airflow: it refuses to start with it.
    settings["AirflowConfigurationOptions"] = {"logging.logging_level": "NOPE"}
    settings_file.write_text(yaml.safe_dump(settings))
    pending = project.status()["PendingChanges"]
    assert [c["what"] for c in pending] == ["AirflowConfigurationOptions"], pending
    failed = project.cli("update")
    assert_rolled_back(project, failed, "COMPONENT_FAILED", "logging_level")
    settings_file.write_text(before)
    assert project.status()["PendingChanges"] == []


def test_a_rollback_that_fails_leaves_the_environment_unavailable_with_the_reason(stack):
    """Last: it leaves the stack broken. The applied startup script's stored version is gone, so
    the component the rollback restarts cannot come back."""
    project = stack
    applied = project.status()["Applied"]["StartupScriptS3Path"]
    store = project.state / "versions"
    [version] = [
        v
        for v in json.loads(project.cli("versions", "--json").stdout)["Recorded"]
        if v["Kind"] == "StartupScriptS3Path" and v["Applied"]
    ]
    history = json.loads((store / "history.json").read_text())
    [sha] = {h["sha256"] for h in history if h["version_id"] == version["VersionId"]}
    (store / "objects" / sha).unlink()
    (project.path / "startup" / "startup.sh").write_text("sleep 60\n")

    failed = project.cli("update")
    assert failed.returncode == 1, failed.output
    assert "UNAVAILABLE: STARTUP_SCRIPT_FAILED" in failed.stderr, failed.stderr
    assert "The rollback failed too" in failed.stderr
    status = project.status()
    assert status["Status"] == "UNAVAILABLE"
    message = status["LastUpdate"]["Error"]["ErrorMessage"]
    assert f"timed out after {STARTUP_TIMEOUT} s" in message
    assert "The rollback failed too: " in message and "the version store has no file" in message
    assert applied.split("@")[0] in message  # names the missing version
    text = project.cli("status").stdout
    assert "UNAVAILABLE" in text and "The rollback failed too" in text


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
