"""AWS as the containers see it (issue 12): the credentials mode and the profile it reads, the
region, and the endpoints, from the settings and the shell that runs `mwaa-local start`.

`start` resolves them (resolve_task_aws) and records the result in the state folder, so later
commands (`update`, `restart`, `status`) keep the choice `start` made even from another shell;
what the settings name explicitly always wins. The record holds no AWS key: only the mode, the
profile's name, the region and the credentials endpoint's path and token.

Every container gets the region (AWS_DEFAULT_REGION and AWS_REGION, which MWAA reserves:
mwaa-behaviour.md 1.5) and the endpoints as the variables botocore reads (AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_<SERVICE>; aws-clients-and-serverless.md D), a host loopback address rewritten
to host.docker.internal. The credentials themselves come from the credentials service only.
"""

from __future__ import annotations

import configparser
import json
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mwaa_local.aws.credentials import (
    CONTAINER_CREDENTIALS_IP,
    CREDENTIALS_PATH_PREFIX,
    CredentialsConfig,
)
from mwaa_local.bucket.access import container_endpoint
from mwaa_local.runtime.state import StateDir, write_private

if TYPE_CHECKING:
    from mwaa_local.spec.settings import Environment

CREDENTIALS_SERVICE = "credentials"
RECORD_FILE = "aws.json"
AWS_ENV_FILE = "aws.env"
# When no credentials are wanted, the credentials service is left out (compose/credentials.yaml
# is not given to compose) and nothing joins the credentials network.
NONE = "none"
# An IAM ARN has no region; its partition has a usual one.
PARTITION_REGIONS = {"aws": "us-east-1", "aws-cn": "cn-north-1", "aws-us-gov": "us-gov-west-1"}
DEFAULT_REGION = "us-east-1"
NO_CREDENTIALS_NOTE = (
    "The tasks get no AWS credentials: the settings name no ExecutionRoleArn and this shell has "
    "none (no AWS_ACCESS_KEY_ID, no AWS_PROFILE, no default profile in ~/.aws). Set "
    "ExecutionRoleArn to run them as that role, or log in and start again; "
    "`Local.Credentials: none` keeps this and hides the note."
)


def compose_file() -> Path:
    """compose/credentials.yaml, given to compose after docker-compose.yaml when the tasks get
    credentials: the credentials service, its network, and the Airflow services on it."""
    from mwaa_local.runtime.compose import compose_file as main_file

    return main_file().with_name("credentials.yaml")


@dataclass(frozen=True)
class TaskAws:
    mode: str
    profile: str | None
    region: str
    # "" -> AWS_ENDPOINT_URL, else a boto3 client name; URLs as the host sees them.
    endpoints: Mapping[str, str] = field(default_factory=dict)
    credentials_path: str = ""
    auth_token: str = field(default="", repr=False)
    note: str | None = None

    @property
    def enabled(self) -> bool:
        return self.mode != NONE

    @property
    def credentials_uri(self) -> str:
        return f"http://{CONTAINER_CREDENTIALS_IP}{self.credentials_path}"

    def credentials_config(self, environment: Environment) -> CredentialsConfig:
        """The service's configuration, for the same check on the host (host endpoints)."""
        return CredentialsConfig(
            mode=self.mode,
            environment_name=environment.name,
            execution_role_arn=environment.execution_role_arn,
            profile=self.profile,
            region=self.region,
            sts_endpoint_url=self.endpoints.get("sts") or self.endpoints.get(""),
        )

    def container_variables(self) -> dict[str, str]:
        """Region and endpoints for every container (the credentials service included)."""
        variables = {"AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}
        for service, url in sorted(self.endpoints.items()):
            variables[endpoint_variable(service)] = container_endpoint(url)
        return variables

    def airflow_variables(self) -> dict[str, str]:
        """The Airflow containers': no instance-metadata lookups either, so the tasks' only
        credentials are the service's (on an EC2 host they would get the instance's role)."""
        return {**self.container_variables(), "AWS_EC2_METADATA_DISABLED": "true"}

    def compose_variables(self, environment: Environment, state: StateDir) -> dict[str, str]:
        """What compose/credentials.yaml interpolates (compose.env: no AWS key, ever)."""
        aws_dir = Path.home() / ".aws"
        if not aws_dir.is_dir():
            # Docker would create a missing bind-mount source as root; an empty folder instead.
            aws_dir = state.path / "aws-empty"
            aws_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return {
            "MWAA_LOCAL_AWS_ENV_FILE": str(state.path / AWS_ENV_FILE),
            "MWAA_LOCAL_CREDENTIALS_MODE": self.mode,
            "MWAA_LOCAL_EXECUTION_ROLE_ARN": environment.execution_role_arn or "",
            "MWAA_LOCAL_ENVIRONMENT_NAME": environment.name,
            "MWAA_LOCAL_CREDENTIALS_PATH": self.credentials_path if self.enabled else "",
            "MWAA_LOCAL_CREDENTIALS_AUTH_TOKEN": self.auth_token if self.enabled else "",
            "MWAA_LOCAL_AWS_PROFILE": self.profile or "",
            "MWAA_LOCAL_AWS_DIR": str(aws_dir),
            # The service runs as you, to read your owner-only ~/.aws files.
            "MWAA_LOCAL_HOST_UID": str(os.getuid() if hasattr(os, "getuid") else 0),
            "MWAA_LOCAL_HOST_GID": str(os.getgid() if hasattr(os, "getgid") else 0),
            "MWAA_LOCAL_PROJECT_DIR": str(environment.project_dir.resolve()),
        }


def endpoint_variable(service: str) -> str:
    """The variable botocore reads for a client's endpoint: s3 -> AWS_ENDPOINT_URL_S3,
    secretsmanager -> AWS_ENDPOINT_URL_SECRETS_MANAGER (its service id, as botocore's
    configprovider derives it)."""
    if not service:
        return "AWS_ENDPOINT_URL"
    from botocore import utils

    name = utils.SERVICE_NAME_ALIASES.get(service, service)
    name = utils.CLIENT_NAME_TO_HYPHENIZED_SERVICE_ID_OVERRIDES.get(name, name)
    return "AWS_ENDPOINT_URL_" + name.replace("-", "_").upper()


def endpoint_urls(environment: Environment) -> dict[str, str]:
    """Local.AwsEndpointUrl for every client, S3EndpointUrl for S3, Local.AwsEndpointUrls per
    client (the most specific wins)."""
    local = environment.local
    urls = {"": local.aws_endpoint_url} if local.aws_endpoint_url else {}
    if local.s3_endpoint_url:
        urls["s3"] = local.s3_endpoint_url
    return {**urls, **local.aws_endpoint_urls}


def _has_section(path: Path, *names: str) -> bool:
    parser = configparser.RawConfigParser()
    try:
        parser.read(path.expanduser())
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    return any(parser.has_section(name) for name in names)


def chain_configured(profile: str | None, environ: Mapping[str, str], home: Path) -> bool:
    """Whether this shell names AWS credentials: keys, a profile, or a default profile. Nothing
    is called or run (a credential_process would run; an SSO login may be stale: `start` then
    says how to fix it)."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return True
    if profile:
        return True
    config = Path(environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    shared = Path(environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    return _has_section(shared, "default") or _has_section(config, "default", "profile default")


def choose_mode(
    environment: Environment, profile: str | None, environ: Mapping[str, str], home: Path
) -> tuple[str, str | None]:
    """The mode and, when the tasks get nothing without being told so, the note saying why.

    The settings' mode, else execution-role when there is an ExecutionRoleArn (what MWAA does),
    else the shell's own credentials when it has some (a new user's DAGs can reach AWS as they
    can), else none, said once at start.
    """
    if environment.local.credentials:
        return environment.local.credentials, None
    if environment.execution_role_arn:
        return "execution-role", None
    if chain_configured(profile, environ, home):
        return "profile", None
    return NONE, NO_CREDENTIALS_NOTE


def _profile_region(profile: str | None) -> str | None:
    import botocore.exceptions
    import botocore.session

    try:
        return botocore.session.Session(profile=profile).get_config_variable("region")
    except botocore.exceptions.BotoCoreError:
        return None


def default_region(profile: str | None, environ: Mapping[str, str], role_arn: str | None) -> str:
    """AWS_REGION / AWS_DEFAULT_REGION, else the profile's region, else the usual region of the
    role's partition (an IAM ARN names no region), else us-east-1."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if environ.get(name):
            return environ[name]
    region = _profile_region(profile)
    if region:
        return region
    partition = (role_arn or "").split(":")[1:2]
    return PARTITION_REGIONS.get(partition[0] if partition else "aws", DEFAULT_REGION)


def _record_path(environment: Environment) -> Path:
    return StateDir.for_environment(environment.project_dir, environment.name).path / RECORD_FILE


def read_record(environment: Environment) -> dict[str, str] | None:
    path = _record_path(environment)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def recorded_mode(environment: Environment) -> str | None:
    """The mode the last `start` chose (None: never started with this version)."""
    record = read_record(environment)
    return record.get("Mode") if record else None


def record_task_aws(environment: Environment, aws: TaskAws) -> None:
    record = {
        "Mode": aws.mode,
        "Profile": aws.profile,
        "Region": aws.region,
        "CredentialsPath": aws.credentials_path,
        "AuthToken": aws.auth_token,
    }
    write_private(_record_path(environment), json.dumps(record, indent=2) + "\n")


def _endpoint_identity(record: Mapping[str, str] | None) -> tuple[str, str]:
    """The credentials path and token: kept from the record (changing them would recreate every
    container), else new: a random path and token per environment."""
    if record and record.get("CredentialsPath") and record.get("AuthToken"):
        return record["CredentialsPath"], record["AuthToken"]
    return f"{CREDENTIALS_PATH_PREFIX}{uuid.uuid4()}", secrets.token_urlsafe(32)


def resolve_task_aws(
    environment: Environment,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> TaskAws:
    """The containers' AWS from the settings and this shell, as `start` decides it."""
    environ = os.environ if environ is None else environ
    home = Path(environ.get("HOME") or Path.home()) if home is None else home
    local = environment.local
    profile = local.aws_profile or environ.get("AWS_PROFILE") or environ.get("AWS_DEFAULT_PROFILE")
    mode, note = choose_mode(environment, profile, environ, home)
    region = local.region or default_region(profile, environ, environment.execution_role_arn)
    path, token = _endpoint_identity(read_record(environment))
    return TaskAws(mode, profile or None, region, endpoint_urls(environment), path, token, note)


def current_task_aws(environment: Environment) -> TaskAws:
    """The containers' AWS for commands after `start`: its record, under what the settings name
    explicitly now (an `update` applies a changed setting); never started: resolved now."""
    record = read_record(environment)
    if record is None:
        return resolve_task_aws(environment)
    local = environment.local
    mode = record.get("Mode") or NONE
    if local.credentials or environment.execution_role_arn or mode == "execution-role":
        # Named in the settings, or the recorded role is gone from them: decide as start would.
        mode, _ = choose_mode(environment, record.get("Profile"), os.environ, Path.home())
    path, token = _endpoint_identity(record)
    return TaskAws(
        mode=mode,
        profile=local.aws_profile or record.get("Profile"),
        region=local.region or record.get("Region") or DEFAULT_REGION,
        endpoints=endpoint_urls(environment),
        credentials_path=path,
        auth_token=token,
    )
