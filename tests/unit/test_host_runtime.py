"""The host runtime's parts that run without Airflow: the supervisor (real processes), the health
read from a SQLite metadata database, the migration marker on SQLite, the components'
environment, paths seen from the host, the interpreter search."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mwaa_local.container import migration_marker, paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime import host, host_venv
from mwaa_local.runtime.host import HostRuntime, heartbeat_age, host_environment
from mwaa_local.runtime.host_venv import HostVenv, find_python
from mwaa_local.runtime.stack import airflow_environment
from mwaa_local.runtime.state import generate_secrets
from mwaa_local.spec.settings import load_environment

linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def environment(tmp_path, version: str = "3.3.1", **local):
    settings = {"Name": "hosted", "AirflowVersion": version, "Local": {"Runtime": "host", **local}}
    (tmp_path / "mwaa-local.yaml").write_text(json.dumps(settings))
    return load_environment(tmp_path, environ={})


def processes_with(marker: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def wait_until(condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


# --- the supervisor ------------------------------------------------------------------------------

# A component that starts a loop in a session of its own (as the entrypoint's DAG sync does),
# then exits with 3 (MARK names the loop, so the test finds it).
LEAVES_A_LOOP = (
    "import subprocess, sys, time; "
    "subprocess.Popen(['sleep', '300', sys.argv[1]], start_new_session=True); "
    "time.sleep(float(sys.argv[2])); sys.exit(3)"
)


def supervise(tmp_path: Path, restart: str, mark: str, lifetime: float) -> subprocess.Popen:
    command = [sys.executable, "-c", LEAVES_A_LOOP, mark, str(lifetime)]
    return subprocess.Popen(
        [sys.executable, "-m", "mwaa_local.runtime.host_supervisor",
         str(tmp_path / "status.json"), str(tmp_path / "out.log"), restart, "--", *command],
        start_new_session=True,
    )  # fmt: skip


def status(tmp_path: Path) -> dict:
    try:
        return json.loads((tmp_path / "status.json").read_text())
    except (OSError, ValueError):
        return {}


@linux
def test_a_one_shot_component_ends_with_its_exit_code_and_takes_its_loop_along(tmp_path):
    mark = f"one-shot-{os.getpid()}"
    supervisor = supervise(tmp_path, "no", mark, 0.5)
    assert supervisor.wait(timeout=30) == 3
    assert status(tmp_path)["state"] == "exited" and status(tmp_path)["exit_code"] == 3
    assert not status(tmp_path)["stopped"]
    assert processes_with(mark) == []  # the loop started outside its group is gone too


@linux
def test_a_component_that_exits_is_restarted_and_sigterm_stops_all_of_it(tmp_path):
    mark = f"restarted-{os.getpid()}"
    supervisor = supervise(tmp_path, "always", mark, 0.3)
    wait_until(lambda: status(tmp_path).get("restarts", 0) >= 1)
    wait_until(lambda: status(tmp_path).get("state") == "running")
    assert status(tmp_path)["exit_code"] == 3  # why it was restarted
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=30) == 0
    assert status(tmp_path)["state"] == "exited" and status(tmp_path)["stopped"]
    assert processes_with(mark) == []


# --- the runtime's processes, with a stand-in for Airflow ----------------------------------------


@pytest.fixture
def hosted(tmp_path, monkeypatch):
    """A host runtime whose "virtual environment" is a Python that sleeps instead of starting
    Airflow: enough for processes, pid files, states and stop."""
    monkeypatch.delenv("MWAA_LOCAL_RUNTIME", raising=False)
    runtime = HostRuntime(environment(tmp_path), cache_dir=tmp_path / "cache")
    runtime.venv.bin.mkdir(parents=True)
    fake = runtime.venv.python
    fake.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import time; time.sleep(300)' \"$@\"\n")
    fake.chmod(0o755)
    runtime.venv.marker.write_text("fake\n")
    runtime._layout()
    runtime.write_env_files()
    yield runtime
    runtime.stop()


@linux
def test_components_run_with_a_pid_file_and_stop_leaves_nothing_running(hosted):
    hosted._start("scheduler")
    state = hosted.states()["scheduler"]
    assert state.status == "running" and state.health == "starting"  # no heartbeat yet
    pid = int((hosted.root / "run" / "scheduler.pid").read_text())
    assert hosted._supervisor_alive("scheduler") == pid
    assert hosted.is_running()
    assert hosted.status(hosted.states()) == "UNAVAILABLE"  # the other components are missing
    hosted.stop()
    assert hosted.states()["scheduler"].status == "exited"
    assert hosted.status(hosted.states()) == "STOPPED"
    assert processes_with(str(hosted.root)) == []


def test_the_celery_worker_is_not_a_component_here_and_says_so(hosted):
    with pytest.raises(MwaaLocalError) as caught:
        hosted.check_service("worker")
    assert "scheduler's executor runs the tasks" in caught.value.message
    assert "worker" not in hosted.services()
    assert hosted.check_service("scheduler") == "scheduler"


def test_commands_in_a_stopped_component_say_to_start(hosted):
    with pytest.raises(MwaaLocalError, match="not running"):
        hosted.exec_in("scheduler", ["true"])


def test_up_without_the_virtual_environment_says_what_builds_it(tmp_path):
    runtime = HostRuntime(environment(tmp_path), cache_dir=tmp_path / "cache")
    with pytest.raises(MwaaLocalError) as caught:
        runtime.up()
    assert "virtual environment" in caught.value.message
    assert "mwaa-local start" in caught.value.hint


def test_update_journal_keeps_the_host_env_file(hosted):
    assert hosted.state.env_files == (hosted.state.host_env_file,)
    env = json.loads(hosted.state.host_env_file.read_text())
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert oct(hosted.state.host_env_file.stat().st_mode & 0o777) == "0o600"
    # Not Airflow's fixed log-server ports, which a second environment on this machine would hold.
    ports = {
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"],
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"],
    }
    assert len(ports) == 2 and not ports & {"8793", "8794"}


# --- health from the SQLite metadata database ----------------------------------------------------


def make_job_table(path: Path, rows: list[tuple[str, str, datetime, datetime]]) -> None:
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE job (id INTEGER PRIMARY KEY, job_type TEXT, state TEXT, hostname TEXT, "
        "start_date TIMESTAMP, latest_heartbeat TIMESTAMP)"
    )
    for job_type, state, started, beat in rows:
        connection.execute(
            "INSERT INTO job (job_type, state, hostname, start_date, latest_heartbeat) "
            "VALUES (?, ?, 'box', ?, ?)",
            (job_type, state, started.strftime("%Y-%m-%d %H:%M:%S.%f"),
             beat.strftime("%Y-%m-%d %H:%M:%S.%f")),
        )  # fmt: skip
    connection.commit()
    connection.close()


def test_heartbeat_age_counts_only_this_process_running_job(tmp_path):
    now = datetime.now(UTC).replace(tzinfo=None)
    database = tmp_path / "airflow.db"
    since = time.time() - 60
    make_job_table(
        database,
        [
            # A job of the process before this one, still marked running: not this one's.
            ("SchedulerJob", "running", now - timedelta(hours=1), now - timedelta(seconds=1)),
            ("SchedulerJob", "running", now - timedelta(seconds=30), now - timedelta(seconds=4)),
            ("TriggererJob", "success", now - timedelta(seconds=30), now),
        ],
    )
    age = heartbeat_age(database, "SchedulerJob", since)
    assert age is not None and 3 < age < 10
    assert heartbeat_age(database, "TriggererJob", since) is None
    assert heartbeat_age(tmp_path / "none.db", "SchedulerJob", since) is None


# --- the migration marker on SQLite --------------------------------------------------------------


def test_the_migration_marker_works_on_sqlite(tmp_path):
    database = tmp_path / "airflow.db"
    env = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
        "AIRFLOW_VERSION": "3.3.1",
        "MWAA_LOCAL_ADMIN_USERNAME": "admin",
        "MWAA_LOCAL_ADMIN_PASSWORD": "secret",
    }
    assert not migration_marker.is_current(env)  # an empty database
    connection = sqlite3.connect(database)
    connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
    connection.execute("INSERT INTO alembic_version VALUES ('abc123')")
    connection.commit()
    assert not migration_marker.is_current(env)  # migrated, never marked
    migration_marker.record(env)
    assert migration_marker.is_current(env)
    migration_marker.record(env)  # again: an upsert
    assert migration_marker.is_current({**env, "MWAA_LOCAL_ADMIN_PASSWORD": "other"}) is False
    connection.execute("UPDATE alembic_version SET version_num = 'def456'")
    connection.commit()
    connection.close()
    assert not migration_marker.is_current(env)  # a new revision runs the migration again


# --- the components' environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "executor", "port_key"),
    [
        ("3.3.1", "LocalExecutor", "AIRFLOW__API__PORT"),
        ("2.10.3", "SequentialExecutor", "AIRFLOW__WEBSERVER__WEB_SERVER_PORT"),
    ],
)
def test_host_environment_replaces_what_mwaa_owns_with_what_runs_here(
    tmp_path, version, executor, port_key
):
    env_spec = environment(tmp_path, version, WebserverPort=18999)
    venv = HostVenv(tmp_path / "venv", env_spec.airflow_version)
    base = airflow_environment(env_spec, generate_secrets(), {})
    env = host_environment(env_spec, base, venv, tmp_path / "host")
    assert env["AIRFLOW__CORE__EXECUTOR"] == executor
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path}/host/airflow.db"
    assert not any(key.startswith("AIRFLOW__CELERY__") for key in env)
    assert env[port_key] == "18999"
    # MWAA's core.parallelism (10000) would make the LocalExecutor fork that many processes.
    assert env["AIRFLOW__CORE__PARALLELISM"] == str(env_spec.worker_concurrency)
    assert env["MWAA_LOCAL_INSTALL_PREFIX"] == str(venv.path)
    assert env["MWAA_LOCAL_BUCKET_MOUNT"] == str(env_spec.bucket_folder)
    assert env["AIRFLOW_CONSTRAINTS_FILE"] == str(venv.constraints_file)
    assert env["AIRFLOW__CORE__FERNET_KEY"] == base["AIRFLOW__CORE__FERNET_KEY"]
    if version.startswith("3"):
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18999/execution/"


def test_the_shell_does_not_leak_airflow_or_python_settings(hosted, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.setenv("PYTHONHOME", "/elsewhere")
    monkeypatch.setenv("MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT", "1")
    env = hosted.component_env("scheduler")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "PYTHONHOME" not in env
    assert env["MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT"] == "300"
    assert env["PATH"].split(os.pathsep)[0] == str(hosted.venv.bin)
    assert env["AIRFLOW_HOME"] == str(hosted.root / "home" / "scheduler")
    assert (Path(env["PYTHONPATH"]) / "mwaa_local" / "container" / "entrypoint.py").is_file()


def test_object_versions_are_read_from_the_store_on_this_machine(tmp_path):
    store = type("Store", (), {"root": tmp_path / "versions"})()
    inside = f"{paths.VERSIONS_MOUNT}/objects/abc"
    env = host.host_paths({"MWAA_LOCAL_PLUGINS_FILE": inside, "OTHER": "x"}, store)
    assert env == {"MWAA_LOCAL_PLUGINS_FILE": f"{tmp_path}/versions/objects/abc", "OTHER": "x"}


def test_one_off_arguments_name_the_host_folders_standing_in_for_the_mounts():
    where = {str(paths.AIRFLOW_HOME): "/s/airflow", str(paths.DAGS_CHECK_MOUNT): "/p/other"}
    assert host._translate(f"{paths.AIRFLOW_HOME}/dags", where) == "/s/airflow/dags"
    assert host._translate(f"{paths.DAGS_CHECK_MOUNT}/a.py", where) == "/p/other/a.py"
    assert host._translate("--dags-folder", where) == "--dags-folder"
    assert host._translate("/usr/local/airflowx", where) == "/usr/local/airflowx"


# --- the interpreter ------------------------------------------------------------------------------


def fake_python(path: Path, version: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)


def test_find_python_takes_a_working_interpreter_of_the_version(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    # A pyenv shim that does not run (the version is not active) is passed over.
    bin_dir.mkdir()
    (bin_dir / "python3.12").write_text("#!/bin/sh\nexit 127\n")
    (bin_dir / "python3.12").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    fake_python(tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12", "3.12")
    fake_python(tmp_path / "pyenv" / "versions" / "3.12.10" / "bin" / "python3.12", "3.12")
    assert find_python("3.12") == str(tmp_path / "pyenv/versions/3.12.10/bin/python3.12")
    assert find_python("3.9") is None


def test_no_uv_is_an_error_naming_what_to_install(monkeypatch):
    monkeypatch.setattr(host_venv, "find_uv", lambda: None)
    with pytest.raises(MwaaLocalError) as caught:
        host_venv.uv_command()
    assert "pip install uv" in caught.value.hint and "docker | podman" in caught.value.hint


def test_a_venv_is_current_only_for_its_packages_and_constraints(tmp_path):
    env_spec = environment(tmp_path)
    venv = HostVenv(tmp_path / "venv", env_spec.airflow_version)
    venv.bin.mkdir(parents=True)
    venv.python.write_text("")
    venv.marker.write_text(venv.digest("pins-1") + "\n")
    assert venv.is_current("pins-1")
    assert not venv.is_current("pins-2")


def test_prereqs_under_the_host_runtime_check_no_engine(tmp_path):
    from mwaa_local.prereqs.checks import run_checks

    checks = {c.name: c for c in run_checks(environment(tmp_path, WebserverPort=18998))}
    assert "docker engine" not in checks and "compose" not in checks
    assert checks["uv"].ok
    assert set(checks) == {"uv", "python 3.12", "port 18998", "disk", "memory"}


# --- main's features where no container runs -----------------------------------------------------


def test_log_groups_are_under_the_logs_folder_and_no_metrics_are_sent(tmp_path):
    env_spec = environment(tmp_path)
    venv = HostVenv(tmp_path / "venv", env_spec.airflow_version)
    base = airflow_environment(env_spec, generate_secrets(), {})
    assert base["AIRFLOW__LOGGING__BASE_LOG_FOLDER"].startswith(str(paths.AIRFLOW_HOME / "logs"))
    env = host_environment(env_spec, base, venv, tmp_path / "host")
    folder = env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]
    assert folder == str(tmp_path / "host" / "logs" / "mwaa-local" / "airflow-hosted-Task")
    assert not any(str(paths.AIRFLOW_HOME) in value for value in env.values())
    assert env["AIRFLOW__METRICS__STATSD_ON"] == "False"  # no collector at host "metrics"


@pytest.fixture
def no_aws(tmp_path, monkeypatch):
    """A shell with AWS keys in its environment and no ~/.aws."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")


def test_the_execution_role_needs_a_container_runtime_and_start_says_so(tmp_path, no_aws):
    from mwaa_local.aws.stack_credentials import prepare_for_start
    from mwaa_local.aws.task_aws import read_record

    (tmp_path / "mwaa-local.yaml").write_text(
        "Name: hosted\nExecutionRoleArn: arn:aws:iam::123456789012:role/x\n"
        "Local:\n  Runtime: host\n"
    )
    runtime = HostRuntime(load_environment(tmp_path, environ={}), cache_dir=tmp_path / "cache")
    with pytest.raises(MwaaLocalError) as caught:
        prepare_for_start(runtime)  # before any STS call: nothing to assume here
    assert "host runtime" in caught.value.message and "execution role" in caught.value.message
    assert "Local.Runtime: docker | podman" in caught.value.hint
    assert "Local.Credentials: profile" in caught.value.hint
    assert read_record(runtime.environment) is None


@pytest.mark.parametrize("mode", ["none", "profile"])
def test_the_tasks_get_this_shells_credentials_only_when_asked(tmp_path, no_aws, mode):
    runtime = HostRuntime(environment(tmp_path, Credentials=mode), cache_dir=tmp_path / "c")
    runtime.write_env_files()
    env = runtime.component_env("scheduler")
    assert env["AWS_REGION"] == runtime.task_aws.region
    if mode == "none":
        assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
        assert env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
        assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    else:
        assert env["AWS_ACCESS_KEY_ID"] == "AKIAEXAMPLE"
        assert "AWS_SHARED_CREDENTIALS_FILE" not in env


def test_metrics_and_autoscaling_say_they_need_workers_and_a_collector(hosted):
    from mwaa_local.metrics.read import stack_series
    from mwaa_local.scaling import control

    assert hosted.environment.max_workers > hosted.environment.min_workers
    assert control.autoscales(hosted.environment)
    assert control.start_for(hosted) is None  # no autoscaler process: no worker to scale
    summary = control.workers_summary(hosted)
    assert summary["Current"] == 0 and summary["Autoscaling"] is False
    assert control.sizing_warnings(hosted) == []
    with pytest.raises(MwaaLocalError) as caught:
        stack_series(hosted, since=0)
    assert "host runtime" in caught.value.message
    assert "docker | podman" in caught.value.hint


@linux
def test_down_stops_it_and_volumes_delete_what_it_made_but_not_uvs_cache(hosted):
    with pytest.raises(MwaaLocalError, match="uv's own cache") as caught:
        hosted.down(uv_cache=True)
    assert "uv cache clean" in caught.value.hint
    hosted._start("scheduler")
    assert hosted.down() == {"processes": ["scheduler"]}
    assert hosted.root.is_dir() and processes_with(str(hosted.root)) == []
    removed = hosted.down(volumes=True)
    assert removed == {"processes": [], "folders": [str(hosted.root)]}
    assert not hosted.root.exists()


def test_image_commands_say_the_host_runtime_has_no_image(hosted, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from mwaa_local.cli.main import cli

    other = "linux/arm64" if os.uname().machine in ("x86_64", "amd64") else "linux/amd64"
    with pytest.raises(MwaaLocalError, match="not for " + other):
        hosted.build(hosted.environment.airflow_version, tmp_path, platform=other)
    monkeypatch.setenv("MWAA_LOCAL_RUNTIME", "host")
    folder = str(hosted.environment.project_dir)
    for args in (["build-image", "--save", str(tmp_path / "a.tar")], ["load-image", "a.tar"]):
        result = CliRunner().invoke(cli, ["--project-dir", folder, *args])
        assert result.exit_code == 1, result.output
        assert "needs an image, and the host runtime has none" in result.output
        assert "MWAA_LOCAL_RUNTIME=docker" in result.output
    assert hosted.venv.marker.read_text() == "fake\n"  # refused before any build
