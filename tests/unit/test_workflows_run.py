"""`mwaa-local workflows run` on the host: validation first, the runner's report under the run's
id, each task's log where the service's log group keeps it. The runner is a fake that returns
what mwaa_local.container.workflow_run printed for the S3 example (the real run is in
tests/e2e/test_workflows.py)."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwaa_local.cli.main import cli
from mwaa_local.container import workflow_run
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec import versions
from mwaa_local.spec.settings import load_environment
from mwaa_local.workflows import run as runs

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"

STDERR = [
    "uv: installed dag-factory",
    "workflow run: database migrated in 3.1 s",
    "2026-11-26T12:00:01Z [info     ] [DAG TEST] starting task_id=list_objects map_index=-1",
    "2026-11-26T12:00:01Z [info     ] [DAG TEST] running task <TaskInstance: list_objects>",
    "2026-11-26T12:00:02Z [info     ] Getting the list of files from bucket: amzn-s3-demo-bucket",
    "2026-11-26T12:00:02Z [info     ] [DAG TEST] end task task_id=list_objects map_index=-1",
    "2026-11-26T12:00:02Z [info     ] [DAG TEST] starting task_id=create_object_list map_index=-1",
    "2026-11-26T12:00:03Z [error    ] Task failed with exception: NoSuchBucket",
    "2026-11-26T12:00:03Z [info     ] [DAG TEST] end task task_id=create_object_list map_index=-1",
    "workflow run took 9.0 s",
]


def report(state: str = "success", statuses=("success", "success")) -> dict:
    from datetime import UTC, datetime

    t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    tis = [
        {"id": f"0193-{task}", "task_id": task, "state": s, "duration": 1.0, "operator": op,
         "start_date": t0, "end_date": t0, "try_number": 1}
        for task, s, op in zip(
            ("list_objects", "create_object_list"),
            statuses,
            ("S3ListOperator", "S3CreateObjectOperator"),
            strict=True,
        )
    ]  # fmt: skip
    return workflow_run.run_report("manual__2026-11-26T12:00:00+00:00", state, t0, t0, tis)


class FakeRunner:
    def __init__(self, stdout: str, exit_code: int = 0, note: str | None = None) -> None:
        self.stdout, self.exit_code, self.note = stdout, exit_code, note
        self.requests: list[runs.RunRequest] = []

    def __call__(self, request, on_line):
        self.requests.append(request)
        for text in STDERR:
            on_line(text)
        return runs.RunnerOutput(self.exit_code, self.stdout, list(STDERR), self.note)


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    shutil.copy(FIXTURES / "s3_example.yaml", tmp_path / "s3_example.yaml")
    return tmp_path


def test_a_run_reports_like_get_workflow_run_and_writes_each_tasks_log(project):
    environment = load_environment(project)
    runner = FakeRunner("noise\n" + json.dumps(report()) + "\n")
    lines: list[str] = []
    run = runs.run_workflow(
        environment, project / "s3_example.yaml", runner, {"x": 1}, on_line=lines.append
    )
    assert run.succeeded and run.name == "simples3test"
    assert run.workflow_id.startswith("simples3test-") and len(run.workflow_id) == 23
    assert run.report["RunId"] == run.run_id == run.report["RunDetail"]["RunId"]
    assert run.report["OverrideParameters"] == {"x": 1}
    assert runner.requests[0].conf == {"x": 1} and lines == STDERR
    state = project / ".mwaa-local" / environment.name
    folder = (
        state / "aws" / "mwaa-serverless" / run.workflow_id / f"workflow_id={run.workflow_id}"
        / f"run_id={run.run_id}"
    )  # fmt: skip
    assert run.logs == {
        "list_objects": folder / "task_id=list_objects" / "attempt=1.log",
        "create_object_list": folder / "task_id=create_object_list" / "attempt=1.log",
    }
    first = run.logs["list_objects"].read_text().splitlines()
    assert first[0].endswith("starting task_id=list_objects map_index=-1")
    assert "Getting the list of files from bucket: amzn-s3-demo-bucket" in first[2]
    assert first[-1].endswith("end task task_id=list_objects map_index=-1")
    assert "NoSuchBucket" in run.logs["create_object_list"].read_text()
    assert "database migrated" not in run.logs["list_objects"].read_text()


def test_a_retried_task_has_one_log_per_attempt(tmp_path):
    lines = [
        "[DAG TEST] starting task_id=a map_index=-1", "try 1", "[DAG TEST] end task task_id=a",
        "[DAG TEST] starting task_id=a map_index=-1", "try 2", "[DAG TEST] end task task_id=a",
    ]  # fmt: skip
    written = runs.write_task_logs(tmp_path, "w-0123456789", "r1", lines)
    folder = written["a"].parent
    assert written["a"].name == "attempt=2.log"
    assert "try 1" in (folder / "attempt=1.log").read_text()
    assert "try 2" in written["a"].read_text()


def test_an_invalid_workflow_is_refused_before_anything_runs(project):
    runner = FakeRunner("")
    with pytest.raises(runs.InvalidWorkflow) as caught:
        runs.run_workflow(load_environment(project), FIXTURES / "four_errors.yaml", runner)
    assert runner.requests == []
    assert len([f for f in caught.value.findings if f.severity == "error"]) == 4
    assert "four_errors.yaml:" in caught.value.message


def test_no_report_is_an_error_showing_the_output(project):
    runner = FakeRunner("Traceback ...\n", exit_code=1)
    with pytest.raises(MwaaLocalError, match="printed no report") as caught:
        runs.run_workflow(load_environment(project), project / "s3_example.yaml", runner)
    assert "workflow run took 9.0 s" in caught.value.hint


def test_the_container_installs_the_runners_dag_factory_and_passes_the_conf():
    assert runs.DAG_FACTORY_REQUIREMENT == workflow_run.DAG_FACTORY_REQUIREMENT
    script = runs.container_script(
        runs.RunRequest(Path("w.yaml"), {"k": "it's"}), "/usr/local/mwaa-local/workflow/w.yaml"
    )
    assert "--offline 2>/dev/null || uv pip install --quiet --no-deps --target " in script
    assert script.endswith(
        "exec python -m mwaa_local.container.workflow_run "
        '/usr/local/mwaa-local/workflow/w.yaml --conf \'{"k": "it\'"\'"\'s"}\''
    )


def test_credentials_only_from_the_credentials_service(project):
    from mwaa_local.aws.task_aws import current_task_aws

    environment = load_environment(project)
    without = runs.container_environment(current_task_aws(environment), credentials=False)
    assert without["AWS_EC2_METADATA_DISABLED"] == "true" and without["AWS_DEFAULT_REGION"]
    assert not any("CREDENTIALS" in k or "KEY" in k for k in without)
    (project / "mwaa-local.yaml").write_text("Local:\n  Credentials: profile\n")
    aws = current_task_aws(load_environment(project))
    with_service = runs.container_environment(aws, credentials=True)
    assert with_service["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"].startswith("/")
    assert with_service["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    assert not any("SECRET" in k or "ACCESS_KEY" in k for k in with_service)


def test_serverless_runs_airflow_3_1_or_later():
    class Env:
        airflow_version = versions.airflow_version("2.10.3")

    assert runs.airflow3_version(Env()) == versions.DEFAULT
    Env.airflow_version = versions.airflow_version("3.0.6")
    assert runs.airflow3_version(Env()) == versions.DEFAULT
    Env.airflow_version = versions.airflow_version("3.2.1")
    assert runs.airflow3_version(Env()).airflow == "3.2.1"


def test_the_cli_refuses_an_invalid_workflow_with_its_lines(project):
    result = CliRunner().invoke(
        cli, ["--project-dir", str(project), "workflows", "run", str(FIXTURES / "four_errors.yaml")]
    )
    assert result.exit_code == 1
    assert result.output.count("four_errors.yaml:") >= 4
    assert "FAILED: 4 errors" in result.output


def test_the_cli_prints_the_table_and_the_json(project, monkeypatch):
    runner = FakeRunner(json.dumps(report("failed", ("failed", "upstream_failed"))), 1, "no creds")
    monkeypatch.setattr("mwaa_local.runtime.engine.docker_client", lambda: object())
    monkeypatch.setattr("mwaa_local.cli.commands_image.ensure_image", lambda *a, **k: None)
    monkeypatch.setattr(runs, "docker_runner", lambda client, environment: runner)
    args = ["--project-dir", str(project), "workflows", "run", str(project / "s3_example.yaml")]
    result = CliRunner().invoke(cli, [*args, "--quiet"])
    assert result.exit_code == 1, result.output
    assert "list_objects" in result.output and "UPSTREAM_FAILED" in result.output
    assert ": FAILED in 0 s (Workflow execution failed)" in result.output
    assert "Log of list_objects: " in result.output and "attempt=1.log" in result.output
    as_json = CliRunner().invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 1
    printed = json.loads(as_json.stdout[as_json.stdout.index("{") :])
    assert printed["RunDetail"]["RunState"] == "FAILED"
    assert printed["RunId"] == printed["RunDetail"]["RunId"] and "+" not in printed["RunId"]


class FakeContainer:
    def __init__(self, engine, image, command=None, **kwargs) -> None:
        self.engine, self.image, self.command, self.kwargs = engine, image, command, kwargs
        self.status, self.removed, self.networks = "created", False, []

    def start(self) -> None:
        self.status = "running"

    def reload(self) -> None:
        pass

    def exec_run(self, command):
        self.engine.checks += 1
        return (0 if self.engine.checks >= 2 else 1), b"not yet"

    def logs(self, stream=False, follow=False, stdout=True, stderr=True, tail=None):
        if stream:
            return iter([("\n".join(STDERR) + "\n").encode()])
        return (json.dumps(report()) + "\n").encode() if stdout else b""

    def wait(self):
        return {"StatusCode": 0}

    def remove(self, force=False) -> None:
        self.removed = True


class FakeNetwork:
    def __init__(self, name: str, **kwargs) -> None:
        self.name, self.kwargs, self.removed, self.connected = name, kwargs, False, []
        self.attrs = {"Labels": kwargs.get("labels") or {}, "IPAM": {"Config": []}}

    def connect(self, container, **kwargs) -> None:
        self.connected.append((container, kwargs))

    def remove(self) -> None:
        self.removed = True


class FakeEngine:
    """Just enough of docker's client for the runner: no stack, networks made and removed."""

    def __init__(self) -> None:
        self.created: list[FakeContainer] = []
        self.made: list[FakeNetwork] = []
        self.checks = 0
        engine = self

        class Containers:
            def list(self, all=False, filters=None):  # noqa: A002
                return []

            def create(self, image, command=None, **kwargs):
                engine.created.append(FakeContainer(engine, image, command, **kwargs))
                return engine.created[-1]

        class Networks:
            def list(self, names=None):
                return [n for n in engine.made if not names or n.name in names]

            def create(self, name, **kwargs):
                engine.made.append(FakeNetwork(name, **kwargs))
                return engine.made[-1]

            def get(self, name):
                return next(n for n in engine.made if n.name == name)

        self.containers, self.networks = Containers(), Networks()


def test_without_the_stack_a_credentials_service_serves_the_run_and_goes(project, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    (project / "mwaa-local.yaml").write_text(
        "Local:\n  AwsEndpointUrl: http://127.0.0.1:5000\n  Region: eu-west-1\n"
    )
    environment = load_environment(project)
    engine = FakeEngine()
    run = runs.run_workflow(
        environment, project / "s3_example.yaml", runs.docker_runner(engine, environment)
    )
    assert run.succeeded and run.note is None
    service, task = engine.created
    assert service.kwargs["entrypoint"] == runs.SERVICE_COMMAND
    assert service.kwargs["environment"]["AWS_SECRET_ACCESS_KEY"] == "testing-secret"
    task_env = task.kwargs["environment"]
    assert "testing-secret" not in json.dumps(task_env) and "testing-key" not in json.dumps(
        task_env
    )
    assert (
        task_env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
        == (service.kwargs["environment"]["MWAA_LOCAL_CREDENTIALS_AUTH_TOKEN"])
    )
    assert (
        task_env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        == (service.kwargs["environment"]["MWAA_LOCAL_CREDENTIALS_PATH"])
    )
    assert task_env["AWS_ENDPOINT_URL"] == "http://host.docker.internal:5000"
    assert task_env["AWS_DEFAULT_REGION"] == "eu-west-1"
    (network,) = engine.made
    assert network.kwargs["internal"] is True
    assert [(c, k.get("ipv4_address")) for c, k in network.connected] == [
        (service, "169.254.170.2"),
        (task, None),
    ]
    assert engine.checks == 2  # waited for the service's health check
    assert service.removed and task.removed and network.removed
    assert task.image == service.image == f"mwaa-local/airflow:{versions.DEFAULT.airflow}"
    assert "uv pip install" in task.command[2]


def test_with_credentials_none_the_run_gets_none_and_says_so(project):
    (project / "mwaa-local.yaml").write_text("Local:\n  Credentials: none\n")
    environment = load_environment(project)
    engine = FakeEngine()
    run = runs.run_workflow(
        environment, project / "s3_example.yaml", runs.docker_runner(engine, environment)
    )
    assert run.note == runs.NO_CREDENTIALS and engine.made == []
    (task,) = engine.created
    assert not any("CREDENTIALS" in k for k in task.kwargs["environment"])
