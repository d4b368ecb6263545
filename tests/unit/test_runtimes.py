"""Which runtime runs an environment (Local.Runtime, the recorded one, the first that works), and
the errors that say what to install or start, against engines answering on real sockets."""

import http.server
import json
import socket
import socketserver
import stat
import threading
from pathlib import Path

import docker
import pytest

from mwaa_local.errors import DockerUnavailableError, MwaaLocalError, SettingsError
from mwaa_local.runtime import podman as podman_module
from mwaa_local.runtime import select
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.host import HostRuntime
from mwaa_local.runtime.podman import PodmanRuntime, podman_client
from mwaa_local.runtime.state import StateDir
from mwaa_local.scaling.loop import scaled_stack
from mwaa_local.spec.settings import load_environment

# --- engines on unix sockets ----------------------------------------------------------------


class _Engine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve_engine(path: Path, name: str) -> _Engine:
    """An engine API answering ping and version as Docker ("Engine") or Podman ("Podman Engine")
    does, on the unix socket `path`."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.endswith("/_ping"):
                body, kind = b"OK", "text/plain"
            elif self.path.endswith("/version"):
                version = {"ApiVersion": "1.41", "Version": "4.3.1", "MinAPIVersion": "1.24"}
                body = json.dumps({**version, "Components": [{"Name": name}]}).encode()
                kind = "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def address_string(self) -> str:  # a unix socket has no client address
            return "unix"

        def log_message(self, *args) -> None:
            pass

    server = _Engine(str(path), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def engines(tmp_path):
    started = []

    def start(name: str, kind: str) -> str:
        path = tmp_path / f"{name}.sock"
        started.append(serve_engine(path, kind))
        return f"unix://{path}"

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def dead_socket(path: Path) -> str:
    """A socket file nothing listens on: what a stopped engine leaves behind."""
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    assert stat.S_ISSOCK(path.stat().st_mode)
    return f"unix://{path}"


@pytest.fixture
def machine(tmp_path, monkeypatch):
    """A machine with no engine at all: no docker or podman command, no engine sockets."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    for variable in ("DOCKER_HOST", "CONTAINER_HOST", "MWAA_LOCAL_RUNTIME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run-user"))
    monkeypatch.setattr(select, "DEFAULT_DOCKER_SOCKET", str(tmp_path / "docker.sock"))
    sockets = [f"unix://{tmp_path / 'run-user' / 'podman' / 'podman.sock'}"]
    monkeypatch.setattr(podman_module, "socket_candidates", lambda environ=None: list(sockets))
    return sockets


def environment(tmp_path, runtime: str | None = None):
    settings = {"Name": "rt"} | ({"Local": {"Runtime": runtime}} if runtime else {})
    (tmp_path / "mwaa-local.yaml").write_text(json.dumps(settings))
    return load_environment(tmp_path, environ={})


def fake_binary(folder: Path, name: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 1\n")
    path.chmod(0o755)


# --- the setting ------------------------------------------------------------------------------


def test_the_runtime_setting_takes_the_three_runtimes_and_names_them_when_wrong(tmp_path):
    assert environment(tmp_path, "podman").local.runtime == "podman"
    assert environment(tmp_path).local.runtime is None
    (tmp_path / "mwaa-local.yaml").write_text("Local:\n  Runtime: kubernetes\n")
    with pytest.raises(SettingsError) as caught:
        load_environment(tmp_path, environ={})
    assert "Local.Runtime: 'kubernetes'" in caught.value.message
    assert "docker, podman, host" in caught.value.message
    from_variable = load_environment(tmp_path / "x", environ={"MWAA_LOCAL_RUNTIME": "host"})
    assert from_variable.local.runtime == "host"


# --- the first that works ----------------------------------------------------------------------


def test_without_docker_or_podman_the_first_that_works_is_host_saying_why(tmp_path, machine):
    chosen = select.choose_runtime(environment(tmp_path))
    assert isinstance(chosen.runtime, HostRuntime)
    assert "docker: Docker is not installed" in chosen.why
    assert "podman: Podman is not installed" in chosen.why


def docker_default_socket_at(monkeypatch, url: str) -> None:
    """The engine at Docker's default socket is the one at `url`."""
    monkeypatch.setattr(select, "DEFAULT_DOCKER_SOCKET", url.removeprefix("unix://"))
    monkeypatch.setattr(
        select, "docker_client", lambda: docker.DockerClient(base_url=url, timeout=10)
    )


def test_docker_comes_first(tmp_path, machine, engines, monkeypatch):
    machine[0] = engines("podman", "Podman Engine")
    docker_default_socket_at(monkeypatch, engines("docker", "Engine"))
    chosen = select.choose_runtime(environment(tmp_path))
    assert type(chosen.runtime) is DockerRuntime and chosen.why == "the first that works"


def test_podman_comes_next_saying_why_not_docker(tmp_path, machine, engines, monkeypatch):
    machine[0] = engines("podman", "Podman Engine")
    fake_binary(tmp_path / "empty-bin", "docker")  # installed, its engine stopped
    monkeypatch.setattr(select, "docker_client", _stopped_docker)
    chosen = select.choose_runtime(environment(tmp_path))
    assert isinstance(chosen.runtime, PodmanRuntime)
    assert "docker: No Docker engine answers" in chosen.why


def _stopped_docker():
    raise DockerUnavailableError("No Docker engine answers at the default socket: refused")


def test_docker_host_names_the_engine_docker_or_podman(tmp_path, machine, engines, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engines("podman", "Podman Engine"))
    chosen = select.choose_runtime(environment(tmp_path))
    assert isinstance(chosen.runtime, PodmanRuntime) and chosen.why == "the engine at DOCKER_HOST"
    monkeypatch.setenv("DOCKER_HOST", engines("docker", "Engine"))
    chosen = select.choose_runtime(environment(tmp_path))
    assert type(chosen.runtime) is DockerRuntime


def test_a_docker_host_that_does_not_answer_is_an_error_not_passed_over(
    tmp_path, machine, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", dead_socket(tmp_path / "stopped.sock"))
    with pytest.raises(MwaaLocalError) as caught:
        select.choose_runtime(environment(tmp_path))
    assert "No Docker engine answers" in caught.value.message
    assert "Start Docker" in caught.value.hint


def test_the_runtime_an_environment_started_on_is_kept(tmp_path, machine):
    env = environment(tmp_path)
    select.record(StateDir.for_environment(tmp_path, "rt"), "podman")
    with pytest.raises(MwaaLocalError, match="Podman is not installed"):
        select.choose_runtime(env)  # not silently moved to another runtime
    chosen = select.choose_runtime(environment(tmp_path, "host"))  # the setting wins
    assert chosen.why == "Local.Runtime" and chosen.runtime.name == "host"


def test_start_refuses_to_move_a_running_environment_to_another_runtime(
    tmp_path, machine, monkeypatch
):
    class Running:
        name = "docker"

        def is_running(self) -> bool:
            return True

    monkeypatch.setitem(select.OPENERS, "docker", lambda environment: Running())
    select.record(StateDir.for_environment(tmp_path, "rt"), "docker")
    with pytest.raises(MwaaLocalError) as caught:
        select.runtime_for_start(environment(tmp_path, "host"))
    assert "running on docker" in caught.value.message
    assert "MWAA_LOCAL_RUNTIME=docker mwaa-local stop" in caught.value.hint
    assert select.recorded(StateDir.for_environment(tmp_path, "rt")) == "docker"


def test_start_records_the_runtime_it_chose(tmp_path, machine):
    chosen = select.runtime_for_start(environment(tmp_path, "host"))
    assert chosen.runtime.name == "host"
    assert select.recorded(StateDir.for_environment(tmp_path, "rt")) == "host"


# --- each runtime's own errors: what to install or start --------------------------------------


def test_docker_not_installed_names_what_to_install(tmp_path, machine):
    with pytest.raises(MwaaLocalError) as caught:
        select.open_docker(environment(tmp_path, "docker"))
    assert "Docker is not installed" in caught.value.message
    assert "apt-get install docker.io" in caught.value.hint
    assert "Local.Runtime: podman | host" in caught.value.hint


def test_docker_stopped_names_how_to_start_it(tmp_path, machine, monkeypatch):
    fake_binary(tmp_path / "empty-bin", "docker")
    monkeypatch.setenv("DOCKER_HOST", dead_socket(tmp_path / "docker-stopped.sock"))
    with pytest.raises(MwaaLocalError) as caught:
        select.open_docker(environment(tmp_path, "docker"))
    assert "No Docker engine answers" in caught.value.message
    assert "dockerd" in caught.value.hint and "podman | host" in caught.value.hint


def test_docker_runtime_on_a_podman_socket_says_to_choose_podman(
    tmp_path, machine, engines, monkeypatch
):
    monkeypatch.setenv("DOCKER_HOST", engines("podman", "Podman Engine"))
    with pytest.raises(MwaaLocalError) as caught:
        select.open_docker(environment(tmp_path, "docker"))
    assert "is Podman, not Docker" in caught.value.message
    assert "Local.Runtime: podman" in caught.value.hint


def test_podman_not_installed_names_what_to_install(tmp_path, machine):
    with pytest.raises(MwaaLocalError) as caught:
        podman_client()
    assert "Podman is not installed" in caught.value.message
    assert "apt-get install podman docker-compose" in caught.value.hint


def test_podman_without_its_socket_names_the_command_that_starts_it(tmp_path, machine):
    fake_binary(tmp_path / "empty-bin", "podman")  # installed; its socket is not running
    with pytest.raises(MwaaLocalError) as caught:
        podman_client()
    assert "Podman's API socket does not answer" in caught.value.message
    assert "podman system service --time=0" in caught.value.hint
    assert "podman.socket" in caught.value.hint and "podman machine start" in caught.value.hint


def test_podman_socket_left_by_a_stopped_service_is_named(tmp_path, machine):
    machine[0] = dead_socket(tmp_path / "podman.sock")
    with pytest.raises(MwaaLocalError) as caught:
        podman_client()
    assert str(tmp_path / "podman.sock") in caught.value.message
    assert "podman system service" in caught.value.hint


def test_a_docker_engine_is_not_taken_for_podman(tmp_path, machine, engines):
    machine[0] = engines("docker", "Engine")
    with pytest.raises(MwaaLocalError) as caught:
        podman_client()
    assert "a Docker engine, not Podman" in caught.value.message


def test_podman_without_the_compose_tool_names_it(tmp_path, machine, engines, monkeypatch):
    from mwaa_local.runtime import compose

    compose.compose_tool.cache_clear()
    try:
        with pytest.raises(MwaaLocalError) as caught:
            podman_module.podman_compose_tool()
    finally:
        compose.compose_tool.cache_clear()
    assert "docker-compose" in caught.value.message
    assert "apt-get install docker-compose" in caught.value.hint


def test_host_without_uv_names_what_to_install(tmp_path, machine, monkeypatch):
    from mwaa_local.runtime import host_venv

    monkeypatch.setattr(host_venv, "find_uv", lambda: None)
    with pytest.raises(MwaaLocalError) as caught:
        select.open_host(environment(tmp_path, "host"))
    assert "needs uv" in caught.value.message and "pip install uv" in caught.value.hint


def test_rootful_podman_that_cannot_raise_limits_says_what_to_configure():
    error = MwaaLocalError(
        "`up --detach` failed for x: Error: runc: runc create failed: unable to start container "
        "process: error during container init: error setting rlimits for ready process: error "
        "setting rlimit type 7: operation not permitted: OCI permission denied"
    )
    explained = PodmanRuntime._explained(error)
    assert explained.message == error.message
    assert "default_ulimits" in explained.hint and "containers.conf" in explained.hint


def test_podman_compose_calls_go_to_podmans_socket(tmp_path, monkeypatch):
    from mwaa_local.runtime import compose, stack

    tool = compose.ComposeTool(("docker-compose",), "1.29.2")
    monkeypatch.setattr(stack, "compose_tool", lambda: tool)
    runtime = PodmanRuntime(environment(tmp_path), None, "unix:///run/podman/podman.sock")
    command = runtime.compose_command("ps")
    assert command[:3] == ["env", "DOCKER_HOST=unix:///run/podman/podman.sock", "docker-compose"]
    assert command[-1] == "ps"


def test_podman_exec_with_the_docker_cli_goes_to_podmans_socket(tmp_path, monkeypatch):
    """`mwaa-local airflow`/`shell` use the docker CLI where it is installed: under podman it
    must name Podman's socket, or it would look for the container in Docker."""
    from types import SimpleNamespace

    from mwaa_local.runtime import stack

    runs = []
    monkeypatch.setattr(stack.shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setattr(stack.subprocess, "run", lambda command: runs.append(command) or
                        SimpleNamespace(returncode=0))  # fmt: skip
    runtime = PodmanRuntime(environment(tmp_path), None, "unix:///run/podman/podman.sock")
    monkeypatch.setattr(runtime, "check_owner", lambda: None)
    monkeypatch.setattr(runtime, "container_for", lambda service: SimpleNamespace(id="c1"))
    assert runtime.exec_in("scheduler", ["airflow", "version"]) == 0
    assert runs[0][:4] == ["env", "DOCKER_HOST=unix:///run/podman/podman.sock", "/usr/bin/docker",
                           "exec"]  # fmt: skip
    assert "c1" in runs[0]


def test_a_podman_container_without_a_health_check_is_ready_when_running(tmp_path, monkeypatch):
    from mwaa_local.runtime.stack import ServiceState, Stack

    metrics = ServiceState("metrics", "c", "running", "", 0, 0)  # Podman's health: ""
    assert not metrics.ready
    monkeypatch.setattr(Stack, "states", lambda self: {"metrics": metrics})
    runtime = PodmanRuntime(environment(tmp_path), None, "unix:///run/podman/podman.sock")
    runtime._ticking.set()  # no health checks to run
    assert runtime.states()["metrics"].ready


def test_podman_health_check_times_are_read_to_the_microsecond():
    attrs = {"State": {"Health": {"Log": [{"End": "2026-11-26T14:04:00.349988121Z"}]}}}
    finished = podman_module._finished_at(attrs)
    assert finished is not None and finished.microsecond == 349988
    assert podman_module._finished_at({"State": {"Health": {"Log": None}}}) is None


def test_socket_candidates_put_the_users_own_first(monkeypatch):
    monkeypatch.setattr(podman_module, "machine_sockets", lambda: [])
    found = podman_module.socket_candidates(
        {"CONTAINER_HOST": "unix:///x.sock", "XDG_RUNTIME_DIR": "/run/user/1000"}
    )
    assert found == [
        "unix:///x.sock",
        "unix:///run/user/1000/podman/podman.sock",
        "unix:///run/podman/podman.sock",
    ]


def test_the_autoscaler_drives_the_engine_the_environment_runs_on(tmp_path, machine, engines):
    """An environment started on Podman scales its workers on Podman's socket, not on a Docker
    engine (here there is none)."""
    machine[0] = engines("podman", "Podman Engine")
    select.record(StateDir.for_environment(tmp_path, "rt"), "podman")
    stack = scaled_stack(environment(tmp_path))
    assert isinstance(stack, PodmanRuntime) and stack.url == machine[0]
