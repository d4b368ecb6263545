"""The tasks' AWS credentials (issue 12) against a real moto server: AssumeRole as
mwaa-local-<Name>, the credentials service as botocore's ContainerProvider reads it, renewal,
and the failures users meet (no credentials, a stale SSO login, AssumeRole denied)."""

import datetime as dt
import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.credentials
import botocore.tokens
import pytest
from botocore.credentials import ContainerProvider
from botocore.exceptions import CredentialRetrievalError
from botocore.utils import ContainerMetadataFetcher
from moto.server import ThreadedMotoServer

from mwaa_local.aws.credentials import (
    CredentialsConfig,
    TaskCredentialSource,
    role_session_name,
    task_identity,
    task_session,
    trust_statement,
)
from mwaa_local.container import credentials_service
from mwaa_local.errors import MwaaLocalError

ACCOUNT = "123456789012"  # moto's default account
MOTO_CALLER = f"arn:aws:sts::{ACCOUNT}:user/moto"  # who moto says unknown keys belong to
START_URL = "https://example.awsapps.com/start"
REPO = Path(__file__).resolve().parents[2]


def _post(url: str, data: bytes = b"") -> None:
    # text/plain: moto's reset-auth reads the raw body, which a form content type would empty.
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10)


def admin_client(service: str):
    """A client with keys of its own (moto accepts any), whatever the test's chain holds."""
    session = boto3.Session(aws_access_key_id="admin", aws_secret_access_key="admin")
    return session.client(service)


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_home(tmp_path, monkeypatch, moto_url):
    """A clean AWS world: an empty HOME and ~/.aws, no AWS_* variables, STS at moto."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    aws = tmp_path / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(aws / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(aws / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    # botocore fixes the SSO cache folder (~/.aws/sso/cache) when it is imported.
    for cls in (botocore.credentials.SSOProvider, botocore.tokens.SSOTokenProvider):
        monkeypatch.setattr(cls, "_SSO_TOKEN_CACHE_DIR", str(aws / "sso" / "cache"))
    _post(f"{moto_url}/moto-api/reset")
    return aws


@pytest.fixture
def keys(aws_home, monkeypatch):
    """Long-term keys in the variables, as `aws configure` users have."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAMWAALOCALTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "mwaa-local-unit-secret-never-logged")
    return aws_home


def make_role(name: str = "mwaa-exec", trusted: str = MOTO_CALLER, mwaa: bool = True) -> str:
    """An execution role that trusts MWAA (as real ones do) and `trusted`."""
    statements = [{"Effect": "Allow", "Principal": {"AWS": trusted}, "Action": "sts:AssumeRole"}]
    if mwaa:
        service = {"Service": ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]}
        statements.append({"Effect": "Allow", "Principal": service, "Action": "sts:AssumeRole"})
    trust = {"Version": "2012-10-17", "Statement": statements}
    iam = admin_client("iam")
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def role_config(role_arn: str, **extra) -> CredentialsConfig:
    return CredentialsConfig(
        mode="execution-role", environment_name="my-env", execution_role_arn=role_arn, **extra
    )


@pytest.fixture
def serve():
    """Start a credentials service for a source on 127.0.0.1 (a free port); yield its base URL."""
    servers = []

    def start(source, path="/v2/credentials/abc", auth_token=None):
        server = credentials_service.build_server(
            source, path=path, host="127.0.0.1", port=0, auth_token=auth_token
        )
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def container_provider(full_uri: str, **environ) -> ContainerProvider:
    """botocore's own provider, pointed at the service (no sleeps between its retries)."""
    return ContainerProvider(
        environ={"AWS_CONTAINER_CREDENTIALS_FULL_URI": full_uri, **environ},
        fetcher=ContainerMetadataFetcher(sleep=lambda _: None),
    )


def get(url: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- execution-role mode -----------------------------------------------------------------------


def test_execution_role_mode_assumes_the_role_as_mwaa_local_name(keys):
    role_arn = make_role()
    config = role_config(role_arn)
    source = TaskCredentialSource(config)

    issued = source.credentials()
    identity = task_identity(config, source)

    assert identity.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/mwaa-exec/mwaa-local-my-env"
    assert identity.account == ACCOUNT == issued.account_id
    remaining = issued.expiration - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=55) < remaining <= dt.timedelta(hours=1)
    assert issued.access_key_id != "AKIAMWAALOCALTEST"
    assert "mwaa-local-unit-secret" not in repr(issued) and issued.secret_access_key not in repr(
        issued
    )
    assert source.credentials() is issued  # cached, not assumed again
    # The host-side session acts as a task would: botocore RefreshableCredentials.
    credentials = task_session(source).get_credentials()
    assert isinstance(credentials, botocore.credentials.RefreshableCredentials)


def test_session_name_follows_sts_rules():
    assert role_session_name("my-env") == "mwaa-local-my-env"
    assert len(role_session_name("e" * 80)) == 64  # MWAA names go to 80 characters


def test_profile_mode_hands_out_a_session_never_the_long_term_keys(keys):
    config = CredentialsConfig(mode="profile", environment_name="my-env")
    issued = TaskCredentialSource(config).credentials()

    assert issued.access_key_id != "AKIAMWAALOCALTEST" and issued.token
    assert issued.expiration - dt.datetime.now(dt.UTC) > dt.timedelta(minutes=55)
    assert task_identity(config).arn == MOTO_CALLER


def test_settings_mistakes_are_named():
    with pytest.raises(MwaaLocalError, match="needs the environment's ExecutionRoleArn"):
        CredentialsConfig(mode="execution-role", environment_name="e")
    with pytest.raises(MwaaLocalError, match="Unknown credentials mode"):
        CredentialsConfig(mode="static", environment_name="e")


# -- the service, as botocore's ContainerProvider sees it ----------------------------------------


def test_botocore_with_only_the_container_uri_gets_the_role(keys, serve, moto_url, tmp_path):
    role_arn = make_role()
    base = serve(TaskCredentialSource(role_config(role_arn)), auth_token="per-env-token")
    probe = (
        "import boto3, json; s = boto3.Session(); c = s.get_credentials(); "
        "print(json.dumps({'method': c.method, "
        "'arn': s.client('sts').get_caller_identity()['Arn']}))"
    )
    empty_home = tmp_path / "task-home"
    empty_home.mkdir()
    # A task's environment: the container URI, the region, and no credentials of any kind.
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(empty_home),
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{base}/v2/credentials/abc",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "per-env-token",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {
        "method": "container-role",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/mwaa-exec/mwaa-local-my-env",
    }


def test_service_answers_in_the_container_credentials_format(keys, serve):
    base = serve(TaskCredentialSource(role_config(make_role())), auth_token="t0k")

    status, body = get(f"{base}/v2/credentials/abc", {"Authorization": "t0k"})
    assert status == 200
    assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"}
    assert body["AccountId"] == ACCOUNT
    assert dt.datetime.strptime(body["Expiration"], "%Y-%m-%dT%H:%M:%SZ")

    assert get(f"{base}/v2/credentials/abc")[0] == 401
    assert get(f"{base}/v2/credentials/abc", {"Authorization": "wrong"})[0] == 401
    assert get(f"{base}/v2/credentials/other", {"Authorization": "t0k"})[0] == 404
    status, health = get(f"{base}/health")
    assert status == 200 and health["Mode"] == "execution-role" and "mwaa-exec" in health["Source"]
    port = int(base.rsplit(":", 1)[1])
    assert credentials_service.check(port) == 0


def test_service_renews_expired_credentials_and_logs_it(keys, serve, caplog):
    caplog.set_level(logging.INFO, logger="mwaa_local.aws.credentials")
    role_arn = make_role()
    # STS's shortest session (900 s) that the service treats as due 2 s after issue: the
    # same code path as a 3600 s session 40 minutes on.
    source = TaskCredentialSource(
        role_config(role_arn, duration_seconds=900),
        advisory_refresh=dt.timedelta(seconds=898),
        mandatory_refresh=dt.timedelta(seconds=898),
    )
    base = serve(source)
    task = container_provider(f"{base}/v2/credentials/abc").load()

    first = task.get_frozen_credentials()
    time.sleep(2.2)
    second = task.get_frozen_credentials()  # botocore refreshes: 900 s is inside its window

    assert second.access_key != first.access_key
    sts = boto3.Session(
        aws_access_key_id=second.access_key,
        aws_secret_access_key=second.secret_key,
        aws_session_token=second.token,
    ).client("sts")
    assert sts.get_caller_identity()["Arn"].endswith("assumed-role/mwaa-exec/mwaa-local-my-env")
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Got the tasks' credentials: role " + role_arn) for m in messages)
    assert any(m.startswith("Renewed (#1) the tasks' credentials") for m in messages)
    for secret in (first.access_key, first.secret_key, second.secret_key, second.token):
        assert secret not in caplog.text


# -- failures, with the fix in the hint ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["execution-role", "profile"])
def test_no_credentials_is_named_with_the_fix(aws_home, mode):
    config = CredentialsConfig(
        mode=mode, environment_name="e", execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )
    with pytest.raises(MwaaLocalError, match="No AWS credentials found") as caught:
        TaskCredentialSource(config).credentials()
    assert "aws sso login --profile" in caught.value.hint


def test_a_task_sees_the_service_error_with_the_hint(aws_home, serve):
    base = serve(TaskCredentialSource(CredentialsConfig(mode="profile", environment_name="e")))

    status, body = get(f"{base}/v2/credentials/abc")
    assert status == 503 and body["Code"] == "CredentialsUnavailable"
    assert body["Message"].startswith("No AWS credentials found for the tasks (no AWS_* ")
    assert "usable profile). Fix: Log in and name the profile" in body["Message"]
    # What a task's boto3 raises, verbatim from botocore: the body, hint included.
    with pytest.raises(CredentialRetrievalError) as caught:
        container_provider(f"{base}/v2/credentials/abc").load()
    text = str(caught.value)
    assert text.startswith(
        "Error when retrieving credentials from container-role: "
        "Error retrieving metadata: Received non 200 response 503 from container metadata: "
    )
    assert "aws sso login --profile NAME" in text
    assert get(f"{base}/health")[0] == 503


def write_sso_profiles(
    aws: Path, *, token_file: bool = True, expires: str = "2020-01-01T00:00:00Z"
):
    (aws / "config").write_text(
        f"""[profile legacy-sso]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_account_id = {ACCOUNT}
sso_role_name = Developer
region = us-east-1

[profile session-sso]
sso_session = corp
sso_account_id = {ACCOUNT}
sso_role_name = Developer
region = us-east-1

[sso-session corp]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""
    )
    if token_file:
        token = {"startUrl": START_URL, "region": "us-east-1", "accessToken": "stale"}
        for key in (START_URL, "corp"):  # legacy profiles: the URL's hash; sessions: the name's
            path = aws / "sso" / "cache" / f"{hashlib.sha1(key.encode()).hexdigest()}.json"
            path.write_text(json.dumps({**token, "expiresAt": expires}))


@pytest.mark.parametrize("mode", ["execution-role", "profile"])
@pytest.mark.parametrize(
    "profile,token_file",
    [("legacy-sso", True), ("session-sso", True), ("legacy-sso", False), ("session-sso", False)],
)
def test_a_stale_sso_login_names_aws_sso_login(aws_home, monkeypatch, mode, profile, token_file):
    write_sso_profiles(aws_home, token_file=token_file)
    monkeypatch.setenv("AWS_PROFILE", profile)
    config = CredentialsConfig(
        mode=mode, environment_name="e", execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/r"
    )
    with pytest.raises(
        MwaaLocalError, match=f"SSO session of profile {profile} has expired"
    ) as caught:
        TaskCredentialSource(config).credentials()
    assert f"aws sso login --profile {profile}" in caught.value.hint


class FakeSsoPortal(BaseHTTPRequestHandler):
    """AWS SSO's GetRoleCredentials (moto has none), as `aws sso login` makes it answer."""

    def do_GET(self):  # noqa: N802
        assert self.path.startswith("/federation/credentials")
        expiration = int((time.time() + 3600) * 1000)
        body = json.dumps(
            {
                "roleCredentials": {
                    "accessKeyId": "ASIASSOFAKE",
                    "secretAccessKey": "sso-secret",
                    "sessionToken": "sso-token",
                    "expiration": expiration,
                }
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_after_aws_sso_login_the_same_service_recovers(aws_home, monkeypatch, serve):
    portal = ThreadingHTTPServer(("127.0.0.1", 0), FakeSsoPortal)
    threading.Thread(target=portal.serve_forever, args=(0.05,), daemon=True).start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSO", f"http://127.0.0.1:{portal.server_address[1]}")
        monkeypatch.setenv("AWS_PROFILE", "legacy-sso")
        write_sso_profiles(aws_home)
        role_arn = make_role()
        base = serve(TaskCredentialSource(role_config(role_arn)))
        status, body = get(f"{base}/v2/credentials/abc")
        assert status == 503 and "aws sso login --profile legacy-sso" in body["Message"]

        # What `aws sso login` does: a fresh token in ~/.aws/sso/cache.
        fresh = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
        write_sso_profiles(aws_home, expires=fresh)
        status, body = get(f"{base}/v2/credentials/abc")
        assert status == 200 and body["AccountId"] == ACCOUNT
    finally:
        portal.shutdown()
        portal.server_close()


def test_assume_role_denied_by_the_trust_policy_names_role_caller_and_statement(
    aws_home, monkeypatch, moto_url
):
    # With IAM enforcement on, moto (>= 5.1.4) evaluates the caller's own policies and the
    # role's trust policy: both users may call sts:AssumeRole, only one is trusted.
    iam = admin_client("iam")
    users = {}
    for name in ("trusted", "untrusted"):
        iam.create_user(UserName=name)
        users[name] = iam.create_access_key(UserName=name)["AccessKey"]
        iam.put_user_policy(
            UserName=name,
            PolicyName="assume-any-role",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
                }
            ),
        )
    # moto 5.2.1's trust check fails (500) on a Service principal: no MWAA statement here.
    role_arn = make_role(trusted=f"arn:aws:iam::{ACCOUNT}:user/trusted", mwaa=False)

    def as_user(name):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", users[name]["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", users[name]["SecretAccessKey"])
        return TaskCredentialSource(role_config(role_arn))

    _post(f"{moto_url}/moto-api/reset-auth", b"0")  # enforce IAM from the next request on
    try:
        assert as_user("trusted").credentials().account_id == ACCOUNT
        with pytest.raises(MwaaLocalError) as caught:
            as_user("untrusted").credentials()
    finally:
        _post(f"{moto_url}/moto-api/reset-auth", b"inf")
    error = caught.value
    caller = f"arn:aws:iam::{ACCOUNT}:user/untrusted"
    assert error.message.startswith(f"AssumeRole on {role_arn} was denied for {caller}: ")
    assert "is not authorized to perform: sts:AssumeRole" in error.message
    statement = json.dumps(trust_statement(caller), separators=(", ", ": "))
    assert f'"Principal": {{"AWS": "{caller}"}}' in statement
    assert f"Add this statement to the trust policy of {role_arn} " in error.hint
    assert statement in error.hint and "credentials mode profile" in error.hint


def test_trust_statement_for_an_sso_role_matches_the_role_under_its_path():
    caller = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123abcd/jane@example.com"
    assert trust_statement(caller) == {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole",
        "Condition": {
            "ArnLike": {
                "aws:PrincipalArn": [
                    f"arn:aws:iam::{ACCOUNT}:role/AWSReservedSSO_Admin_0123abcd",
                    f"arn:aws:iam::{ACCOUNT}:role/*/AWSReservedSSO_Admin_0123abcd",
                ]
            }
        },
    }
