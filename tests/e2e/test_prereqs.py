import json
import socket

import pytest

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_validate_prereqs_against_the_real_engine(docker_engine, tmp_path):
    port = free_port()
    result = run_cli(
        "--project-dir",
        str(tmp_path),
        "validate-prereqs",
        "--json",
        env={"MWAA_LOCAL_WEBSERVER_PORT": str(port), "MWAA_LOCAL_BIND_ADDRESS": "127.0.0.1"},
        timeout=120,
    )
    assert "Traceback" not in result.output
    assert result.stdout.startswith("["), result.output
    checks = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(checks) == ["docker engine", "compose", f"port {port}", "disk", "memory"]
    assert checks["docker engine"]["ok"], checks["docker engine"]
    assert checks["compose"]["ok"], checks["compose"]
    assert result.returncode == 0, result.output
