"""The AWS CLI (awscli from PyPI) against the local endpoint, as a user would run it."""

import datetime
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

from mwaa_local.api.server import ApiServer
from tests.aws_cli import run_aws


def aws(api_server: ApiServer, *args: str) -> subprocess.CompletedProcess:
    return run_aws(
        "mwaa", *args, endpoint_url=api_server.endpoint_url, host_prefix=False, timeout=60
    )


def test_the_aws_cli_lists_gets_creates_tokens_and_reads_errors(api_server):
    calls = [
        ("list-environments", "--page-size", "1"),
        ("get-environment", "--name", "MyAirflow2"),
        ("create-cli-token", "--name", "MyAirflow2"),
        ("get-environment", "--name", "Nope"),
    ]
    with ThreadPoolExecutor(len(calls)) as pool:  # each CLI start costs most of a second
        listed, got, token, missing = pool.map(lambda args: aws(api_server, *args), calls)

    assert listed.returncode == 0, listed.stderr
    # --page-size 1: the CLI followed NextToken through both pages.
    assert json.loads(listed.stdout) == {"Environments": ["MyAirflow2", "MyAirflow3"]}
    assert got.returncode == 0, got.stderr
    env = json.loads(got.stdout)["Environment"]
    assert (env["Name"], env["AirflowVersion"]) == ("MyAirflow2", "2.10.3")
    # AWS CLI v1 prints timestamps as they travel (cli_timestamp_format "none"): epoch seconds.
    assert (
        env["CreatedAt"] == datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC).timestamp()
    )
    assert json.loads(token.stdout)["WebServerHostname"] == api_server.address
    assert missing.returncode != 0
    assert "(ResourceNotFoundException) when calling the GetEnvironment operation" in missing.stderr
