"""The credentials service in a stack (issue 12) against a real moto server: the check `start`
makes before anything comes up, `mwaa-local credentials` (from the running service or computed
on the host, never a key), and the service's identity and health answers."""

# The moto server and AWS-world fixtures are test_aws_credentials.py's, imported by name.
# ruff: noqa: F811

import json
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner

from mwaa_local.aws import credentials_address, stack_credentials
from mwaa_local.aws.credentials import CredentialsConfig, TaskCredentialSource
from mwaa_local.aws.task_aws import read_record
from mwaa_local.cli import commands_credentials
from mwaa_local.cli.main import cli
from mwaa_local.container import credentials_service
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.spec.settings import load_environment
from tests.unit.test_aws_credentials import (  # noqa: F401 (fixtures)
    ACCOUNT,
    aws_home,
    get,
    keys,
    make_role,
    moto_url,
    serve,
)

SECRET = "mwaa-local-unit-secret-never-logged"  # the `keys` fixture's


@dataclass
class FakeEngine:
    """What prepare_for_start and describe ask Docker: no networks, no containers."""

    networks_listed: int = 0
    removed: list = field(default_factory=list)

    @property
    def networks(self):
        engine = self

        class Networks:
            def list(self, **_):
                engine.networks_listed += 1
                return []

        return Networks()

    @property
    def containers(self):
        class Containers:
            def list(self, **_):
                return []

        return Containers()


@dataclass
class StoppedStack:
    environment: object
    client: FakeEngine = field(default_factory=FakeEngine)
    project: str = "my-env"

    def states(self):
        return {}


def environment(tmp_path, text):
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "mwaa-local.yaml").write_text("Name: my-env\n" + text)
    return load_environment(folder)


def test_start_assumes_the_role_on_the_host_and_records_the_choice(keys, tmp_path):
    role = make_role()
    stack = StoppedStack(environment(tmp_path, f"ExecutionRoleArn: {role}\n"))

    check = stack_credentials.prepare_for_start(stack)

    assert check.identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/mwaa-exec/mwaa-local-my-env"
    assert check.aws.mode == "execution-role" and stack.task_aws is check.aws
    assert stack.client.networks_listed == 2  # the address claimed, no stale container
    record = read_record(stack.environment)
    assert record["Mode"] == "execution-role" and SECRET not in json.dumps(record)


def test_start_without_credentials_fails_before_anything_and_records_nothing(aws_home, tmp_path):
    stack = StoppedStack(environment(tmp_path, "Local:\n  Credentials: profile\n"))
    with pytest.raises(MwaaLocalError, match="No AWS credentials found") as raised:
        stack_credentials.prepare_for_start(stack)
    assert "aws sso login --profile" in raised.value.hint
    assert stack.client.networks_listed == 0 and read_record(stack.environment) is None


def test_start_with_nothing_to_give_notes_it_once(aws_home, tmp_path):
    stack = StoppedStack(environment(tmp_path, ""))
    check = stack_credentials.prepare_for_start(stack)
    assert check.identity is None and check.aws.mode == "none"
    assert "The tasks get no AWS credentials" in check.aws.note
    assert stack.client.networks_listed == 0


def test_credentials_command_computes_on_the_host_when_stopped(keys, tmp_path, monkeypatch):
    role = make_role()
    folder = environment(tmp_path, f"ExecutionRoleArn: {role}\n").project_dir
    monkeypatch.setattr(
        commands_credentials,
        "open_runtime",
        lambda environment: DockerRuntime(environment, FakeEngine(), "unix:///fake.sock"),
    )

    result = CliRunner().invoke(cli, ["--project-dir", str(folder), "credentials", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["Arn"].endswith(":assumed-role/mwaa-exec/mwaa-local-my-env")
    assert report["Account"] == ACCOUNT and report["Mode"] == "execution-role"
    assert report["From"].startswith("computed on this machine")
    assert report["CredentialsEndpoint"].startswith("http://169.254.170.2/v2/credentials/")
    assert SECRET not in result.output and "SecretAccessKey" not in result.output

    text = CliRunner().invoke(cli, ["--project-dir", str(folder), "credentials"])
    assert text.exit_code == 0 and "Tasks run as: arn:aws:sts::" in text.stdout


def test_service_tells_who_the_tasks_are_with_the_token_only(keys, serve):
    role = make_role()
    config = CredentialsConfig(
        mode="execution-role", environment_name="my-env", execution_role_arn=role
    )
    base = serve(TaskCredentialSource(config), auth_token="t0k")

    status, body = get(f"{base}/identity", {"Authorization": "t0k"})
    assert status == 200
    assert body["Arn"].endswith("assumed-role/mwaa-exec/mwaa-local-my-env")
    assert set(body) == {"Mode", "Source", "Account", "Arn", "Expiration"}
    assert get(f"{base}/identity")[0] == 401
    port = int(base.rsplit(":", 1)[1])
    assert credentials_service.check(port, credentials_service.IDENTITY_PATH, "t0k") == 0
    assert credentials_service.check(port, credentials_service.IDENTITY_PATH, "bad") == 1


def test_a_failing_health_check_reuses_its_failure_instead_of_calling_aws(aws_home, serve):
    source = TaskCredentialSource(CredentialsConfig(mode="profile", environment_name="e"))
    calls = []
    original = source.credentials

    def counted():
        calls.append(1)
        return original()

    source.credentials = counted
    base = serve(source)
    for _ in range(3):
        status, body = get(f"{base}/health")
        assert status == 503 and "Fix: Log in and name the profile" in body["Message"]
    assert len(calls) == 1
    get(f"{base}/v2/credentials/abc")  # a task's request always tries afresh
    assert len(calls) == 2


def test_empty_chain_variables_from_compose_are_unset():
    environ = {"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": " ", "AWS_REGION": "", "OTHER": ""}
    credentials_service.drop_empty_chain_variables(environ)
    assert environ == {"AWS_REGION": "", "OTHER": ""}


def test_the_service_renews_as_early_as_it_is_told(keys, monkeypatch):
    monkeypatch.setenv("MWAA_LOCAL_CREDENTIALS_RENEW_BEFORE", "890")
    args = credentials_service._parser().parse_args([])
    assert args.renew_before == 890.0


def test_the_address_is_claimed_from_a_stopped_environment_only():
    class Network:
        def __init__(self, name, labels, containers):
            self.name = name
            self.attrs = {
                "Labels": labels,
                "IPAM": {"Config": [{"Subnet": "169.254.170.0/24"}]},
                "Containers": containers,
            }
            self.removed = False

        def reload(self):
            pass

        def remove(self):
            self.removed = True

    class Engine:
        def __init__(self, *networks):
            self.networks = self
            self._networks = networks

        def list(self, **_):
            return list(self._networks)

    ours = {credentials_address.NETWORK_LABEL: "true", "com.docker.compose.project": "other"}
    stopped = Network("other_credentials", ours, {})
    credentials_address.claim(Engine(stopped), "mine")
    assert stopped.removed

    running = Network(
        "other_credentials", {**ours, "io.github.mwaa-local.project-dir": "/p"}, {"c": {}}
    )
    with pytest.raises(MwaaLocalError, match="Environment other is running") as raised:
        credentials_address.claim(Engine(running), "mine")
    assert "mwaa-local --project-dir /p stop" in raised.value.hint and not running.removed

    foreign = Network("ecs-local-network", {}, {})
    with pytest.raises(MwaaLocalError, match="Docker network ecs-local-network already uses"):
        credentials_address.claim(Engine(foreign), "mine")
    own = Network("mine_credentials", {**ours, "com.docker.compose.project": "mine"}, {"c": {}})
    credentials_address.claim(Engine(own), "mine")
    assert not own.removed
