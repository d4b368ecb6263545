"""`mwaa-local airflow ...` on a running docker stack goes straight to `docker exec` in a
scheduler (runtime/direct_exec.py), and anything out of the ordinary is left to the full path.

A `docker` on PATH that records its calls stands in for the engine's CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mwaa_local.runtime import direct_exec
from mwaa_local.runtime.compose_project import owner_token
from mwaa_local.runtime.select import record
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import load_environment

FAKE_DOCKER = """#!/bin/sh
printf '%s\\n' "$*" >> "{calls}"
case "$1" in
  ps) cat "{listing}" ;;
  exec) exit 7 ;;
esac
"""


@pytest.fixture
def docker(tmp_path, monkeypatch):
    """A fake docker CLI first on PATH; returns (its calls file, its `ps` listing file)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    calls, listing = tmp_path / "calls", tmp_path / "listing"
    listing.write_text("")
    script = folder / "docker"
    script.write_text(FAKE_DOCKER.format(calls=calls, listing=listing))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return calls, listing


def project(tmp_path: Path, runtime: str = "docker", **settings: str) -> str:
    """A project that last started on `runtime`; its owner token."""
    (tmp_path / "mwaa-local.yaml").write_text(json.dumps({"Name": "Direct", **settings}))
    state = StateDir.for_environment(tmp_path, "Direct")
    record(state, runtime)
    return owner_token(state.secrets().postgres_password)


def listing(rows: list[tuple[str, str, str, str]]) -> str:
    return "".join("\t".join(row) + "\n" for row in rows)


def calls_of(calls: Path) -> list[str]:
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_airflow_command_execs_in_the_running_scheduler_without_the_engine_sdk(
    tmp_path, docker
):
    calls, ps = docker
    ours = project(tmp_path)
    ps.write_text(
        listing(
            [
                ("aaa", "exited", "migrate-db", ours),
                ("bbb", "running", "scheduler", ours),
                ("ccc", "running", "metrics", ""),
                ("ddd", "running", "postgres", ours),
            ]
        )
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mwaa_local.cli"]
        + ["--project-dir", str(tmp_path), "airflow", "dags", "list"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 7, done.stderr  # the command's own exit code
    ps_call, exec_call = calls_of(calls)
    assert ps_call.startswith("ps --all --no-trunc --filter ")
    assert "label=com.docker.compose.project=direct " in ps_call
    assert exec_call.startswith("exec --interactive bbb bash -c ")
    assert exec_call.endswith("python -m mwaa_local.container.airflow_cli dags list")
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()}
    assert "mwaa_local.runtime.direct_exec" in imported
    assert not {"docker", "mwaa_local.runtime.stack", "mwaa_local.cli.commands_stack"} & imported


def test_on_mw1_micro_the_command_runs_in_the_hybrid_container(tmp_path, docker):
    calls, ps = docker
    ours = project(tmp_path, EnvironmentClass="mw1.micro")
    rows = [("hhh", "running", "hybrid", ours), ("aaa", "running", "api-server", ours)]
    ps.write_text(listing(rows))
    environment = load_environment(tmp_path, environ={})
    assert direct_exec.exec_airflow(environment, ("version",)) == 7
    assert calls_of(calls)[1].startswith("exec --interactive hhh ")


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([("bbb", "exited", "scheduler", "{ours}")], id="no-running-scheduler"),
        pytest.param(
            [("bbb", "running", "scheduler", "{ours}"), ("ccc", "running", "redis", "other")],
            id="a-container-of-another-environment",
        ),
        pytest.param(
            [("bbb", "running", "scheduler", "{ours}"), ("ddd", "running", "postgres", "")],
            id="a-postgres-without-labels",
        ),
        pytest.param([], id="no-containers"),
    ],
)
def test_a_stack_out_of_the_ordinary_is_left_to_the_full_path(tmp_path, docker, rows):
    calls, ps = docker
    ours = project(tmp_path)
    ps.write_text(listing([tuple(v.format(ours=ours) for v in row) for row in rows]))
    environment = load_environment(tmp_path, environ={})
    assert direct_exec.exec_airflow(environment, ("version",)) is None
    assert [call.split()[0] for call in calls_of(calls)] == ["ps"]


def test_another_runtime_or_a_project_that_never_started_is_left_to_the_full_path(tmp_path, docker):
    calls, _ = docker
    (tmp_path / "mwaa-local.yaml").write_text(json.dumps({"Name": "Direct"}))
    assert direct_exec.exec_airflow(load_environment(tmp_path, environ={}), ("version",)) is None
    project(tmp_path, runtime="host")
    assert direct_exec.exec_airflow(load_environment(tmp_path, environ={}), ("version",)) is None
    assert calls_of(calls) == []
