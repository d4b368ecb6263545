"""A new user's first hour (issue 10, item 5): init lays out a working project, messages where
tracebacks were, status before the first start, piped output, image pulls, `down`."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import docker.errors
import pytest
from click.testing import CliRunner

from mwaa_local.api.process import ensure_api, running_api, stop_api
from mwaa_local.cli import commands_stack
from mwaa_local.cli.main import cli
from mwaa_local.cli.progress import Progress
from mwaa_local.dags.folder import empty_dag_folder_note
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.update import environment_settings, pending_changes
from mwaa_local.errors import MwaaLocalError, SettingsError
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.stack import ComponentFailed, ServiceState, Stack
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import load_environment

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "fixtures" / "get-environment.json"
TEMPLATE = REPO / "mwaa_local" / "data" / "project"
# The sample project of this checkout, which `init` ships as package data.
SAMPLE_FILES = {
    "dags/mwaa_local_example.py": "dags/mwaa_local_example.py",
    "requirements/requirements.txt": "requirements/requirements.txt",
    "startup/startup.sh": "startup/startup.sh",
    "plugins/README.md": "plugins/README.md",
}
LAID_OUT = [*SAMPLE_FILES, ".gitignore"]


def invoke(*args, env=None, input=None):
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --- a fake engine: what `status`, `versions`, `down` and the image pulls ask of Docker ------


class FakeImages:
    def __init__(self, present=(), pull_error: str | None = None):
        self.present = set(present)
        self.pull_error = pull_error
        self.pulled: list[str] = []

    def get(self, name):
        if name not in self.present:
            raise docker.errors.ImageNotFound(f"No such image: {name}")
        return name

    def pull(self, name):
        if self.pull_error:
            raise docker.errors.APIError("500 Server Error", explanation=self.pull_error)
        self.pulled.append(name)
        self.present.add(name)


class FakeVolume:
    def __init__(self, engine, name, labels):
        self.engine, self.name, self.labels = engine, name, labels

    def remove(self):
        self.engine.volume_items.pop(self.name)


class FakeVolumes:
    def __init__(self, engine):
        self.engine = engine

    def list(self, filters=None):
        key, _, value = filters["label"].partition("=")
        return [v for v in self.engine.volume_items.values() if v.labels.get(key) == value]

    def get(self, name):
        if name not in self.engine.volume_items:
            raise docker.errors.NotFound(name)
        return self.engine.volume_items[name]


class FakeList:
    def __init__(self, items=()):
        self.items = list(items)

    def list(self, **kwargs):
        return list(self.items)


class FakeEngine:
    def __init__(self, images: FakeImages | None = None):
        self.images = images or FakeImages()
        self.containers = FakeList()
        self.networks = FakeList()
        self.volume_items: dict[str, FakeVolume] = {}
        self.volumes = FakeVolumes(self)

    def info(self) -> dict:  # the engine's size, for the components' limits
        return {"NCPU": 2, "MemTotal": 8 * 2**30}

    def add_volume(self, name, project=None):
        labels = {"com.docker.compose.project": project} if project else {}
        self.volume_items[name] = FakeVolume(self, name, labels)


@pytest.fixture
def engine(monkeypatch):
    fake = FakeEngine()
    # The commands drive the docker runtime on this engine (runtime/select.py would open it).
    docker = lambda environment: DockerRuntime(environment, fake, "unix:///fake.sock")  # noqa: E731
    monkeypatch.setattr(commands_stack, "open_runtime", docker)
    return fake


@pytest.fixture
def project(tmp_path):
    """A folder laid out by `init`."""
    folder = tmp_path / "first"
    result = invoke("--project-dir", str(folder), "init")
    assert result.exit_code == 0, result.output
    return folder


# --- init ------------------------------------------------------------------------------------


def test_init_lays_out_a_working_project(tmp_path):
    result = invoke("--project-dir", str(tmp_path), "init")
    assert result.exit_code == 0, result.output
    for relative in LAID_OUT:
        assert (tmp_path / relative).is_file(), relative
    for relative, template in SAMPLE_FILES.items():
        assert (tmp_path / relative).read_bytes() == (TEMPLATE / template).read_bytes()
    assert ".mwaa-local/" in (tmp_path / ".gitignore").read_text().splitlines()
    environment = load_environment(tmp_path)
    assert environment.airflow_version.airflow == "3.3.1"
    assert empty_dag_folder_note(environment) is None
    assert "Next: mwaa-local" in result.output


def test_the_packaged_project_is_the_repo_sample():
    # init ships these as package data; they must stay the repo's sample files.
    for relative, template in SAMPLE_FILES.items():
        assert (TEMPLATE / template).read_bytes() == (REPO / relative).read_bytes(), relative


def test_init_keeps_everything_that_exists(tmp_path):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "mine.py").write_text("# my DAG\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "requirements.txt").write_text("boto3\n")
    (tmp_path / "plugins.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    (tmp_path / "mwaa-local.yaml").write_text("Name: mine\n")
    before = tree(tmp_path)
    result = invoke("--project-dir", str(tmp_path), "init")
    assert result.exit_code == 0, result.output
    after = tree(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing rewritten
    assert set(after) - set(before) == {"startup/startup.sh"}  # only what was missing
    assert "Kept" in result.output and "mwaa-local.yaml" in result.output


def test_init_puts_the_example_into_an_empty_dag_folder(tmp_path):
    (tmp_path / "dags").mkdir()
    assert invoke("--project-dir", str(tmp_path), "init").exit_code == 0
    assert (tmp_path / "dags" / "mwaa_local_example.py").is_file()


def test_init_creates_a_missing_project_folder(tmp_path):
    folder = tmp_path / "new" / "project"
    result = invoke("--project-dir", str(folder), "init")
    assert result.exit_code == 0, result.output
    assert (folder / "dags" / "mwaa_local_example.py").is_file()


def test_init_lays_out_where_the_settings_point(tmp_path):
    (tmp_path / "mwaa-local.yaml").write_text(
        "DagS3Path: airflow/dags\nRequirementsS3Path: airflow/requirements.txt\n"
    )
    assert invoke("--project-dir", str(tmp_path), "init").exit_code == 0
    assert (tmp_path / "airflow" / "dags" / "mwaa_local_example.py").is_file()
    assert (tmp_path / "airflow" / "requirements.txt").is_file()
    assert not (tmp_path / "dags").exists()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le", "utf-32"])
def test_init_from_environment_reads_utf16_and_byte_order_marks(tmp_path, encoding):
    source = tmp_path / "env.json"
    source.write_text(FIXTURE.read_text(encoding="utf-8"), encoding=encoding)
    result = invoke("--project-dir", str(tmp_path), "init", "--from-environment", str(source))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mwaa-local.yaml").read_text()
    assert "AirflowVersion: '2.10.3'" in text and "Name: analytics-prod" in text


def test_init_from_a_latin1_file_says_how_to_save_it(tmp_path):
    source = tmp_path / "env.json"
    data = json.loads(FIXTURE.read_text())
    data["Environment"]["Tags"] = {"owner": "José"}
    source.write_bytes(json.dumps(data, ensure_ascii=False).encode("latin-1"))
    result = invoke("--project-dir", str(tmp_path), "init", "--from-environment", str(source))
    assert result.exit_code == 1
    assert "not UTF-8" in result.output and "0xe9" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "mwaa-local.yaml").exists()


def test_init_from_environment_checks_before_writing(tmp_path):
    source = tmp_path / "env.json"
    data = json.loads(FIXTURE.read_text())
    data["Environment"]["AirflowVersion"] = "1.10.12"
    source.write_text(json.dumps(data))
    result = invoke("--project-dir", str(tmp_path), "init", "--from-environment", str(source))
    assert result.exit_code == 2
    assert "1.10.12" in result.output and "Nothing was written" in result.output
    assert not (tmp_path / "mwaa-local.yaml").exists()
    assert not (tmp_path / "dags").exists()


def test_init_to_an_unwritable_place_is_a_message(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = invoke("--project-dir", str(tmp_path), "init", "--output", str(blocker / "x.yaml"))
    assert result.exit_code == 1
    assert "Cannot write" in result.output and "Traceback" not in result.output


# --- settings --------------------------------------------------------------------------------


def test_an_unquoted_version_says_to_quote_it(tmp_path):
    (tmp_path / "mwaa-local.yaml").write_text("AirflowVersion: 2.10\n")
    with pytest.raises(SettingsError) as caught:
        load_environment(tmp_path)
    (problem,) = caught.value.problems
    assert "quote it" in problem and 'AirflowVersion: "3.3.1"' in problem
    assert "number" in problem


def test_a_missing_project_folder_is_an_error(tmp_path, engine):
    result = invoke("--project-dir", str(tmp_path / "nope"), "status")
    assert result.exit_code == 1
    assert "does not exist" in result.output and "init" in result.output
    assert "STOPPED" not in result.output


# --- status ----------------------------------------------------------------------------------


def test_status_before_the_first_start_says_to_start(project, engine):
    result = invoke("--project-dir", str(project), "status")
    assert result.exit_code == 0, result.output
    assert "Never started" in result.output and "mwaa-local start" in result.output
    assert "Pending changes" not in result.output and "update" not in result.output
    assert "Airflow UI: http://127.0.0.1:8080" in result.output
    assert ".mwaa-local/first/secrets.json" in result.output
    status = json.loads(invoke("--project-dir", str(project), "status", "--json").output)
    assert status["PendingChanges"] == [] and status["NeverStarted"] is True
    assert status["WebserverUrl"] == "http://127.0.0.1:8080"
    assert status["Login"]["Username"] == "admin"


def test_status_names_the_password_setting_when_one_is_set(project, engine):
    env = {"MWAA_LOCAL_ADMIN_PASSWORD": "s3cret-pass"}
    result = invoke("--project-dir", str(project), "status", env=env)
    assert "MWAA_LOCAL_ADMIN_PASSWORD" in result.output
    assert "s3cret-pass" not in result.output


def started_record(project: Path) -> Path:
    """The record a first start leaves: what the bucket held, applied."""
    environment = load_environment(project)
    record = EnvironmentRecord(applied={}, settings=environment_settings(environment))
    path = StateDir.for_environment(project, environment.name).path / "environment.json"
    record.save(path)
    return path


def test_status_writes_nothing(project, engine):
    started_record(project)
    before = tree(project)
    result = invoke("--project-dir", str(project), "status")
    assert result.exit_code == 0, result.output
    assert "RequirementsS3Path" in result.output  # applied nothing; the bucket has one
    assert tree(project) == before


def test_no_empty_configuration_change_is_pending(tmp_path):
    environment = load_environment(tmp_path)
    settings = environment_settings(environment)
    recorded = {k: v for k, v in settings.items() if k != "AirflowConfigurationOptions"}
    record = EnvironmentRecord(applied={}, settings=recorded)
    assert pending_changes(record, {}, settings) == []


@pytest.mark.parametrize(
    "damaged", ['{"Applied": {"plugins": nu', "", "[1, 2]", '{"Applied": {"plugins": {"x": 1}}}']
)
def test_a_damaged_record_is_a_message(project, engine, damaged):
    started_record(project).write_text(damaged)
    result = invoke("--project-dir", str(project), "status")
    assert result.exit_code == 1
    assert "environment.json" in result.output and "Traceback" not in result.output
    assert "Delete environment.json" in result.output


def test_damaged_secrets_and_history_are_messages(project, engine):
    state = StateDir.for_environment(project, "first")
    state.secrets()
    state.secrets_file.write_text('{"fernet_key": "abc')
    with pytest.raises(MwaaLocalError, match="secrets.json"):
        state.secrets()
    (state.path / "versions").mkdir()
    (state.path / "versions" / "history.json").write_text("[{")
    result = invoke("--project-dir", str(project), "versions")
    assert result.exit_code == 1
    assert "history.json" in result.output and "Traceback" not in result.output


# --- piped output ----------------------------------------------------------------------------


def test_tables_are_not_cut_to_80_columns_when_piped():
    result = invoke("airflow-versions")
    assert result.exit_code == 0
    rows = [line for line in result.output.splitlines() if "3.3.1" in line]
    assert "api-server, scheduler, dag-processor, triggerer, worker" in rows[0]
    assert "…" not in result.output


def state(service, status="running", health="starting", exit_code=0):
    return ServiceState(service, f"x-{service}-1", status, health, exit_code, 0)


def test_start_progress_is_plain_lines_when_piped(capsys):
    with Progress("starting") as shown:
        shown.step("up", "first", "creating the containers")
        shown.states(
            {"postgres": state("postgres"), "migrate-db": state("migrate-db", "created", None)}
        )
        shown.states(
            {"postgres": state("postgres"), "migrate-db": state("migrate-db", "created", None)}
        )
        shown.states(
            {
                "postgres": state("postgres", health="healthy"),
                "migrate-db": state("migrate-db", "exited", None),
            }
        )
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" s  ", 1)[1] for line in lines] == [
        "up      first: creating the containers",
        "health  migrate-db: created",
        "health  postgres: starting",
        "health  migrate-db: done",
        "health  postgres: ready",
    ]
    assert all(line.strip().split(" ")[0].replace(".", "").isdigit() for line in lines)


def fake_compose_logs(stack: Stack, calls: list) -> None:
    lines = [
        "scheduler-1  | plain line",
        'scheduler-1  | MWAA_LOCAL_PHASE {"phase": "requirements", "ok": true}',
        "scheduler-1  | after",
    ]
    script = "".join(f"echo '{line}';" for line in lines)

    def command(*args):
        calls.append(args)
        return ["sh", "-c", script]

    stack.compose_command = command


def test_logs_hide_machine_lines_and_colour_when_piped(project, capfd):
    stack = Stack(load_environment(project), FakeEngine())
    calls: list = []
    fake_compose_logs(stack, calls)
    stack.show_logs(("scheduler",), tail="10")
    shown = capfd.readouterr().out
    assert shown.splitlines() == ["scheduler-1  | plain line", "scheduler-1  | after"]
    assert "--no-color" in calls[0]


# --- images ----------------------------------------------------------------------------------


def test_an_image_that_cannot_be_pulled_names_it_and_the_setting(project):
    reason = 'Get "https://registry-1.docker.io/v2/": dial tcp:\n lookup registry-1: no such host'
    images = FakeImages(present={"mwaa-local/airflow:3.3.1"}, pull_error=reason)
    stack = Stack(load_environment(project), FakeEngine(images))
    with pytest.raises(MwaaLocalError) as caught:
        stack.up()
    message, hint = caught.value.message, caught.value.hint
    assert message.startswith("The image postgres:16 ")
    assert "dial tcp: lookup registry-1: no such host" in message and "\n" not in message
    assert "Local.PostgresImage" in hint and "MWAA_LOCAL_POSTGRES_IMAGE" in hint


def test_missing_images_are_pulled_before_compose(project):
    images = FakeImages(present={"mwaa-local/airflow:3.3.1"})
    stack = Stack(load_environment(project), FakeEngine(images))
    pulled = []
    stack.pull_images(pulled.append)
    assert pulled == images.pulled == ["postgres:16", "redis:7"]


# --- the DAG folder --------------------------------------------------------------------------


def test_a_missing_or_empty_dag_folder_gets_a_note(tmp_path):
    note = empty_dag_folder_note(load_environment(tmp_path))
    assert note and "does not exist" in note and "DagS3Path: dags" in note
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "README.md").write_text("no DAGs\n")
    note = empty_dag_folder_note(load_environment(tmp_path))
    assert note and "holds no .py or .zip file" in note
    (tmp_path / "dags" / "sub").mkdir()
    (tmp_path / "dags" / "sub" / "job.py").write_text("")
    assert empty_dag_folder_note(load_environment(tmp_path)) is None


# --- down ------------------------------------------------------------------------------------


def test_down_volumes_asks_first(project, engine):
    engine.add_volume("first_postgres-data", "first")
    result = invoke("--project-dir", str(project), "down", "--volumes", input="n\n")
    assert result.exit_code == 1 and "Nothing was removed" in result.output
    assert "first_postgres-data" in engine.volume_items


def test_down_volumes_keeps_the_shared_uv_cache_unless_asked(project, engine):
    for name in ("first_postgres-data", "first_logs", "first_bucket-mirror"):
        engine.add_volume(name, "first")
    engine.add_volume("mwaa-local-uv-cache", "first")  # labelled by the project that made it
    engine.add_volume("other_postgres-data", "other")
    StateDir.for_environment(project, "first").secrets()
    result = invoke("--project-dir", str(project), "down", "--volumes", "--yes")
    assert result.exit_code == 0, result.output
    assert set(engine.volume_items) == {"mwaa-local-uv-cache", "other_postgres-data"}
    assert not (project / ".mwaa-local" / "first").exists()
    result = invoke("--project-dir", str(project), "down", "--uv-cache", "--yes")
    assert set(engine.volume_items) == {"other_postgres-data"}


def test_down_stops_the_mwaa_api_that_start_left_running(project, engine, monkeypatch):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        monkeypatch.setenv("MWAA_LOCAL_API_PORT", str(free.getsockname()[1]))
    environment = load_environment(project)
    started, _ = ensure_api(environment)
    try:
        result = invoke("--project-dir", str(project), "down")
        assert result.exit_code == 0, result.output
        assert running_api(environment) is None
        status, deadline = Path(f"/proc/{started.pid}/status"), time.monotonic() + 10
        while status.exists() and "zombie" not in status.read_text():  # it may be exiting
            assert time.monotonic() < deadline, f"the API (pid {started.pid}) still runs"
            time.sleep(0.1)
    finally:
        stop_api(environment)


def test_down_without_volumes_keeps_them(project, engine):
    engine.add_volume("first_postgres-data", "first")
    result = invoke("--project-dir", str(project), "down")
    assert result.exit_code == 0, result.output
    assert "first_postgres-data" in engine.volume_items
    assert "kept" in result.output


# --- `mwaa-local airflow`: stdout is the command's output ------------------------------------

FAKE_AIRFLOW_MAIN = """
import json, sys, warnings

def show_on_stdout(message, category, filename, lineno, file=None, line=None):
    # What Airflow 3's structlog set-up does with warnings: log them on stdout.
    print(f"[warning] {message} [py.warnings]", file=sys.stdout)

def main():
    warnings.showwarning = show_on_stdout
    warnings.warn("Could not import graphviz.", UserWarning, stacklevel=1)
    print(json.dumps([{"dag_id": "mwaa_local_example", "argv": sys.argv[1:]}]))
"""


def test_airflow_cli_keeps_warnings_off_stdout(tmp_path):
    (tmp_path / "airflow").mkdir()
    (tmp_path / "airflow" / "__init__.py").write_text("")
    (tmp_path / "airflow" / "__main__.py").write_text(FAKE_AIRFLOW_MAIN)
    done = subprocess.run(
        [sys.executable, "-m", "mwaa_local.container.airflow_cli", "dags", "list", "-o", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO}"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {"dag_id": "mwaa_local_example", "argv": ["dags", "list", "-o", "json"]}
    ]
    assert "Could not import graphviz." in done.stderr


class FakeContainer:
    name = "first-scheduler-1"
    labels = {"com.docker.compose.service": "scheduler"}

    def logs(self, tail=None, **kwargs):
        return (
            b"[INFO] - Installing requirements\n"
            b'MWAA_LOCAL_PHASE {"phase": "requirements", "ok": false}\n'
            b"ModuleNotFoundError: No module named 'nope'\n"
        )


def test_a_failed_component_shows_its_log_without_machine_lines(project):
    engine = FakeEngine()
    engine.containers = FakeList([FakeContainer()])
    stack = Stack(load_environment(project), engine)
    failed = ComponentFailed(stack, "scheduler", state("scheduler", "exited", None, 1))
    assert "No module named 'nope'" in failed.message
    assert "MWAA_LOCAL_PHASE" not in failed.message
