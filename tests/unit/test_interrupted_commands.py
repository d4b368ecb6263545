"""A command that was interrupted or killed leaves its name in the lock file, and the next one says
what it found; `status` with no engine says UNAVAILABLE (issue 17, item 1)."""

import errno
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mwaa_local.cli.main import cli
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime import state
from mwaa_local.runtime.state import StateDir

HOLDER = """
import sys, time
from pathlib import Path
from mwaa_local.runtime.state import StateDir
with StateDir(Path(sys.argv[1])).lock("start"):
    print("holding", flush=True)
    if sys.argv[2] == "interrupt":
        raise KeyboardInterrupt
    if sys.argv[2] == "fail":
        raise RuntimeError("failed")
    time.sleep(60)
"""


def hold(folder: Path, how: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder), how],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_a_killed_holder_is_named_to_the_next_command(tmp_path):
    holder = hold(tmp_path, "sleep")
    assert holder.stdout.readline().strip() == "holding"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with StateDir(tmp_path).lock("start", 5) as left:
        assert left is not None and (left.command, left.pid) == ("start", holder.pid)
    with StateDir(tmp_path).lock("stop", 5) as left:
        assert left is None  # the one above finished


@pytest.mark.parametrize(("how", "left_behind"), [("interrupt", True), ("fail", False)])
def test_ctrl_c_leaves_the_holder_and_an_error_clears_it(tmp_path, how, left_behind):
    holder = hold(tmp_path, how)
    assert holder.wait(30) != 0
    with StateDir(tmp_path).lock("start", 5) as left:
        assert (left is not None and left.pid == holder.pid) is left_behind


def test_the_next_command_says_what_the_interrupted_one_left(tmp_path):
    (tmp_path / "mwaa-local.yaml").write_text(yaml.safe_dump({"Name": "env"}))
    state = tmp_path / ".mwaa-local" / "env"
    state.mkdir(parents=True)
    left = {"command": "start", "pid": 4242, "since": "2025-01-01T00:00:00+00:00"}
    (state / "command.lock").write_text(json.dumps(left))
    result = CliRunner().invoke(
        cli,
        ["--project-dir", str(tmp_path), "stop"],
        env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
    )
    assert result.exit_code == 1  # no engine: stop fails, after saying what it found
    assert (
        "Found what `mwaa-local start` (pid 4242, since 2025-01-01T00:00:00+00:00) left: it was "
        "interrupted before it finished. `mwaa-local stop` carries on from there."
    ) in " ".join(result.output.split())
    assert (state / "command.lock").read_text() == ""  # stop ended with an error: cleared


@pytest.mark.parametrize("as_json", [False, True])
def test_status_without_an_engine_says_unavailable_and_why(tmp_path, as_json):
    (tmp_path / "mwaa-local.yaml").write_text(yaml.safe_dump({"Name": "env"}))
    args = ["--project-dir", str(tmp_path), "status", *(["--json"] if as_json else [])]
    result = CliRunner().invoke(cli, args, env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    if as_json:
        shown = json.loads(result.stdout)
        assert shown["Status"] == "UNAVAILABLE" and shown["Name"] == "env"
        assert "No Docker engine answers" in shown["Engine"]
    else:
        assert result.stdout.splitlines()[0] == "Environment env: UNAVAILABLE"
        assert "No Docker engine answers" in result.stdout and "Start Docker" in result.stdout


def test_a_full_disk_while_taking_the_lock_names_the_lock_file(tmp_path, monkeypatch):
    real_open = Path.open

    class Full:
        def __init__(self, file):
            self.file = file

        def __getattr__(self, name):
            return getattr(self.file, name)

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.file.close()

        def flush(self):
            raise OSError(errno.ENOSPC, "No space left on device")

    def full_open(path, *args, **kwargs):
        return Full(real_open(path, *args, **kwargs))

    monkeypatch.setattr(state.Path, "open", full_open)
    with pytest.raises(MwaaLocalError) as e, StateDir(tmp_path).lock("start", 1):
        pass
    assert str(tmp_path / "command.lock") in e.value.message and "free there" in e.value.message
