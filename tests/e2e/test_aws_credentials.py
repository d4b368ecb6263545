"""AWS inside the environment (issue 12), end to end, with a moto server on the host standing in
for AWS (IAM, STS, S3, Secrets Manager, SSM):

- one DAG on the Celery worker reads a variable through MWAA's Secrets Manager backend, uses a
  connection from it, writes an S3 object with S3Hook and records sts get-caller-identity: the
  caller is the assumed execution role, through the container credentials only;
- with role sessions renewed early, a later run gets new credentials and the service logs it;
- the secret keys appear in no docker inspect but the credentials service's, no state or env
  file, no image layer, no log;
- the bad inputs fail `start` in seconds (no container created), each naming the fix, and a
  stopped credentials service shows in the task log with its endpoint.
"""

import contextlib
import hashlib
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import docker.errors
import docker.types
import pytest
import yaml
from moto.server import ThreadedMotoServer

from mwaa_local.aws import credentials_address
from tests.e2e.stacks import free_port, make_project

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"  # moto's
REGION = "us-east-1"
BUCKET = "e2e-lake"
DAG_ID = "aws_probe"
SECRETS_BACKEND = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
SSM_BACKEND = (
    "airflow.providers.amazon.aws.secrets.systems_manager.SystemsManagerParameterStoreBackend"
)
PROBE_DAG = """
import json
import socket

import pendulum

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, BaseHook, Variable
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.hooks.base import BaseHook
    from airflow.models import Variable
    from airflow.operators.python import PythonOperator


def probe(run_id, **_):
    import boto3
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    connection = BaseHook.get_connection("data_lake")
    bucket = connection.extra_dejson["service_config"]["s3"]["bucket_name"]
    session = boto3.Session()
    credentials = session.get_credentials()
    report = {
        "greeting": Variable.get("greeting"),
        "only_in_db": Variable.get("only_in_db"),
        "conn_type": connection.conn_type,
        "caller": session.client("sts").get_caller_identity()["Arn"],
        "method": credentials.method,
        "access_key_id": credentials.get_frozen_credentials().access_key,
        "region": session.region_name,
        "host": socket.gethostname(),
    }
    S3Hook(aws_conn_id="data_lake").load_string(
        json.dumps(report), key=f"runs/{run_id}.json", bucket_name=bucket, replace=True
    )


with DAG("aws_probe", description="probe", schedule=None,
         start_date=pendulum.datetime(2024, 1, 1), catchup=False):
    PythonOperator(task_id="probe", python_callable=probe)
"""


def admin(moto_url: str, service: str):
    session = boto3.Session(aws_access_key_id="admin", aws_secret_access_key="admin")
    return session.client(service, endpoint_url=moto_url, region_name=REGION)


def _post(url: str, body: bytes) -> None:
    request = urllib.request.Request(
        url, body, method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(request, timeout=10)


@pytest.fixture(scope="module")
def aws():
    """moto on all interfaces (containers reach it through the host gateway), with a developer
    user, the execution role trusting it, a bucket, the secrets and an SSM parameter."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="0.0.0.0", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        iam = admin(url, "iam")
        users = {}
        for name in ("developer", "outsider"):
            iam.create_user(UserName=name)
            users[name] = iam.create_access_key(UserName=name)["AccessKey"]
            iam.put_user_policy(
                UserName=name,
                PolicyName="assume-roles",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "sts:*", "Resource": "*"}],
                    }
                ),
            )
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/developer"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = iam.create_role(RoleName="mwaa-exec", AssumeRolePolicyDocument=json.dumps(trust))
        admin(url, "s3").create_bucket(Bucket=BUCKET)
        secrets = admin(url, "secretsmanager")
        connection = {
            "conn_type": "aws",
            "extra": {"region_name": REGION, "service_config": {"s3": {"bucket_name": BUCKET}}},
        }
        secrets.create_secret(
            Name="airflow/connections/data_lake", SecretString=json.dumps(connection)
        )
        secrets.create_secret(
            Name="airflow/variables/greeting", SecretString="from secrets manager"
        )
        admin(url, "ssm").put_parameter(
            Name="/airflow/variables/greeting", Value="from parameter store", Type="String"
        )
        yield {"url": url, "users": users, "role": role["Role"]["Arn"]}
    finally:
        server.stop()


def host_shell(tmp_path, user: dict | None, **extra) -> dict[str, str]:
    """The environment of `mwaa-local start`: an empty HOME, no AWS_* but these."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"HOME": str(home), "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
    if user:
        env |= {
            "AWS_ACCESS_KEY_ID": user["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": user["SecretAccessKey"],
        }
    return env | extra


def aws_project(name: str, version: str, aws: dict, **top_level):
    project = make_project(name, version, AwsEndpointUrl=aws["url"])
    settings_file = project.path / "mwaa-local.yaml"
    settings = yaml.safe_load(settings_file.read_text())
    settings_file.write_text(yaml.safe_dump({**settings, **top_level}))
    return project


def project_containers(docker_engine, project) -> list:
    label = f"com.docker.compose.project={project.name.lower()}"
    return docker_engine.containers.list(all=True, filters={"label": label})


def service_container(docker_engine, project, service: str):
    [container] = [
        c
        for c in project_containers(docker_engine, project)
        if c.labels.get("com.docker.compose.service") == service
    ]
    return container


# -- bad inputs: `start` fails in seconds, before any container, naming the fix -------------------


def start_fails(project, env, docker_engine) -> str:
    began = time.monotonic()
    result = project.cli("start", env=env, timeout=120)
    seconds = time.monotonic() - began
    assert result.returncode == 1, result.output
    assert project_containers(docker_engine, project) == []
    assert seconds < 30, seconds
    print(f"failed start in {seconds:.1f} s")
    return " ".join(result.stderr.split())  # rich wraps lines


def test_bad_inputs_fail_start_with_the_fix(aws, docker_engine, tmp_path):
    project = aws_project(f"e2e-badaws-{os.getpid()}", "3.3.1", aws, ExecutionRoleArn=aws["role"])
    try:
        # No credentials at all.
        output = start_fails(project, host_shell(tmp_path, None), docker_engine)
        assert "No AWS credentials found for the tasks" in output
        assert "aws sso login --profile NAME" in output

        # An SSO login whose cached token has expired.
        aws_dir = tmp_path / "home" / ".aws"
        (aws_dir / "sso" / "cache").mkdir(parents=True)
        start_url = "https://example.awsapps.com/start"
        (aws_dir / "config").write_text(
            f"[profile stale-sso]\nsso_start_url = {start_url}\nsso_region = {REGION}\n"
            f"sso_account_id = {ACCOUNT}\nsso_role_name = Developer\nregion = {REGION}\n"
        )
        token = {"startUrl": start_url, "region": REGION, "accessToken": "stale",
                 "expiresAt": "2020-01-01T00:00:00Z"}  # fmt: skip
        cache = aws_dir / "sso" / "cache" / f"{hashlib.sha1(start_url.encode()).hexdigest()}.json"
        cache.write_text(json.dumps(token))
        output = start_fails(
            project, host_shell(tmp_path, None, AWS_PROFILE="stale-sso"), docker_engine
        )
        assert "The AWS SSO session of profile stale-sso has expired" in output
        assert "aws sso login --profile stale-sso" in output

        # AssumeRole refused by the role's trust policy (moto enforcing IAM for this start).
        _post(f"{aws['url']}/moto-api/reset-auth", b"0")
        try:
            output = start_fails(
                project, host_shell(tmp_path, aws["users"]["outsider"]), docker_engine
            )
        finally:
            _post(f"{aws['url']}/moto-api/reset-auth", b"inf")
        caller = f"arn:aws:iam::{ACCOUNT}:user/outsider"
        assert f"AssumeRole on {aws['role']} was denied for {caller}" in output
        assert f"Add this statement to the trust policy of {aws['role']}" in output
        assert f'"Principal": {{"AWS": "{caller}"}}' in output

        # Another running environment holds the credentials address.
        network = docker_engine.networks.create(
            f"e2e-holder-{os.getpid()}_credentials",
            internal=True,
            ipam=docker.types.IPAMConfig(
                pool_configs=[docker.types.IPAMPool(subnet="169.254.170.0/24")]
            ),
            labels={
                "com.docker.compose.project": "e2e-holder",
                "io.github.mwaa-local.credentials-network": "true",
                "io.github.mwaa-local.project-dir": "/srv/other-project",
            },
        )
        holder = docker_engine.containers.run(
            os.environ.get("MWAA_LOCAL_REDIS_IMAGE", "redis:7"), detach=True, network=network.name
        )
        try:
            output = start_fails(
                project, host_shell(tmp_path, aws["users"]["developer"]), docker_engine
            )
            assert "Environment e2e-holder is running with AWS credentials" in output
            assert "mwaa-local --project-dir /srv/other-project stop" in output
            # Stopped, it no longer holds the address: the next start takes it over.
            holder.remove(force=True)
            credentials_address.claim(docker_engine, project.name.lower())
            assert network.name not in [n.name for n in docker_engine.networks.list()]
        finally:
            with contextlib.suppress(docker.errors.NotFound):
                holder.remove(force=True)
            with contextlib.suppress(docker.errors.NotFound):
                network.remove()
    finally:
        project.destroy()


# -- one environment, the whole path -------------------------------------------------------------


def read_report(aws: dict, run_id: str) -> dict:
    body = admin(aws["url"], "s3").get_object(Bucket=BUCKET, Key=f"runs/{run_id}.json")["Body"]
    return json.loads(body.read())


def run_probe(project) -> tuple[str, dict]:
    api = project.api()
    run_id = api.trigger(DAG_ID)
    return run_id, api.wait_for_run(DAG_ID, run_id, timeout=180)


def raw_task_log(api, run_id: str) -> str:
    """The probe's task log with every field (Airflow 3 keeps a traceback apart from the
    event text)."""
    path = f"/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/probe/logs/1"
    return json.dumps(api.request("GET", path, full_content="true")["content"])


def service_credentials(container) -> dict:
    """What the service hands the tasks right now (the test's view, to look for leaks)."""
    script = (
        "import json, os, urllib.request; r = urllib.request.Request('http://127.0.0.1' + "
        "os.environ['MWAA_LOCAL_CREDENTIALS_PATH'], headers={'Authorization': "
        "os.environ['MWAA_LOCAL_CREDENTIALS_AUTH_TOKEN']}); "
        "print(urllib.request.urlopen(r).read().decode())"
    )
    code, output = container.exec_run(["/usr/local/mwaa-local/bin/python3", "-c", script])
    assert code == 0, output
    return json.loads(output)


@pytest.fixture(params=["airflow3_image", "airflow2_image"])
def image(request):
    return request.getfixturevalue(request.param)


def test_tasks_run_as_the_execution_role(image, aws, docker_engine, tmp_path):
    timings = {}
    began = time.monotonic()
    name = f"e2e-aws-{image.version.replace('.', '')}-{os.getpid()}"
    project = aws_project(
        name,
        image.version,
        aws,
        ExecutionRoleArn=aws["role"],
        AirflowConfigurationOptions={
            "secrets.backend": SECRETS_BACKEND,
            "secrets.backend_kwargs": json.dumps(
                {
                    "connections_prefix": "airflow/connections",
                    "variables_prefix": "airflow/variables",
                }
            ),
        },
    )
    (project.path / "dags" / "aws_probe.py").write_text(PROBE_DAG)
    # The metadata database has a greeting too: the secrets backend is asked first (MWAA's order).
    (project.path / "airflow-objects.yaml").write_text(
        yaml.safe_dump(
            {"variables": {"greeting": "from the metadata db", "only_in_db": "db value"}}
        )
    )
    developer = aws["users"]["developer"]
    # Role sessions of 900 s (STS's shortest) renewed 10 s after issue: the renewal path of a
    # 3600 s session 40 minutes on.
    env = host_shell(
        tmp_path,
        developer,
        MWAA_LOCAL_CREDENTIALS_DURATION="900",
        MWAA_LOCAL_CREDENTIALS_RENEW_BEFORE="890",
        MWAA_LOCAL_CREDENTIALS_REFRESH_INTERVAL="2",
    )
    role_session = f"arn:aws:sts::{ACCOUNT}:assumed-role/mwaa-exec/mwaa-local-{name}"
    try:
        started = project.cli("start", env=env)
        assert started.returncode == 0, started.output
        timings["start"] = time.monotonic() - began
        assert (
            f"AWS:        tasks run as {role_session} (execution-role, {REGION})" in started.stdout
        )

        who = json.loads(project.cli("credentials", "--json", env=env).stdout)
        assert who["Arn"] == role_session and who["Account"] == ACCOUNT
        assert who["From"] == "the running credentials service"

        # The DAG on the Celery worker.
        api = project.api()
        deadline = time.monotonic() + 60
        while project.dag_description(DAG_ID) is None:
            assert time.monotonic() < deadline, "the probe DAG was not parsed"
            time.sleep(0.5)
        api.unpause(DAG_ID)
        first_id, first = run_probe(project)
        assert first["state"] == "success", api.task_log(DAG_ID, first_id, "probe")
        timings["first run"] = time.monotonic() - began - timings["start"]
        report = read_report(aws, first_id)
        assert report["caller"] == role_session
        assert report["method"] == "container-role"
        assert report["greeting"] == "from secrets manager"  # the backend before the database
        assert report["only_in_db"] == "db value"  # then the metadata database
        assert report["conn_type"] == "aws" and report["region"] == REGION
        worker = project.status()["Components"]["worker"]["Container"]
        assert report["host"] == docker_engine.containers.get(worker).attrs["Config"]["Hostname"]

        # Refresh: a run after the first credentials were due gets new ones.
        time.sleep(12)
        second_id, second = run_probe(project)
        assert second["state"] == "success", api.task_log(DAG_ID, second_id, "probe")
        renewed = read_report(aws, second_id)
        assert renewed["caller"] == role_session
        assert renewed["access_key_id"] != report["access_key_id"]
        service_log = project.cli("logs", "credentials", "--tail", "all").output
        assert "Renewed (#" in service_log and f"role {aws['role']}" in service_log

        # The SSM Parameter Store backend, configured the same way, with the same credentials.
        scheduler = docker_engine.containers.get(
            project.status()["Components"]["scheduler"]["Container"]
        )
        code, output = scheduler.exec_run(
            [
                "python",
                "-c",
                "from airflow.models import Variable; print(Variable.get('greeting'))",
            ],
            environment={
                "AIRFLOW__SECRETS__BACKEND": SSM_BACKEND,
                "AIRFLOW__SECRETS__BACKEND_KWARGS": '{"variables_prefix": "/airflow/variables"}',
            },
        )
        assert code == 0 and output.decode().strip().endswith("from parameter store"), output

        # No key anywhere but in the credentials service.
        service = service_container(docker_engine, project, "credentials")
        secrets = {developer["SecretAccessKey"], service_credentials(service)["SecretAccessKey"]}
        leaks = find_leaks(secrets, project, docker_engine, service, image.tag, env)
        assert leaks == [], leaks

        # The credentials service down: the task fails, its log names the endpoint.
        service.stop(timeout=2)
        down_id, down = run_probe(project)
        assert down["state"] == "failed"
        log = raw_task_log(api, down_id)
        assert "169.254.170.2" in log, log[-3000:]
        status = project.status()
        assert status["Components"]["credentials"]["State"] == "exited"
        assert status["Status"] == "UNAVAILABLE"
        timings["total"] = time.monotonic() - began
        print(
            f"timings ({image.version}): " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        )
    finally:
        project.destroy()


def find_leaks(secrets: set[str], project, docker_engine, service, image: str, env) -> list[str]:
    """Where any of `secrets` shows: docker inspect (but the service's), the project and state
    folders, the image's history, the components' logs and the logs volume."""
    found = []
    for container in project_containers(docker_engine, project):
        if container.id == service.id:
            continue
        inspected = json.dumps(docker_engine.api.inspect_container(container.id))
        found += [f"docker inspect {container.name}" for s in secrets if s in inspected]
    for path in Path(project.path).rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            found += [str(path) for s in secrets if s in text]
    history = subprocess.run(
        ["docker", "history", "--no-trunc", image], capture_output=True, text=True, check=True
    ).stdout
    found += ["docker history" for s in secrets if s in history]
    logs = project.cli("logs", "--tail", "all", env=env).output
    found += ["mwaa-local logs" for s in secrets if s in logs]
    worker = service_container(docker_engine, project, "worker")
    for secret in secrets:
        code, _ = worker.exec_run(["grep", "-rqF", secret, "/usr/local/airflow/logs"])
        if code == 0:
            found.append("the logs volume")
    return found
