"""POST /aws_mwaa/cli with a token from boto3's create_cli_token, as MWAA's documented client
code calls it; and the web login token exchange."""

import http.client
import threading
import urllib.parse

import pytest

from mwaa_local.api.backend import CliResult
from mwaa_local.api.cli_endpoint import EXIT_CODE_HEADER
from mwaa_local.api.server import ApiServer
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.cli_commands import SUPPORTED, refusal
from tests.unit.api_fakes import (
    post,
    run_cli,
)


def test_a_supported_command_runs_with_its_arguments_split_not_shelled(
    mwaa, api_server, api_backend
):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]

    status, stdout, stderr, headers = run_cli(
        api_server, token, """dags trigger my_dag -c '{"k": "a b"}' ; rm -rf /"""
    )

    assert status == 200
    assert api_backend.cli_calls == [
        ("MyAirflow3", ["dags", "trigger", "my_dag", "-c", '{"k": "a b"}', ";", "rm", "-rf", "/"])
    ]
    assert stdout.startswith('["dags", "trigger"')
    assert stderr == ""
    assert headers[EXIT_CODE_HEADER] == "0"


def test_the_trailing_slash_path_and_token_reuse_within_its_minute(mwaa, api_server, api_clock):
    token = mwaa.create_cli_token(Name="MyAirflow2")["CliToken"]

    api_clock.now += 30
    first = run_cli(api_server, token, "version", path="/aws_mwaa/cli/")
    api_clock.now += 29
    second = run_cli(api_server, token, "variables list")

    assert first[0] == second[0] == 200


def test_a_failing_command_answers_its_output_and_exit_code(mwaa, api_server, api_backend):
    api_backend.cli_handler = lambda argv: CliResult(1, b"", b"Variable k does not exist\n")
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]

    status, stdout, stderr, headers = run_cli(api_server, token, "variables get k")

    assert (status, stdout, stderr) == (200, "", "Variable k does not exist\n")
    assert headers[EXIT_CODE_HEADER] == "1"


def test_an_expired_token_is_refused_with_403(mwaa, api_server, api_clock, api_backend):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]
    api_clock.now += 60

    status, stdout, stderr, _ = run_cli(api_server, token, "dags list")

    assert status == 403
    assert "expired" in stderr
    assert api_backend.cli_calls == []


def test_an_unknown_or_missing_token_is_refused_with_403(api_server, api_backend):
    assert run_cli(api_server, "made-up", "dags list")[0] == 403
    status, _, _ = post(f"http://{api_server.address}/aws_mwaa/cli", b"dags list")
    assert status == 403
    assert api_backend.cli_calls == []


def test_a_web_login_token_is_not_a_cli_token(mwaa, api_server):
    web_token = mwaa.create_web_login_token(Name="MyAirflow3")["WebToken"]

    assert run_cli(api_server, web_token, "dags list")[0] == 403


@pytest.mark.parametrize(
    ("environment", "command", "named"),
    [
        ("MyAirflow3", "pools import pools.json", "pools import"),
        ("MyAirflow3", "users create -u x", "users create"),
        ("MyAirflow3", "tasks run my_dag t1 now", "tasks run"),  # gone in Airflow 3
        ("MyAirflow2", "assets list", "assets list"),  # Airflow 3 only
        ("MyAirflow3", "db reset -y", "db reset"),
        ("MyAirflow3", "airflow dags list", "airflow dags"),
    ],
)
def test_an_unsupported_command_is_refused_as_mwaa_refuses_it(
    mwaa, api_server, api_backend, environment, command, named
):
    token = mwaa.create_cli_token(Name=environment)["CliToken"]

    status, stdout, stderr, _ = run_cli(api_server, token, command)

    assert status == 500
    assert stdout == ""
    assert f"`airflow {named}` is not an Airflow CLI command MWAA runs" in stderr
    assert api_backend.cli_calls == []


def test_a_leading_airflow_gets_a_hint(mwaa, api_server):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]

    assert "without the leading `airflow`" in run_cli(api_server, token, "airflow dags list")[2]


def test_unbalanced_quotes_are_a_400(mwaa, api_server, api_backend):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]

    status, _, stderr, _ = run_cli(api_server, token, "variables set k 'unterminated")

    assert status == 400
    assert "cannot be read" in stderr
    assert api_backend.cli_calls == []


def test_a_fifth_concurrent_command_gets_503(mwaa, api_server, api_backend):
    running = threading.Semaphore(0)
    release = threading.Event()

    def slow(argv):
        running.release()
        release.wait(10)
        return CliResult(0, b"done\n", b"")

    api_backend.cli_handler = slow
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(run_cli(api_server, token, "dags list")[0]))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(4):
            assert running.acquire(timeout=5)

        status, _, stderr, _ = run_cli(api_server, token, "dags list")

        assert status == 503
        assert "4 CLI commands are running" in stderr
    finally:
        release.set()
        for thread in threads:
            thread.join(5)
    assert answers == [200, 200, 200, 200]
    assert run_cli(api_server, token, "dags list")[0] == 200  # the slots are free again


def test_the_allow_list_per_major_version():
    assert refusal(["dags", "trigger", "x"], "3.0.6") is None
    assert refusal(["version"], "2.9.2") is None
    assert refusal(["backfill", "create", "--dag-id", "x"], "3.3.1") is None
    assert refusal(["dags", "backfill", "x"], "2.11.0") is None
    assert refusal(["dags", "backfill", "x"], "3.0.6") is not None
    assert refusal(["dags", "show", "x", "--save", "x.png"], "2.10.3") is not None
    assert refusal(["dags", "test", "x", "--save-dagrun=out.dot"], "3.0.6") is not None
    assert refusal([], "3.0.6") is not None
    assert SUPPORTED[3] - SUPPORTED[2] == {
        "assets details",
        "assets list",
        "assets materialize",
        "backfill create",
    }


def _form_post(api_server, token: str):
    connection = http.client.HTTPConnection(api_server.address, timeout=5)
    body = urllib.parse.urlencode({"token": token})
    connection.request(
        "POST",
        "/aws_mwaa/aws-console-sso",
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    answer = connection.getresponse()
    answer.read()
    return answer.status, answer.getheader("Location"), answer.headers.get_all("Set-Cookie") or []


def test_the_web_login_page_reads_the_fragment_and_posts_it_back(api_server):
    connection = http.client.HTTPConnection(api_server.address, timeout=5)
    connection.request("GET", "/aws_mwaa/aws-console-sso?login=true")
    answer = connection.getresponse()
    page = answer.read().decode()

    assert answer.status == 200
    assert "location.hash" in page
    assert 'method="post" action="/aws_mwaa/aws-console-sso"' in page
    assert "script-src 'sha256-" in answer.getheader("Content-Security-Policy")


def test_a_web_login_token_logs_in_once(mwaa, api_server, api_clock):
    token = mwaa.create_web_login_token(Name="MyAirflow3")["WebToken"]

    status, location, cookies = _form_post(api_server, token)

    assert (status, location) == (303, "http://127.0.0.1:8080/home")
    assert cookies == ["session=signed-in-as-admin; HttpOnly; Path=/; SameSite=Lax"]
    assert _form_post(api_server, token)[0] == 403  # single use


def test_an_expired_web_login_token_is_refused(mwaa, api_server, api_clock):
    token = mwaa.create_web_login_token(Name="MyAirflow3")["WebToken"]
    api_clock.now += 61

    status, location, cookies = _form_post(api_server, token)

    assert (status, location, cookies) == (403, None, [])


def test_an_empty_command_is_a_400(mwaa, api_server, api_backend):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]

    status, _, stderr, _ = run_cli(api_server, token, "  ")

    assert status == 400
    assert "No command was sent" in stderr


def test_a_chunked_body_is_read_whole(mwaa, api_server, api_backend):
    token = mwaa.create_cli_token(Name="MyAirflow3")["CliToken"]
    connection = http.client.HTTPConnection(api_server.address, timeout=5)

    connection.request(
        "POST",
        "/aws_mwaa/cli",
        body=iter([b"dags ", b"list-runs -d ", b"my_dag"]),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/plain"},
        encode_chunked=True,
    )
    answer = connection.getresponse()
    answer.read()

    assert answer.status == 200
    assert api_backend.cli_calls == [("MyAirflow3", ["dags", "list-runs", "-d", "my_dag"])]


def test_a_port_in_use_is_a_clear_error(api_server, api_backend):
    with pytest.raises(MwaaLocalError, match=f"Port {api_server.port} on 127.0.0.1 is in use"):
        ApiServer(api_backend, port=api_server.port)
