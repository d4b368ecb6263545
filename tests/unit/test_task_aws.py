"""AWS as the containers see it (issue 12): the settings, the mode chosen at start and kept
after it, region and endpoints as botocore reads them, what each container's environment holds
(never a key outside the credentials service), and the merged compose configuration."""

import ipaddress
import json
import os
import subprocess

import boto3
import pytest
import yaml

from mwaa_local.aws import task_aws
from mwaa_local.aws.task_aws import (
    NO_CREDENTIALS_NOTE,
    chain_configured,
    current_task_aws,
    default_region,
    endpoint_variable,
    record_task_aws,
    resolve_task_aws,
)
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.airflow_config import MWAA_DEFAULT_OPTIONS
from mwaa_local.runtime import compose
from mwaa_local.runtime.stack import Stack, long_running_services
from mwaa_local.spec.settings import load_environment
from tests.unit.env_file_rules import compose_v2_values

ROLE = "arn:aws:iam::123456789012:role/mwaa-exec"
SECRET = "host-secret-never-in-a-container"


@pytest.fixture
def shell(tmp_path, monkeypatch):
    """A shell with no AWS settings at all and an empty HOME."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / ".aws" / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    return home


def project(tmp_path, text: str = "", environ=None):
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "mwaa-local.yaml").write_text(text)
    return load_environment(folder, environ=environ)


# -- settings ------------------------------------------------------------------------------------


def test_aws_settings_from_the_file_and_the_variables(tmp_path):
    env = project(
        tmp_path,
        f"ExecutionRoleArn: {ROLE}\nLocal:\n  Credentials: profile\n  AwsProfile: dev-sso\n"
        "  Region: eu-west-1\n  AwsEndpointUrl: http://localhost:4566/\n"
        "  AwsEndpointUrls:\n    secretsmanager: http://127.0.0.1:5001\n",
    )
    local = env.local
    assert (local.credentials, local.aws_profile, local.region) == (
        "profile",
        "dev-sso",
        "eu-west-1",
    )
    assert local.aws_endpoint_url == "http://localhost:4566"
    assert local.aws_endpoint_urls == {"secretsmanager": "http://127.0.0.1:5001"}
    assert local.bucket_endpoint_url == "http://localhost:4566"  # the bucket follows

    from_env = project(
        tmp_path,
        "",
        environ={
            "MWAA_LOCAL_CREDENTIALS": "none",
            "MWAA_LOCAL_AWS_ENDPOINT_URLS": "s3=http://localhost:9000, sts=http://localhost:5000",
        },
    )
    assert from_env.local.credentials == "none"
    assert from_env.local.aws_endpoint_urls == {
        "s3": "http://localhost:9000",
        "sts": "http://localhost:5000",
    }


def test_aws_setting_mistakes_name_the_rule(tmp_path):
    with pytest.raises(MwaaLocalError) as raised:
        project(
            tmp_path,
            "ExecutionRoleArn: my-role\nLocal:\n  Credentials: static\n  Region: Europe\n"
            "  AwsEndpointUrls: {secretmanager: 'http://localhost:1'}\n",
        )
    message = raised.value.message
    assert "ExecutionRoleArn: 'my-role' is not an IAM role ARN" in message
    assert "Local.Credentials: 'static' is not one of execution-role, profile, none" in message
    assert "Local.Region: 'Europe' is not an AWS region" in message
    assert "names 'secretmanager', not an AWS service; did you mean 'secretsmanager'?" in message

    with pytest.raises(MwaaLocalError) as raised:
        project(tmp_path, "Local:\n  Credentials: execution-role\n  AwsEndpointUrls: {s3: ftp}\n")
    assert "'execution-role' needs ExecutionRoleArn" in raised.value.message
    assert "s3: 'ftp' is not an http(s) URL" in raised.value.message

    with pytest.raises(MwaaLocalError, match="'none' cannot read the s3:// bucket"):
        project(tmp_path, "Local:\n  Credentials: none\n  Bucket: s3://b/env\n")


# -- the mode, the profile, the region -----------------------------------------------------------


def test_the_mode_follows_the_settings_then_the_role_then_the_shell(tmp_path, shell):
    assert resolve_task_aws(project(tmp_path)).mode == "none"
    assert resolve_task_aws(project(tmp_path)).note == NO_CREDENTIALS_NOTE
    (shell / ".aws").mkdir()
    (shell / ".aws" / "config").write_text("[profile dev]\nregion = eu-central-1\n")
    assert resolve_task_aws(project(tmp_path)).mode == "none"  # a named profile is not chosen
    (shell / ".aws" / "config").write_text("[profile default]\nregion = eu-central-1\n")
    chosen = resolve_task_aws(project(tmp_path))
    assert (chosen.mode, chosen.region, chosen.note) == ("profile", "eu-central-1", None)

    with_role = resolve_task_aws(project(tmp_path, f"ExecutionRoleArn: {ROLE}\n"))
    assert with_role.mode == "execution-role"
    told = resolve_task_aws(
        project(tmp_path, f"ExecutionRoleArn: {ROLE}\nLocal:\n  Credentials: none\n")
    )
    assert (told.mode, told.note) == ("none", None)  # asked for: no note


def test_the_shell_names_credentials_by_keys_profile_or_default_section(tmp_path):
    home = tmp_path
    assert not chain_configured(None, {}, home)
    assert chain_configured(None, {"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"}, home)
    assert chain_configured("dev", {}, home)
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text("[default]\naws_access_key_id = A\n")
    assert chain_configured(None, {}, home)


def test_region_from_the_shell_the_profile_or_the_role_partition(shell, monkeypatch):
    assert default_region(None, {"AWS_REGION": "ap-south-1"}, None) == "ap-south-1"
    (shell / ".aws").mkdir()
    (shell / ".aws" / "config").write_text("[profile dev]\nregion = sa-east-1\n")
    assert default_region("dev", {}, None) == "sa-east-1"
    assert default_region("missing", {}, "arn:aws-cn:iam::123456789012:role/r") == "cn-north-1"
    assert default_region(None, {}, ROLE) == "us-east-1"


def test_a_later_command_keeps_what_start_chose(tmp_path, shell, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "dev-sso")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    environment = project(tmp_path)
    at_start = resolve_task_aws(environment)
    assert (at_start.mode, at_start.profile, at_start.region) == ("profile", "dev-sso", "eu-west-3")
    assert "credentials" not in long_running_services(environment)  # never started
    record_task_aws(environment, at_start)
    assert "credentials" in long_running_services(environment)

    monkeypatch.delenv("AWS_PROFILE")  # `update` from another shell
    monkeypatch.delenv("AWS_REGION")
    later = current_task_aws(environment)
    assert (later.mode, later.profile, later.region) == ("profile", "dev-sso", "eu-west-3")
    assert (later.credentials_path, later.auth_token) == (
        at_start.credentials_path,
        at_start.auth_token,
    )
    again = resolve_task_aws(environment)  # the next start: same path and token, new choice
    assert (again.mode, again.credentials_path) == ("none", at_start.credentials_path)
    record = json.loads((environment.project_dir / ".mwaa-local/project/aws.json").read_text())
    assert set(record) == {"Mode", "Profile", "Region", "CredentialsPath", "AuthToken"}


# -- endpoints as botocore reads them ------------------------------------------------------------


@pytest.mark.parametrize(
    "service,variable",
    [
        ("s3", "AWS_ENDPOINT_URL_S3"),
        ("sts", "AWS_ENDPOINT_URL_STS"),
        ("secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        ("ssm", "AWS_ENDPOINT_URL_SSM"),
        ("logs", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"),
        ("", "AWS_ENDPOINT_URL"),
    ],
)
def test_endpoint_variables_are_the_ones_botocore_reads(shell, monkeypatch, service, variable):
    assert endpoint_variable(service) == variable
    monkeypatch.setenv(variable, "http://host.docker.internal:4566")
    client = boto3.Session(region_name="us-east-1").client(service or "glue")
    assert client.meta.endpoint_url == "http://host.docker.internal:4566"


class EngineOfThisSize:
    """Just what writing the env files asks the engine: its size, for the components' limits."""

    def info(self) -> dict:
        return {"NCPU": 2, "MemTotal": 24 * 2**30}


def write_env_files(environment, monkeypatch, **shell):
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    stack = Stack(environment, client=EngineOfThisSize())
    stack.write_env_files()
    return stack


def test_containers_get_region_endpoints_and_never_a_key(tmp_path, shell, monkeypatch):
    environment = project(
        tmp_path,
        f"ExecutionRoleArn: {ROLE}\nLocal:\n  Region: eu-west-1\n"
        "  AwsEndpointUrl: http://localhost:4566\n  S3EndpointUrl: http://127.0.0.1:9000\n",
    )
    stack = write_env_files(
        environment, monkeypatch, AWS_ACCESS_KEY_ID="AKIAHOST", AWS_SECRET_ACCESS_KEY=SECRET
    )
    state = stack.state.path
    airflow = compose_v2_values((state / "airflow.env").read_text())
    assert airflow["AWS_DEFAULT_REGION"] == "eu-west-1" == airflow["AWS_REGION"]
    assert airflow["AWS_ENDPOINT_URL"] == "http://host.docker.internal:4566"
    assert airflow["AWS_ENDPOINT_URL_S3"] == "http://host.docker.internal:9000"
    assert airflow["AWS_EC2_METADATA_DISABLED"] == "true"
    for path in state.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert SECRET not in text and "AKIAHOST" not in text, path
    compose_env = compose_v2_values((state / "compose.env").read_text())
    assert compose_env["MWAA_LOCAL_EXECUTION_ROLE_ARN"] == ROLE
    assert compose_env["MWAA_LOCAL_CREDENTIALS_PATH"].startswith("/v2/credentials/")


def test_region_and_endpoints_are_reserved_against_options(tmp_path, shell, monkeypatch):
    environment = project(
        tmp_path,
        'AirflowConfigurationOptions:\n  secrets.backend_kwargs: \'{"variables_prefix": "v"}\'\n'
        "Local:\n  Region: eu-west-1\n  Credentials: none\n",
    )
    stack = write_env_files(environment, monkeypatch)
    airflow = compose_v2_values((stack.state.path / "airflow.env").read_text())
    # A backend_kwargs option replaces MWAA's default whole, as on MWAA.
    assert airflow["AIRFLOW__SECRETS__BACKEND_KWARGS"] == '{"variables_prefix": "v"}'
    default = json.loads(MWAA_DEFAULT_OPTIONS["secrets.backend_kwargs"])
    assert default == {"connections_lookup_pattern": "^(?!aws_default$).*$"}


# -- the merged compose configuration (docker-compose config: no engine needed) -------------------


@pytest.fixture
def compose_config(monkeypatch):
    try:
        tool = compose.compose_tool()
    except MwaaLocalError:
        pytest.skip("no compose tool on this machine")

    def render(stack: Stack) -> dict:
        done = subprocess.run(
            stack.compose_command("config"), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return yaml.safe_load(done.stdout)

    assert tool.command
    return render


def test_compose_puts_only_the_credentials_service_at_the_address_with_keys(
    tmp_path, shell, monkeypatch, compose_config
):
    environment = project(tmp_path, f"ExecutionRoleArn: {ROLE}\nAirflowVersion: '3.3.1'\n")
    stack = write_env_files(
        environment, monkeypatch, AWS_ACCESS_KEY_ID="AKIAHOST", AWS_SECRET_ACCESS_KEY=SECRET
    )
    assert str(task_aws.compose_file()) in stack.compose_command("ps")
    config = compose_config(stack)
    services = config["services"]
    service = services["credentials"]
    assert service["networks"]["credentials"] == {"ipv4_address": "169.254.170.2"}
    assert service["environment"]["AWS_SECRET_ACCESS_KEY"] == SECRET  # from the shell only
    assert service["user"] == f"{os.getuid()}:{os.getgid()}"
    assert "/home/mwaa-local/.aws" in str(service["volumes"][0])  # v1 renders a string
    assert config["networks"]["credentials"]["internal"] is True
    # The other containers on the network (bucket-sync is created beside the service) get their
    # addresses from a range without the service's, so none can take it first.
    [pool] = config["networks"]["credentials"]["ipam"]["config"]
    assert ipaddress.ip_address("169.254.170.2") in ipaddress.ip_network(pool["subnet"])
    assert ipaddress.ip_address("169.254.170.2") not in ipaddress.ip_network(pool["ip_range"])
    path = stack.task_aws.credentials_path
    for name in ("scheduler", "worker", "triggerer", "api-server", "dag-processor"):
        env = services[name]["environment"]
        assert env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] == path
        assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == stack.task_aws.auth_token
        assert set(services[name]["networks"]) == {"default", "credentials"}
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"} & set(env), name
        assert SECRET not in json.dumps(services[name])
    assert "credentials" not in (services["migrate-db"].get("networks") or {})


def test_without_credentials_there_is_no_service_and_no_network(
    tmp_path, shell, monkeypatch, compose_config
):
    stack = write_env_files(project(tmp_path, "Local:\n  Credentials: none\n"), monkeypatch)
    assert str(task_aws.compose_file()) not in stack.compose_command("ps")
    config = compose_config(stack)
    assert "credentials" not in config["services"]
    assert "credentials" not in (config.get("networks") or {})
    worker = config["services"]["worker"]["environment"]
    assert "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" not in worker
