"""MWAA's start sequence on real containers: startup script, requirements, plugins."""

import json
import os
import zipfile

import pytest

from mwaa_local.spec.versions import airflow_version
from tests.e2e.stacks import make_project
from tests.e2e.wheels import make_wheel

pytestmark = pytest.mark.e2e

NAME = "requirements/requirements.txt"
STAGED_NOTE = (
    "{name} line 1: {url} read from the copy mwaa-local staged from the constraints mirror, "
    "cache or network; not downloaded."
)

STARTUP = """#!/bin/sh
echo "startup script running in $MWAA_AIRFLOW_COMPONENT"
export E2E_GREETING="hello from startup.sh"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export PYTHONPATH=/somewhere/else
"""

SEQUENCE_DAG = """
import os
import pendulum
from airflow.sdk import dag, task


@dag(dag_id="start_sequence_probe", schedule=None, catchup=False,
     start_date=pendulum.datetime(2024, 1, 1, tz="UTC"))
def start_sequence_probe():
    @task
    def probe():
        import mwaa_local_e2e_pkg
        print("greeting=" + os.environ.get("E2E_GREETING", "<unset>"))
        print("executor=" + os.environ["AIRFLOW__CORE__EXECUTOR"])
        print("pythonpath=" + os.environ.get("PYTHONPATH", ""))
        print("wheel=" + mwaa_local_e2e_pkg.VALUE)

    probe()


start_sequence_probe()
"""


def test_startup_exports_reach_tasks_and_reserved_ones_are_restored(airflow3_image):
    project = make_project(f"e2e-seq-{os.getpid()}", airflow3_image.version)
    try:
        (project.path / "startup").mkdir()
        (project.path / "startup" / "startup.sh").write_text(STARTUP)
        (project.path / "dags" / "start_sequence_probe.py").write_text(SEQUENCE_DAG)
        # A wheel shipped in plugins.zip, installed offline as MWAA documents.
        wheel = make_wheel(project.path, "mwaa_local_e2e_pkg", "1.0", 'VALUE = "from-plugins"\n')
        with zipfile.ZipFile(project.path / "plugins.zip", "w") as archive:
            archive.write(wheel, wheel.name)
        wheel.unlink()
        (project.path / "requirements").mkdir()
        (project.path / "requirements" / "requirements.txt").write_text(
            "--find-links /usr/local/airflow/plugins\n--no-index\nmwaa-local-e2e-pkg==1.0\n"
        )
        started = project.cli("start")
        assert started.returncode == 0, started.output

        api = project.api()
        api.unpause("start_sequence_probe")
        run_id = api.trigger("start_sequence_probe")
        assert api.wait_for_run("start_sequence_probe", run_id)["state"] == "success"
        log = api.task_log("start_sequence_probe", run_id, "probe")
        assert "greeting=hello from startup.sh" in log
        assert "executor=CeleryExecutor" in log
        assert "pythonpath=/usr/local/mwaa-local/python" in log
        assert "wheel=from-plugins" in log

        # A restarted component does not reinstall unchanged requirements.
        assert project.cli("restart", "worker").returncode == 0
        status = json.loads(project.cli("status", "--json").stdout)
        requirements = status["Components"]["worker"]["StartSequence"]["requirements"]
        assert requirements["ok"] and requirements.get("unchanged") is True

        worker_log = project.cli("logs", "worker", "--tail", "all").stdout
        assert "startup script running in worker" in worker_log
        for name in ("AIRFLOW__CORE__EXECUTOR", "PYTHONPATH"):
            assert any(
                "[WARNING]" in line and name in line and "reserved" in line
                for line in worker_log.splitlines()
            ), name
    finally:
        project.destroy()


def test_startup_script_past_the_cap_fails_the_component(airflow3_image):
    project = make_project(
        f"e2e-slow-{os.getpid()}", airflow3_image.version, StartupScriptTimeout=3
    )
    try:
        (project.path / "startup").mkdir()
        (project.path / "startup" / "startup.sh").write_text("echo sleeping\nsleep 60\n")
        result = project.cli("start", "--timeout", "240")
        assert result.returncode != 0
        first_line = result.stderr.split("Last lines of its log")[0]
        components = ("scheduler", "worker", "api-server", "triggerer", "dag-processor")
        assert any(c in first_line for c in components), result.stderr
        assert "startup script timed out after 3 s" in result.stderr
    finally:
        project.destroy()


def test_requirements_conflicting_with_the_constraints(airflow2_image):
    project = make_project(f"e2e-req-{os.getpid()}", airflow2_image.version)
    try:
        (project.path / "requirements").mkdir()
        requirements = project.path / "requirements" / "requirements.txt"
        requirements.write_text("boto3==1.26.0\n")
        result = project.cli("test-requirements", "--json")
        assert result.returncode == 1, result.output
        report = json.loads(result.stdout)["requirements"]
        assert report["ok"] is False
        assert "boto3" in report["diagnosis"]
        assert "constraints" in report["diagnosis"].lower()

        requirements.write_text("six\n")
        result = project.cli("test-requirements")
        assert result.returncode == 0, result.output
        assert "WARNING: Constraints should be specified for requirements.txt" in result.stdout
        assert "Forcing local constraints" in result.stdout
    finally:
        project.destroy()


def test_plugins_zip_wrapped_in_a_plugins_folder(airflow2_image, docker_engine):
    project = make_project(f"e2e-plug-{os.getpid()}", airflow2_image.version)
    try:
        with zipfile.ZipFile(project.path / "plugins.zip", "w") as archive:
            archive.writestr("plugins/operators/__init__.py", "")
            archive.writestr("plugins/operators/hello.py", "GREETING = 'hi'\n")
        output = docker_engine.containers.run(
            airflow2_image.tag,
            [
                "bash", "-c",
                "python -m mwaa_local.container.entrypoint test-requirements worker >/dev/null; "
                "python -c 'import airflow, operators.hello' 2>&1 | tail -1",
            ],
            volumes={
                str(project.path / "plugins.zip"): {"bind": "/tmp/plugins.zip", "mode": "ro"}
            },
            environment={
                "MWAA_LOCAL_ENVIRONMENT_NAME": project.name,
                "MWAA_LOCAL_PLUGINS_FILE": "/tmp/plugins.zip",
            },
            remove=True,
            stderr=True,
        ).decode()  # fmt: skip
        assert "No module named 'operators'" in output
        assert "top-level plugins/ folder" in output
    finally:
        project.destroy()


def test_failed_requirements_fail_start_but_components_run(airflow2_image):
    project = make_project(f"e2e-badreq-{os.getpid()}", airflow2_image.version)
    try:
        (project.path / "requirements").mkdir()
        (project.path / "requirements" / "requirements.txt").write_text(
            "mwaa-local-no-such-package-e2e==1.0\n"
        )
        result = project.cli("start")
        assert result.returncode == 1, result.output
        assert "Requirements failed to install on" in result.stderr
        assert "mwaa-local-no-such-package-e2e" in result.stderr

        # As on MWAA the environment is AVAILABLE, and the failure shows in status.
        status = json.loads(project.cli("status", "--json").stdout)
        assert status["Status"] == "AVAILABLE"
        worker = status["Components"]["worker"]["StartSequence"]["requirements"]
        assert worker["ok"] is False and "not found" in worker["diagnosis"].lower()
        assert "FAILED" in project.cli("status").stdout

        api = project.api()
        api.unpause("mwaa_local_example")
        run_id = api.trigger("mwaa_local_example")
        assert api.wait_for_run("mwaa_local_example", run_id)["state"] == "success"

        # CloudWatch-shaped streams, on disk under the tool's folder and shown by `logs`.
        streams = project.cli("logs", "worker", "--streams")
        assert streams.returncode == 0, streams.output
        assert f"airflow-{project.name}-Worker / requirements_install_" in streams.stdout
        assert "ERROR: pip installation exited with a non-zero error code" in streams.stdout
        on_disk = list(
            project.state.glob("logs/mwaa-local/airflow-*-Worker/requirements_install_*")
        )
        assert on_disk, sorted(p.name for p in project.state.rglob("*"))
    finally:
        project.destroy()


def test_test_startup_script_reports_exports_and_status(airflow2_image):
    project = make_project(f"e2e-tss-{os.getpid()}", airflow2_image.version)
    try:
        (project.path / "startup").mkdir()
        script = project.path / "startup" / "startup.sh"
        # sudo is there for startup scripts, as on MWAA.
        script.write_text(
            "export STAGE=dev\nexport AIRFLOW_HOME=/tmp\nsudo -n true && export SUDO_WORKS=yes\n"
        )
        result = project.cli("test-startup-script")
        assert result.returncode == 0, result.output
        assert "STAGE" in result.stdout and "SUDO_WORKS" in result.stdout
        assert "AIRFLOW_HOME" in result.stdout.split("restored")[1]

        script.write_text("export STAGE=dev\nexit 4\n")
        result = project.cli("test-startup-script", "--json")
        assert result.returncode == 1
        report = json.loads(result.stdout)["startup_script"]
        assert report["exit_status"] == 4 and report["exported"] == ["STAGE"]

        # The script's own EXIT trap, or a final exec, does not lose its exports.
        script.write_text("set -e\ntrap 'echo cleaning up' EXIT\nexport STAGE=dev\nexit 3\n")
        result = project.cli("test-startup-script", "--json")
        report = json.loads(result.stdout)["startup_script"]
        assert report["exit_status"] == 3 and report["exported"] == ["STAGE"], report
        assert not report["environment_lost"]
        script.write_text("export STAGE=dev\nexec true\n")
        result = project.cli("test-startup-script")
        assert result.returncode == 0, result.output
        assert "STAGE" in result.stdout and "line 2: exec true" in result.stdout
    finally:
        project.destroy()


def test_official_constraints_url_line_starts_and_a_conflicting_pin_names_its_line(
    airflow3_image,
):
    """MWAA's documented first line, offline (the URL is never fetched), on Airflow 3."""
    project = make_project(f"e2e-url3-{os.getpid()}", airflow3_image.version)
    url = airflow_version(airflow3_image.version).constraints_url
    try:
        (project.path / "requirements").mkdir()
        requirements = project.path / "requirements" / "requirements.txt"
        requirements.write_text(f'--constraint "{url}"\nsix\n')
        started = project.cli("start")
        assert started.returncode == 0, started.output
        worker = project.status()["Components"]["worker"]["StartSequence"]["requirements"]
        assert worker["ok"] and worker["installer"] == "uv", worker
        assert worker["notes"] == [STAGED_NOTE.format(name=NAME, url=url)]
        staged = project.state / "versions" / "constraints" / "constraints-3.3.1"
        assert (staged / "constraints-3.12.txt").is_file()

        requirements.write_text(f'--constraint "{url}"\nsix\nparamiko==5.1.0\n')
        result = project.cli("test-requirements")
        assert result.returncode == 1, result.output
        assert (
            f"FAILED: {NAME} line 3: Conflicts with your constraints: the Airflow 3.3.1 "
            f"constraints ({NAME} line 1) pins paramiko==5.0.0; you require paramiko==5.1.0."
        ) in result.stdout

        # The sample's old comment: MWAA's rule turns the Airflow constraints off; we say so.
        requirements.write_text("# With no -c/--constraint line, MWAA adds them\nsix\n")
        result = project.cli("test-requirements")
        assert result.returncode == 0, result.output
        assert f"mwaa-local: {NAME} line 1 is a comment containing `-c `" in result.stdout
        assert "Forcing local constraints" not in result.stdout
    finally:
        project.destroy()


def test_pip_installer_on_airflow2_with_the_official_url_and_pips_conflict_words(
    airflow2_image,
):
    """Local.Installer: pip runs MWAA's command; the 2.10.3 URL comes from the mirror."""
    project = make_project(f"e2e-pip2-{os.getpid()}", airflow2_image.version, Installer="pip")
    url = airflow_version(airflow2_image.version).constraints_url
    try:
        (project.path / "requirements").mkdir()
        requirements = project.path / "requirements" / "requirements.txt"
        requirements.write_text(f'--constraint "{url}"\nsix\n')
        started = project.cli("start")
        assert started.returncode == 0, started.output
        worker = project.status()["Components"]["worker"]["StartSequence"]["requirements"]
        assert worker["ok"] and worker["installer"] == "pip", worker
        assert worker["notes"] == [STAGED_NOTE.format(name=NAME, url=url)]
        streams = project.cli("logs", "worker", "--streams").stdout
        assert "Requirement already satisfied: six" in streams  # pip's words, as on MWAA

        requirements.write_text(f'--constraint "{url}"\nsix\nparamiko==3.4.0\n')
        result = project.cli("test-requirements", "--json")
        assert result.returncode == 1, result.output
        report = json.loads(result.stdout)["requirements"]
        assert any("ResolutionImpossible" in line for line in report["error_tail"]), report
        assert report["diagnosis"] == (
            f"{NAME} line 3: Conflicts with your constraints: the Airflow 2.10.3 constraints "
            f"({NAME} line 1) pins paramiko==3.5.0; you require paramiko==3.4.0."
        )
    finally:
        project.destroy()
