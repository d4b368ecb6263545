import functools
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwaa_local.cli.commands_prereqs import validate_prereqs_command
from mwaa_local.cli.commands_settings import Project
from mwaa_local.errors import DockerUnavailableError
from mwaa_local.prereqs import checks as prereqs
from mwaa_local.prereqs.checks import GIB, Check, port_free, run_checks
from mwaa_local.runtime.compose import ComposeTool
from mwaa_local.spec.settings import Environment, LocalSettings


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds for the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture(autouse=True)
def compose_found(monkeypatch):
    """Keep the compose check off the machine's PATH; it has its own test below."""
    monkeypatch.setattr(
        prereqs, "compose_tool", lambda: ComposeTool(("docker", "compose"), "2.29.1")
    )


class FakeClient:
    def __init__(self, mem_total: int = 16 * GIB, root: str = "/nonexistent/docker") -> None:
        self.mem_total = mem_total
        self.root = root

    def version(self) -> dict:
        return {"Version": "27.3.1"}

    def info(self) -> dict:
        return {"Driver": "overlay2", "DockerRootDir": self.root, "MemTotal": self.mem_total}


def no_engine() -> None:
    raise DockerUnavailableError("No Docker engine answers at here", hint="Start Docker.")


def environment(tmp_path: Path, port: int = 1) -> Environment:
    return Environment(project_dir=tmp_path, local=LocalSettings(webserver_port=port))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name.split()[0]: check for check in checks}


def test_port_free_detects_a_listening_socket_and_its_release():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_free("127.0.0.1", port)
    assert port_free("127.0.0.1", port)


def test_no_engine_fails_engine_checks_without_raising(tmp_path, held_port):
    checks = by_name(run_checks(environment(tmp_path, held_port), client_factory=no_engine))
    assert not checks["docker"].ok
    assert "No Docker engine answers" in checks["docker"].detail
    assert checks["docker"].hint == "Start Docker."
    for name in ("disk", "memory"):
        assert not checks[name].ok and not checks[name].ran  # not checked: not a pass
        assert checks[name].detail == "skipped: no Docker engine"
    assert checks["compose"].ok and checks["compose"].ran


def test_engine_detail_names_version_and_storage_driver(tmp_path):
    checks = by_name(run_checks(environment(tmp_path), client_factory=FakeClient))
    assert checks["docker"].ok
    assert "27.3.1" in checks["docker"].detail and "overlay2" in checks["docker"].detail


@pytest.mark.parametrize(("gib", "ok"), [(2, False), (4, True), (16, True)])
def test_memory_threshold(tmp_path, gib, ok):
    client = FakeClient(mem_total=gib * GIB)
    memory = by_name(run_checks(environment(tmp_path), client_factory=lambda: client))["memory"]
    assert memory.ok is ok
    assert f"{gib}.0 GiB" in memory.detail
    assert (memory.hint is None) is ok


@pytest.mark.parametrize(("free_gib", "ok"), [(3, False), (10, True), (200, True)])
def test_disk_threshold_falls_back_to_the_project_dir(tmp_path, monkeypatch, free_gib, ok):
    measured = []

    def disk_usage(path):
        measured.append(Path(path))
        return type("Usage", (), {"free": free_gib * GIB})()

    monkeypatch.setattr(prereqs.shutil, "disk_usage", disk_usage)
    disk = by_name(run_checks(environment(tmp_path), client_factory=FakeClient))["disk"]
    assert disk.ok is ok
    assert measured == [tmp_path.resolve()]
    assert "/nonexistent/docker is not visible here" in disk.detail
    if not ok:
        assert "20 GB" in disk.hint


def test_disk_uses_the_docker_root_when_visible(tmp_path):
    root = tmp_path / "docker-root"
    root.mkdir()
    client = FakeClient(root=str(root))
    disk = by_name(run_checks(environment(tmp_path), client_factory=lambda: client))["disk"]
    assert f"free at {root};" in disk.detail


def test_busy_port_names_the_setting(tmp_path, held_port):
    port = by_name(run_checks(environment(tmp_path, held_port), client_factory=FakeClient))["port"]
    assert not port.ok
    assert port.name == f"port {held_port}"
    assert port.detail == f"127.0.0.1:{held_port} is in use"
    assert "Local.WebserverPort" in port.hint and "MWAA_LOCAL_WEBSERVER_PORT" in port.hint


def test_port_held_by_our_own_stack_is_ok(tmp_path, held_port):
    checks = run_checks(
        environment(tmp_path, held_port), client_factory=FakeClient, own_ports={held_port}
    )
    port = by_name(checks)["port"]
    assert port.ok
    assert "used by this environment" in port.detail


def test_compose_missing_is_reported(tmp_path, monkeypatch):
    def missing():
        raise prereqs.MwaaLocalError("Neither compose", hint="Install it.")

    monkeypatch.setattr(prereqs, "compose_tool", missing)
    compose = by_name(run_checks(environment(tmp_path), client_factory=FakeClient))["compose"]
    assert not compose.ok and compose.hint == "Install it."


def test_compose_detail_names_tool_and_generation(tmp_path, monkeypatch):
    monkeypatch.setattr(prereqs, "compose_tool", lambda: ComposeTool(("docker-compose",), "1.29.2"))
    compose = by_name(run_checks(environment(tmp_path), client_factory=FakeClient))["compose"]
    assert compose.ok and compose.detail == "`docker-compose` 1.29.2 (v1)"


@pytest.fixture
def fake_engine(monkeypatch):
    """The command's checks against FakeClient, so the CLI tests need no Docker."""
    monkeypatch.setattr(
        "mwaa_local.cli.commands_prereqs.run_checks",
        functools.partial(run_checks, client_factory=FakeClient),
    )


def invoke_cli(tmp_path: Path, port: int, *args: str):
    return CliRunner().invoke(
        validate_prereqs_command,
        list(args),
        obj=Project(tmp_path, None),
        env={"MWAA_LOCAL_WEBSERVER_PORT": str(port), "MWAA_LOCAL_BIND_ADDRESS": None},
    )


def test_cli_exits_1_and_names_the_busy_port(tmp_path, held_port, fake_engine):
    result = invoke_cli(tmp_path, held_port)
    assert result.exit_code == 1, result.output
    assert f"127.0.0.1:{held_port} is in use" in result.output
    assert "MISSING" in result.output
    assert "MWAA_LOCAL_WEBSERVER_PORT" in result.output
    assert result.stderr.splitlines()[-1] == f"Missing: port {held_port}"
    assert "Traceback" not in result.output


def test_cli_json_parses(tmp_path, held_port, fake_engine):
    result = invoke_cli(tmp_path, held_port, "--json")
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [set(row) for row in rows] == [{"name", "ok", "detail", "hint", "ran"}] * len(rows)
    assert [row["name"] for row in rows if not row["ok"]] == [f"port {held_port}"]
    assert "Missing:" in result.stderr


def test_cli_all_ok_exits_0(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "mwaa_local.cli.commands_prereqs.run_checks",
        lambda environment: [Check("docker engine", True, "Docker 27.3.1")],
    )
    result = invoke_cli(tmp_path, 8080)
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "Missing" not in result.output


def test_address_not_on_this_machine_names_the_bind_setting():
    # 192.0.2.0/24 is reserved for documentation, so no interface here holds it.
    port = prereqs.check_port("192.0.2.1", 8080)
    assert not port.ok
    assert port.detail.startswith("192.0.2.1:8080 cannot be bound")
    assert "MWAA_LOCAL_BIND_ADDRESS" in port.hint


def test_port_with_only_time_wait_connections_is_free():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    assert not port_free("127.0.0.1", port)
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server side closes first, so its end lingers in TIME_WAIT
    client.close()
    server.close()
    assert port_free("127.0.0.1", port)


def test_cli_says_not_checked_for_what_it_could_not_check(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "mwaa_local.cli.commands_prereqs.run_checks",
        functools.partial(run_checks, client_factory=no_engine),
    )
    result = invoke_cli(tmp_path, 1)
    assert result.exit_code == 1, result.output
    for name in ("disk", "memory"):
        [row] = [line for line in result.stdout.splitlines() if f" {name} " in line]
        assert "NOT CHECKED" in row and "MISSING" not in row
    assert "(not checked without an engine: disk, memory)" in result.stderr
