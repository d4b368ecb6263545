"""The MWAA API as a detached process: started, found, reached with boto3, stopped; it holds no
AWS credentials and exits when its project's state folder goes. No Docker engine is needed:
ListEnvironments reads only the settings."""

import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest
import yaml

from mwaa_local.api.process import ensure_api, running_api, state_file, stop_api
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import load_environment
from tests.unit.api_fakes import ACCESS_KEY, REGION


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def environment(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MWAA_LOCAL_WEBSERVER_PORT", raising=False)
    monkeypatch.delenv("MWAA_LOCAL_API_PORT", raising=False)
    settings = {"Name": "ProcEnv", "Local": {"WebserverPort": free_port(), "ApiPort": free_port()}}
    (tmp_path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    env = load_environment(tmp_path)
    yield env
    stop_api(env)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_start_reach_and_stop_the_detached_api(environment, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUSERSREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "users-real-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")

    started, fresh = ensure_api(environment)
    again, fresh_again = ensure_api(environment)

    assert fresh and not fresh_again and again == started
    assert started.port == environment.local.api_port
    assert running_api(environment) == started
    variables = Path(f"/proc/{started.pid}/environ").read_bytes().split(b"\0")
    secrets = (b"AWS_ACCESS_KEY_ID=", b"AWS_SECRET_ACCESS_KEY=")
    assert not any(v.startswith(secrets) for v in variables)
    assert b"AWS_DEFAULT_REGION=eu-central-1" in variables

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "mwaa",
        region_name=REGION,
        endpoint_url=started.endpoint_url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key="local-secret",
        config=Config(inject_host_prefix=False, retries={"total_max_attempts": 1}),
    )
    assert client.list_environments()["Environments"] == ["ProcEnv"]

    assert stop_api(environment) == started
    assert not alive(started.pid)
    assert not state_file(environment).exists()
    assert running_api(environment) is None


def test_the_api_exits_when_its_state_folder_is_removed(environment):
    started, _ = ensure_api(environment)

    shutil.rmtree(state_file(environment).parent)

    deadline = time.monotonic() + 10
    while alive(started.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(started.pid)


def test_a_port_in_use_is_named_with_the_setting_to_change(environment):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", environment.local.api_port))
        taken.listen()
        with pytest.raises(MwaaLocalError) as caught:
            ensure_api(environment)

    assert f"Port {environment.local.api_port}" in caught.value.message
    assert "Local.ApiPort" in caught.value.hint


def test_start_starts_it_again_when_it_died(environment):
    first, _ = ensure_api(environment)
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while running_api(environment) is not None and time.monotonic() < deadline:
        time.sleep(0.05)

    second, fresh = ensure_api(environment)

    assert fresh and second.pid != first.pid and second.port == first.port
    assert running_api(environment) == second
