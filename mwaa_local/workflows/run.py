"""`mwaa-local workflows run`: one MWAA Serverless workflow run, on the host's side.

The workflow is validated first (the service refuses what `workflows validate` reports as an
error), then mwaa_local.container.workflow_run runs it once in a one-off container of the Airflow 3
image (dag-factory builds the DAG, `dag.test()`'s loop runs it, each task in its own process as
the service gives each its own container; mwaa-behaviour.md 8.1). Its report is
GetWorkflowRun-shaped; each task's log, cut from the runner's output at dag.test()'s
`[DAG TEST] starting task_id=...` / `[DAG TEST] end task task_id=...` lines, is written under
the state folder where the service's log group keeps it:
`aws/mwaa-serverless/<workflow id>/workflow_id=<id>/run_id=<id>/task_id=<task>/attempt=<n>.log`.

AWS for the tasks: the region and endpoints the stack's containers get (aws/task_aws.py), and
credentials only from a credentials service, as in the stack (never a key in the task's
container): the running stack's, else one started for this run alone from the same image and
with what compose/credentials.yaml gives it (your AWS chain, in the mode `start` would choose),
on the container-credentials address; with `Local.Credentials: none`, none (the run says so).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec import versions
from mwaa_local.workflows.validate import Finding, has_errors, validate_file

if TYPE_CHECKING:
    import docker

    from mwaa_local.aws.task_aws import TaskAws
    from mwaa_local.spec.settings import Environment

WHAT = "The workflow run"
LOG_ROOT = Path("aws") / "mwaa-serverless"
# In the container: where the workflow's folder is mounted, and dag-factory's install folder.
WORKFLOW_MOUNT = str(paths.MWAA_LOCAL_HOME / "workflow")
DAG_FACTORY_TARGET = "/tmp/dag-factory"
# dag-factory is not in the image: installed into a temporary folder at run time with uv, from
# uv's cache volume when it holds it (offline), else the index. container/workflow_run.py's pin
# (tests/unit/test_workflows_run.py keeps the two equal).
DAG_FACTORY_REQUIREMENT = "dag-factory==1.1.0"
LABEL = "io.github.mwaa-local.ephemeral"
NO_CREDENTIALS = "The tasks get no AWS credentials (Local.Credentials is none)."
# The credentials service as compose/credentials.yaml runs it, for a run without the stack.
SERVICE_COMMAND = [
    "/usr/local/mwaa-local/bin/python3",
    "-m",
    "mwaa_local.container.credentials_service",
]
SERVICE_HOME = "/home/mwaa-local"
SERVICE_START_SECONDS = 60
GATEWAY = "169.254.170.1"
SHELL_CHAIN = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)
_START = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>[^\s\"',]+)")
_END = re.compile(r"\[DAG TEST\] end task task_id=(?P<task>[^\s\"',]+)")


class InvalidWorkflow(MwaaLocalError):
    """The workflow fails validation: the service would refuse it."""

    def __init__(self, findings: list[Finding]) -> None:
        errors = [f for f in findings if f.severity == "error"]
        super().__init__(
            f"The workflow is not valid for MWAA Serverless ({len(errors)} error(s)):\n"
            + "\n".join(str(f) for f in errors),
            hint="Fix it (mwaa-local workflows validate FILE) and run it again.",
        )
        self.findings = findings


@dataclass(frozen=True)
class RunRequest:
    """What the in-image runner gets: the workflow's YAML (a host file) and the run's conf."""

    workflow_file: Path
    conf: dict[str, Any] | None = None
    dag_id: str | None = None

    def arguments(self, in_container: str) -> list[str]:
        arguments = [in_container]
        if self.conf is not None:
            arguments += ["--conf", json.dumps(self.conf)]
        if self.dag_id:
            arguments += ["--dag-id", self.dag_id]
        return arguments


@dataclass
class RunnerOutput:
    exit_code: int
    stdout: str
    stderr_lines: list[str]
    note: str | None = None


# A runner runs the request in the image, passing each stderr line on as it comes.
Runner = Callable[[RunRequest, Callable[[str], None]], RunnerOutput]


@dataclass
class WorkflowRun:
    name: str
    workflow_id: str
    run_id: str
    report: dict[str, Any]
    logs: dict[str, Path] = field(default_factory=dict)
    note: str | None = None

    @property
    def state(self) -> str:
        return self.report["RunDetail"]["RunState"]

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCESS"


def workflow_name(path: Path) -> str:
    """The workflow's name: its YAML's first top-level key (dag-factory's `default` aside)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise MwaaLocalError(f"Cannot read {path}: {e}") from None
    names = [k for k in loaded or {} if k != "default"] if isinstance(loaded, dict) else []
    if not names:
        raise MwaaLocalError(f"{path} defines no workflow.")
    return str(names[0])


def local_workflow_id(name: str, path: Path) -> str:
    """`<name>-<10 alnum>` as the service's workflow ids are, stable for one file."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    return f"{name}-{digest}"


def new_run_id() -> str:
    return uuid.uuid4().hex


def airflow3_version(environment: Environment) -> versions.AirflowVersion:
    """The environment's Airflow when it is 3.1 or later (dag-factory 1.1.0 needs 3.1), else the
    newest: MWAA Serverless runs Airflow 3 on Python 3.12 whatever the environment runs."""
    version = environment.airflow_version
    major, minor = (int(part) for part in version.airflow.split(".")[:2])
    return version if (major, minor) >= (3, 1) else versions.DEFAULT


def split_task_logs(lines: Iterable[str]) -> dict[str, list[list[str]]]:
    """Each task's attempts' lines, cut at dag.test()'s start and end markers."""
    logs: dict[str, list[list[str]]] = {}
    current: list[str] | None = None
    for line in lines:
        start = _START.search(line)
        if start:
            current = []
            logs.setdefault(start["task"], []).append(current)
        if current is not None:
            current.append(line)
        if _END.search(line):
            current = None
    return logs


def log_folder(state: Path, workflow_id: str, run_id: str, task_id: str) -> Path:
    return (
        state
        / LOG_ROOT
        / workflow_id
        / f"workflow_id={workflow_id}"
        / f"run_id={run_id}"
        / f"task_id={task_id}"
    )


def write_task_logs(
    state: Path, workflow_id: str, run_id: str, lines: Iterable[str]
) -> dict[str, Path]:
    """Each task's log file (its last attempt's, when it ran more than once)."""
    written: dict[str, Path] = {}
    for task_id, attempts in split_task_logs(lines).items():
        folder = log_folder(state, workflow_id, run_id, task_id)
        folder.mkdir(parents=True, exist_ok=True)
        for number, attempt in enumerate(attempts, start=1):
            path = folder / f"attempt={number}.log"
            path.write_text("\n".join(attempt) + "\n", encoding="utf-8")
            written[task_id] = path
    return written


def result_report(
    raw: Mapping[str, Any], run_id: str, conf: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The runner's report under the run's id (Airflow's run id breaks the API's IdString)."""
    report = json.loads(json.dumps(raw))
    report["RunId"] = run_id
    report["RunDetail"]["RunId"] = run_id
    if conf:
        report["OverrideParameters"] = dict(conf)
    return report


def run_workflow(
    environment: Environment,
    file: Path,
    runner: Runner,
    conf: dict[str, Any] | None = None,
    *,
    workflow_id: str | None = None,
    run_id: str | None = None,
    on_line: Callable[[str], None] = lambda line: None,
    extra_operators: Iterable[str] = (),
) -> WorkflowRun:
    """Validate `file`, run it once with `runner`, write its task logs into the state folder."""
    findings = validate_file(file, tuple(extra_operators))
    if has_errors(findings):
        raise InvalidWorkflow(findings)
    name = workflow_name(file)
    workflow_id = workflow_id or local_workflow_id(name, file)
    run_id = run_id or new_run_id()
    output = runner(RunRequest(file, conf), on_line)
    raw = _last_json_line(output.stdout)
    if raw is None or "RunDetail" not in raw:
        tail = "\n".join(output.stderr_lines[-40:]) or output.stdout
        raise MwaaLocalError(
            f"{WHAT} printed no report (exit code {output.exit_code}).",
            hint=f"Its last output was:\n{tail[-2000:]}",
        )
    state = StateDir.for_environment(environment.project_dir, environment.name).path
    logs = write_task_logs(state, workflow_id, run_id, output.stderr_lines)
    report = result_report(raw, run_id, conf)
    return WorkflowRun(name, workflow_id, run_id, report, logs, output.note)


def _last_json_line(stdout: str) -> dict[str, Any] | None:
    from mwaa_local.runtime.one_off import last_json_line

    return last_json_line(stdout)


# --- the one-off container --------------------------------------------------------------------


def container_script(request: RunRequest, in_container: str) -> str:
    install = (
        f"uv pip install --quiet --no-deps --target {DAG_FACTORY_TARGET} {DAG_FACTORY_REQUIREMENT}"
    )
    run = shlex.join(
        ["python", "-m", "mwaa_local.container.workflow_run", *request.arguments(in_container)]
    )
    return (
        f"{{ {install} --offline 2>/dev/null || {install}; }} >&2"
        f" && PYTHONPATH={DAG_FACTORY_TARGET}:$PYTHONPATH exec {run}"
    )


def container_environment(aws: TaskAws, credentials: bool) -> dict[str, str]:
    """Region and endpoints as the stack's Airflow containers get them; the credentials path and
    token only when a credentials service runs."""
    env = {**aws.airflow_variables(), "AIRFLOW_CONN_AWS_DEFAULT": "aws://"}
    if credentials and aws.enabled:
        env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = aws.credentials_path
        env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = aws.auth_token
    return env


def credentials_network(client: docker.DockerClient, environment: Environment) -> str | None:
    """The running credentials service's network, or None."""
    from mwaa_local.aws.credentials_address import NETWORK_LABEL
    from mwaa_local.aws.task_aws import CREDENTIALS_SERVICE
    from mwaa_local.runtime.stack import Stack

    stack = Stack(environment, client)
    state = stack.states().get(CREDENTIALS_SERVICE)
    if state is None or state.status != "running":
        return None
    container = stack.container_for(CREDENTIALS_SERVICE)
    for name in container.attrs.get("NetworkSettings", {}).get("Networks", {}):
        network = client.networks.get(name)
        if network.attrs.get("Labels", {}).get(NETWORK_LABEL) == "true":
            return network.name
    return None


def service_environment(environment: Environment, aws: TaskAws) -> dict[str, str]:
    """The credentials service's environment, as compose/credentials.yaml gives it: the AWS
    chain's variables of this shell (this container's only; the tasks' never hold a key)."""
    env = {
        "HOME": SERVICE_HOME,
        "AWS_PROFILE": aws.profile or "",
        "MWAA_LOCAL_CREDENTIALS_MODE": aws.mode,
        "MWAA_LOCAL_EXECUTION_ROLE_ARN": environment.execution_role_arn or "",
        "MWAA_LOCAL_ENVIRONMENT_NAME": environment.name,
        "MWAA_LOCAL_CREDENTIALS_PATH": aws.credentials_path,
        "MWAA_LOCAL_CREDENTIALS_AUTH_TOKEN": aws.auth_token,
        **aws.container_variables(),
    }
    for name in SHELL_CHAIN:
        env[name] = os.environ.get(name, "")
    return env


@contextmanager
def run_credentials(
    client: docker.DockerClient, environment: Environment, image: str, aws: TaskAws
) -> Iterator[tuple[str | None, str | None]]:
    """The credentials network the run joins and a note: the running stack's service, else a
    credentials service for this run alone (removed after it, with its network), else none."""
    from mwaa_local.aws import credentials_address
    from mwaa_local.aws.credentials import CONTAINER_CREDENTIALS_IP, CONTAINER_CREDENTIALS_SUBNET
    from mwaa_local.runtime.stack import Stack

    running = credentials_network(client, environment)
    if running is not None:
        yield running, None
        return
    if not aws.enabled:
        yield None, aws.note or NO_CREDENTIALS
        return
    stack = Stack(environment, client)
    credentials_address.claim(client, stack.project)
    own = credentials_address.network_name(stack.project)
    found = client.networks.list(names=[own])
    created = None
    if found:  # the stopped stack's network: its service is stopped, the address is free
        network = found[0]
    else:
        import docker.types

        ipam = docker.types.IPAMConfig(
            pool_configs=[
                docker.types.IPAMPool(subnet=CONTAINER_CREDENTIALS_SUBNET, gateway=GATEWAY)
            ]
        )
        network = created = client.networks.create(
            f"{stack.project}_workflow_credentials",
            internal=True,
            ipam=ipam,
            labels={
                credentials_address.NETWORK_LABEL: "true",
                credentials_address.PROJECT_DIR_LABEL: str(environment.project_dir.resolve()),
            },
        )
    aws_dir = Path.home() / ".aws"
    service = None
    try:
        with tempfile.TemporaryDirectory(prefix="mwaa-local-aws-") as empty:
            service = client.containers.create(
                image,
                entrypoint=SERVICE_COMMAND,
                environment=service_environment(environment, aws),
                user=f"{os.getuid()}:{os.getgid()}",
                volumes={
                    str(aws_dir if aws_dir.is_dir() else empty): {
                        "bind": f"{SERVICE_HOME}/.aws",
                        "mode": "rw",
                    }
                },
                extra_hosts={"host.docker.internal": "host-gateway"},
                labels={LABEL: "workflow-credentials"},
            )
            network.connect(service, ipv4_address=CONTAINER_CREDENTIALS_IP)
            service.start()
            wait_for_service(service)
            yield network.name, None
    finally:
        if service is not None:
            service.remove(force=True)
        if created is not None:
            created.remove()


def wait_for_service(service: Any, timeout: float = SERVICE_START_SECONDS) -> None:
    """Until the service answers its health check (its credentials work), or its error."""
    deadline = time.monotonic() + timeout
    output = b""
    while time.monotonic() < deadline:
        service.reload()
        if service.status == "exited":
            break
        code, output = service.exec_run([*SERVICE_COMMAND, "--check"])
        if code == 0:
            return
        time.sleep(0.5)
    logs = service.logs(tail=20).decode(errors="replace")
    raise MwaaLocalError(
        "The credentials service for the workflow run did not become healthy.",
        hint=(output.decode(errors="replace") + "\n" + logs).strip()[-2000:]
        or "Check your AWS credentials (mwaa-local credentials).",
    )


def docker_runner(client: docker.DockerClient, environment: Environment) -> Runner:
    """Runs the request in a one-off container of the Airflow 3 image (which must exist)."""

    def run(request: RunRequest, on_line: Callable[[str], None]) -> RunnerOutput:
        from mwaa_local.aws.task_aws import current_task_aws
        from mwaa_local.runtime.image import image_tag
        from mwaa_local.runtime.line_stream import LineStream
        from mwaa_local.runtime.one_off import _finish
        from mwaa_local.runtime.stack import UV_CACHE_VOLUME

        image = image_tag(airflow3_version(environment))
        # Once: with no record of a `start`, each call makes a new credentials path and token.
        aws = current_task_aws(environment)
        lines: list[str] = []

        def keep(line: str) -> None:
            lines.append(line)
            on_line(line)

        with (
            run_credentials(client, environment, image, aws) as (network, note),
            tempfile.TemporaryDirectory(prefix="mwaa-local-workflow-") as tmp,
        ):
            folder = Path(tmp)
            name = request.workflow_file.name
            (folder / name).write_bytes(request.workflow_file.read_bytes())
            folder.chmod(0o755)
            (folder / name).chmod(0o644)  # the container's airflow user reads it
            script = container_script(request, f"{WORKFLOW_MOUNT}/{name}")
            container = client.containers.create(
                image,
                ["bash", "-c", script],
                environment=container_environment(aws, network is not None),
                volumes={
                    str(folder): {"bind": WORKFLOW_MOUNT, "mode": "ro"},
                    UV_CACHE_VOLUME: {"bind": str(paths.UV_CACHE), "mode": "rw"},
                },
                extra_hosts={"host.docker.internal": "host-gateway"},
                labels={LABEL: "workflow-run"},
            )
            try:
                if network is not None:
                    client.networks.get(network).connect(container)
                container.start()
            except Exception:
                container.remove(force=True)
                raise
            exit_code, stdout = _finish(container, LineStream(keep))
        return RunnerOutput(exit_code, stdout, lines, note)

    return run
