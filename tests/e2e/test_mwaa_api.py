"""The MWAA API on localhost against a running stack, with the clients MWAA users run: boto3's
`mwaa` client and `aws mwaa ... --endpoint-url` (host prefix injection off), MWAA's documented
/aws_mwaa/cli calls, a web login in headless Chromium, and the web UI driven as a user does.

One Airflow 3.3.1 stack serves the Airflow 3 tests here, in file order: the updates restart
components, so they come last; the expired CLI token is made first and used last, once its minute
is over. One Airflow 2.10.3 stack then serves the web login and the UI on Airflow 2.
"""

import base64
import hashlib
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
import zipfile

import boto3
import pytest
from botocore.config import Config

from mwaa_local.errors import MwaaLocalError
from tests.aws_cli import run_aws
from tests.e2e import airflow_ui
from tests.e2e.browser import browser
from tests.e2e.stacks import free_port, make_project
from tests.e2e.wheels import make_wheel

pytestmark = pytest.mark.e2e

DAG_ID = "mwaa_local_example"
GOOD = "--find-links /usr/local/airflow/plugins\nmwaa_local_api_probe==1.0\n"
BROKEN = GOOD + "mwaa-local-no-such-package-e2e==1.0\n"
TOKEN_SECONDS = 60


def version_id(text: str) -> str:
    """A folder bucket's version id: the content's digest (bucket/source.py)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mwaa_client(endpoint_url: str):
    return boto3.client(
        "mwaa",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIAMWAALOCALE2E",
        aws_secret_access_key="any-secret",
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
    )


def aws(endpoint_url: str, *args: str) -> subprocess.CompletedProcess:
    """`aws mwaa ARGS --endpoint-url URL`, as a user runs it (awscli from PyPI)."""
    return run_aws("mwaa", *args, endpoint_url=endpoint_url, host_prefix=False)


def post_cli(hostname: str, token: str, command: str) -> tuple[int, str, str]:
    """MWAA's documented call: POST the command as text/plain with the token as bearer; the
    answer's stdout and stderr decoded from base64."""
    request = urllib.request.Request(
        f"http://{hostname}/aws_mwaa/cli",
        data=command.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    decoded = json.loads(body)
    stdout = base64.b64decode(decoded["stdout"]).decode()
    stderr = base64.b64decode(decoded["stderr"]).decode()
    return status, stdout, stderr


def wait_for_status(client, name: str, wanted: str, timeout: float = 900) -> dict:
    """Poll GetEnvironment until Status is `wanted`; the statuses seen on the way are kept."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        env = client.get_environment(Name=name)["Environment"]
        if not seen or seen[-1] != env["Status"]:
            seen.append(env["Status"])
        if env["Status"] == wanted:
            env["_seen"] = seen
            return env
        assert time.monotonic() < deadline, f"statuses seen: {seen}"
        time.sleep(2)


class Api:
    """The running stack's project, its MWAA endpoint and a boto3 client for it."""

    def __init__(self, project, endpoint_url: str, started: str) -> None:
        self.project = project
        self.started = started  # what `start` printed: the UI's address and the login
        self.name = project.name
        self.endpoint_url = endpoint_url
        self.client = mwaa_client(endpoint_url)
        self.early_token: str | None = None
        self.early_token_at = 0.0


@pytest.fixture(scope="module")
def api(airflow3_image, tmp_path_factory):
    project = make_project(f"e2e-api-{os.getpid()}", airflow3_image.version, ApiPort=free_port())
    try:
        wheel = make_wheel(
            tmp_path_factory.mktemp("wheel"), "mwaa_local_api_probe", "1.0", "V = 1\n"
        )
        with zipfile.ZipFile(project.path / "plugins.zip", "w") as archive:
            archive.write(wheel, wheel.name)
        (project.path / "plugins.zip").chmod(0o644)
        (project.path / "requirements").mkdir()
        (project.path / "requirements" / "requirements.txt").write_text(GOOD)
        started = project.cli("start")
        assert started.returncode == 0, started.output
        endpoint = project.status()["Api"]["Endpoint"]
        assert f"MWAA API:   {endpoint}" in started.stdout
        yield Api(project, endpoint, started.stdout)
    finally:
        project.destroy()


def test_get_and_list_the_environment_with_boto3_and_the_aws_cli(api):
    env = api.client.get_environment(Name=api.name)["Environment"]
    # made now, used by the last test once its minute is over
    api.early_token = api.client.create_cli_token(Name=api.name)["CliToken"]
    api.early_token_at = time.monotonic()

    assert env["Status"] == "AVAILABLE"
    assert env["AirflowVersion"] == "3.3.1"
    assert env["WebserverUrl"] == f"127.0.0.1:{api.project.port}"
    assert env["RequirementsS3ObjectVersion"] == version_id(GOOD)
    assert env["Arn"] == f"arn:aws:airflow:us-east-1:000000000000:environment/{api.name}"
    got = aws(api.endpoint_url, "get-environment", "--name", api.name)
    listed = aws(api.endpoint_url, "list-environments")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["Environment"]["Status"] == "AVAILABLE"
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"Environments": [api.name]}

    timings = []
    for _ in range(20):
        started = time.perf_counter()
        api.client.get_environment(Name=api.name)
        timings.append(time.perf_counter() - started)
    print(f"\nget-environment with boto3: median {statistics.median(timings) * 1000:.0f} ms")


def dag_parsed(rest) -> bool:
    """Whether the dag-processor has put the example DAG in the database."""
    try:
        rest.request("GET", f"/dags/{DAG_ID}")
    except MwaaLocalError:
        return False
    return True


def test_a_cli_token_triggers_a_run_that_succeeds_and_lists_the_dags(api):
    token = api.client.create_cli_token(Name=api.name)
    hostname = token["WebServerHostname"]
    rest = api.project.api()
    deadline = time.monotonic() + 120
    while not dag_parsed(rest):
        assert time.monotonic() < deadline, "the example DAG was never parsed"
        time.sleep(1)

    unpaused = post_cli(hostname, token["CliToken"], f"dags unpause {DAG_ID}")
    triggered = post_cli(hostname, token["CliToken"], f"dags trigger {DAG_ID}")
    started = time.perf_counter()
    status, stdout, stderr = post_cli(hostname, token["CliToken"], "dags list")
    listed_in = time.perf_counter() - started
    refused = post_cli(hostname, token["CliToken"], "users list")

    assert unpaused[0] == 200, unpaused
    assert triggered[0] == 200 and DAG_ID in triggered[1], triggered
    [run] = rest.dag_runs(DAG_ID)
    assert rest.wait_for_run(DAG_ID, run["dag_run_id"])["state"] == "success"
    assert status == 200, stderr
    assert DAG_ID in stdout.split()  # `dags list`'s table, decoded from base64
    assert refused[0] == 500 and "not an Airflow CLI command MWAA runs" in refused[2]
    print(f"\nPOST /aws_mwaa/cli `dags list`: {listed_in:.2f} s")


def test_a_fifth_concurrent_cli_command_gets_503(api):
    token = api.client.create_cli_token(Name=api.name)
    barrier = threading.Barrier(5)
    statuses: list[int] = []

    def call() -> None:
        barrier.wait()
        statuses.append(post_cli(token["WebServerHostname"], token["CliToken"], "dags list")[0])

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)

    assert sorted(statuses) == [200, 200, 200, 200, 503]


def test_invoke_rest_api_lists_dags_and_a_missing_variable_is_a_client_error(api):
    answer = api.client.invoke_rest_api(Name=api.name, Path="/dags", Method="GET")
    by_cli = aws(
        api.endpoint_url, "invoke-rest-api", "--name", api.name, "--path", "/dags",
        "--method", "GET",
    )  # fmt: skip
    with pytest.raises(api.client.exceptions.RestApiClientException) as missing:
        api.client.invoke_rest_api(Name=api.name, Path="/variables/no-such-key", Method="GET")

    assert answer["RestApiStatusCode"] == 200
    assert DAG_ID in [dag["dag_id"] for dag in answer["RestApiResponse"]["dags"]]
    assert by_cli.returncode == 0, by_cli.stderr
    assert DAG_ID in [d["dag_id"] for d in json.loads(by_cli.stdout)["RestApiResponse"]["dags"]]
    assert missing.value.response["RestApiStatusCode"] == 404
    assert missing.value.response["Error"]["Code"] == "RestApiClientException"


def open_ui_with_web_login(client, name: str, ui: str, logged_in_text: str, landing: str) -> None:
    """Open the web login URL MWAA documents in a fresh headless Chromium and check that the UI
    then shows `logged_in_text` at `landing` without asking for a login."""
    token = client.create_web_login_token(Name=name)
    url = (
        f"http://{token['WebServerHostname']}/aws_mwaa/aws-console-sso?login=true"
        f"#{token['WebToken']}"
    )
    with browser(f"web-login-{name}") as b:
        b.get(url)
        b.wait("the UI after the web login", lambda: b.driver.current_url.startswith(ui + "/"))
        b.get(ui + landing)
        b.wait_for_text(f"{logged_in_text} at {landing}", logged_in_text)
        assert "/login" not in b.driver.current_url


def use_the_ui(api: Api, docker_engine) -> None:
    """Log in with what `start` printed, find the example DAG in the list, trigger it with the
    trigger button, watch the run succeed and open its task's log, which must be the worker's."""
    project = api.project
    major = int(project.version.split(".")[0])
    ui, user, password = airflow_ui.start_output_login(api.started)
    worker = project.status()["Components"]["worker"]["Container"]
    host = docker_engine.containers.get(worker).attrs["Config"]["Hostname"]
    logged = f"mwaa-local example ran on host {host} in component worker"
    with browser(f"ui-airflow-{project.version}") as b:
        airflow_ui.log_in(b, ui, user, password, major)
        airflow_ui.open_dag(b, DAG_ID)
        run_id = airflow_ui.trigger(b, DAG_ID, major)
        airflow_ui.wait_for_success(b, ui, DAG_ID, run_id, "where_am_i", major)
        airflow_ui.open_task_log(b, run_id, "where_am_i", major)
        b.wait_for_text("the worker's log line in the task log", logged)
        shown = b.text()
        assert not [e for e in airflow_ui.LOG_ERRORS if e in shown], shown
        print("".join(f"\n{seconds:6.1f} s  {step}" for step, seconds in b.took))

    run = next(r for r in project.api().dag_runs(DAG_ID) if r["dag_run_id"] == run_id)
    assert run["state"] == "success"


def test_a_web_login_token_opens_the_ui_already_logged_in(api):
    ui = f"http://127.0.0.1:{api.project.port}"
    with browser("no-web-login") as b:  # without the token, the UI asks for a login
        b.get(ui + "/dags")
        b.wait("the login page", lambda: "/auth/login" in b.driver.current_url)

    # the DAG list is drawn from REST calls the UI makes with the JWT cookie it was handed
    open_ui_with_web_login(api.client, api.name, ui, DAG_ID, "/dags")


def test_the_ui_logs_in_triggers_the_example_and_shows_the_workers_log(api, docker_engine):
    use_the_ui(api, docker_engine)


def test_update_environment_applies_a_new_requirements_version(api):
    requirements = api.project.path / "requirements" / "requirements.txt"
    settings = (api.project.path / "mwaa-local.yaml").read_text()
    second = GOOD + "# second version\n"
    requirements.write_text(second)

    answer = api.client.update_environment(
        Name=api.name, RequirementsS3ObjectVersion=version_id(second)
    )
    updating = api.client.get_environment(Name=api.name)["Environment"]
    done = wait_for_status(api.client, api.name, "AVAILABLE")

    assert answer["Arn"] == updating["Arn"]
    assert updating["Status"] == "UPDATING"
    assert done["RequirementsS3ObjectVersion"] == version_id(second)
    assert done["LastUpdate"]["Status"] == "SUCCESS"
    assert done["LastUpdate"]["Source"] == "UpdateEnvironment"
    assert (api.project.path / "mwaa-local.yaml").read_text() == settings
    status = api.project.status()
    assert status["SettingsOverlay"]["Keys"] == ["RequirementsS3ObjectVersion"]
    assert status["PendingChanges"] == []


def test_a_broken_requirements_version_fails_and_the_old_one_keeps_serving(api):
    requirements = api.project.path / "requirements" / "requirements.txt"
    serving = api.client.get_environment(Name=api.name)["Environment"]
    requirements.write_text(BROKEN)

    started = aws(
        api.endpoint_url, "update-environment", "--name", api.name,
        "--requirements-s3-object-version", version_id(BROKEN),
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    failed = wait_for_status(api.client, api.name, "UPDATE_FAILED")

    assert failed["_seen"][0] == "UPDATING", failed["_seen"]
    assert failed["LastUpdate"]["Status"] == "FAILED"
    assert failed["LastUpdate"]["Error"]["ErrorCode"] == "REQUIREMENTS_INSTALL_FAILED"
    assert "mwaa-local-no-such-package-e2e" in failed["LastUpdate"]["Error"]["ErrorMessage"]
    assert failed["RequirementsS3ObjectVersion"] == serving["RequirementsS3ObjectVersion"]
    components = api.project.status()["Components"]
    assert all(c["Health"] in (None, "healthy") for c in components.values()), components
    answer = api.client.invoke_rest_api(Name=api.name, Path="/dags", Method="GET")
    assert answer["RestApiStatusCode"] == 200


def test_an_expired_cli_token_gets_403(api):
    waited = time.monotonic() - api.early_token_at
    if waited < TOKEN_SECONDS + 1:
        time.sleep(TOKEN_SECONDS + 1 - waited)

    status, _, stderr = post_cli(
        api.client.create_cli_token(Name=api.name)["WebServerHostname"],
        api.early_token,
        "version",
    )

    assert status == 403
    assert "expired" in stderr


@pytest.fixture(scope="module")
def api2(airflow2_image):
    project = make_project(f"e2e-api2-{os.getpid()}", airflow2_image.version, ApiPort=free_port())
    try:
        started = project.cli("start")
        assert started.returncode == 0, started.output
        yield Api(project, project.status()["Api"]["Endpoint"], started.stdout)
    finally:
        project.destroy()


def test_web_login_on_airflow_2(api2):
    # Airflow 2's FAB pages are drawn on the server: the DAG list holds the DAG's id
    ui = f"http://127.0.0.1:{api2.project.port}"
    open_ui_with_web_login(api2.client, api2.name, ui, DAG_ID, "/home")


def test_the_ui_on_airflow_2(api2, docker_engine):
    use_the_ui(api2, docker_engine)
