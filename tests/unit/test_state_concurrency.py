"""State that survives two terminals and a kill -9 (issue 17): many processes against the state
functions at once, and a kill in the middle of a write."""

import errno
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mwaa_local.bucket.source import BucketObject
from mwaa_local.bucket.versions import VersionStore
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.update import JOURNAL_DIR, finish_interrupted_update
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime import state
from mwaa_local.runtime.state import StateDir, atomic_write

PROCESSES = 6


def _first_use(path: str) -> str:
    return StateDir(Path(path)).secrets().fernet_key


def test_concurrent_first_uses_agree_on_one_set_of_secrets(tmp_path):
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        for trial in range(20):
            folder = tmp_path / f"trial-{trial}" / ".mwaa-local" / "env"
            keys = pool.map(_first_use, [str(folder)] * PROCESSES)
            assert len(set(keys)) == 1, f"trial {trial}: {len(set(keys))} different fernet keys"
            assert oct((folder / "secrets.json").stat().st_mode & 0o777) == "0o600"


WRITER = """
import sys
from pathlib import Path
from mwaa_local.runtime.state import atomic_write
path, i = Path(sys.argv[1]), 0
print("ready", flush=True)
while True:
    i += 1
    atomic_write(path, '{"n": %d, "pad": "%s"}' % (i, "x" * 200000))
"""


def test_a_kill_during_a_write_leaves_the_old_or_the_new_content(tmp_path):
    path = tmp_path / "secrets.json"
    atomic_write(path, '{"n": 0}')
    for _ in range(15):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.05 + (os.getpid() % 7) / 100)
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        assert isinstance(json.loads(path.read_text())["n"], int)  # whole, never half
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "secrets.json"]
    assert all(name.endswith(".tmp") for name in leftovers)  # only unused temporaries remain


def _record_versions(root: str, worker: int) -> None:
    store = VersionStore(Path(root))
    for n in range(10):
        content = f"pyjokes=={worker}.{n}\n".encode()
        store.record("requirements", BucketObject("requirements.txt", f"{worker}-{n}", content))


def test_concurrent_recording_loses_no_history(tmp_path):
    processes = [
        multiprocessing.get_context("fork").Process(target=_record_versions, args=(tmp_path, w))
        for w in range(8)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
        assert p.exitcode == 0
    history = VersionStore(tmp_path).history()
    assert len(history) == 80
    assert len({v.version_id for v in history}) == 80


def _save_records(path: str, worker: int) -> None:
    for n in range(30):
        record = EnvironmentRecord(status=None, settings={"worker": worker, "n": n})
        record.save(Path(path))


def test_concurrent_record_saves_never_fail_or_corrupt(tmp_path):
    path = tmp_path / "environment.json"
    processes = [
        multiprocessing.get_context("fork").Process(target=_save_records, args=(path, w))
        for w in range(PROCESSES)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
        assert p.exitcode == 0
    assert EnvironmentRecord.load(path).settings["n"] == 29


HOLDER = """
import sys, time
from pathlib import Path
from mwaa_local.runtime.state import StateDir
with StateDir(Path(sys.argv[1])).lock("start"):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_second_command_waits_then_names_the_holder_and_a_killed_holder_frees_it(tmp_path):
    folder = tmp_path / ".mwaa-local" / "env"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        seen = []
        with pytest.raises(MwaaLocalError) as e, StateDir(folder).lock("stop", 0.5, seen.append):
            pass
        assert f"`mwaa-local start` (pid {holder.pid}, since " in e.value.message
        assert seen and seen[0].pid == holder.pid  # told once who it waits for
    finally:
        holder.kill()
        holder.wait()
    started = time.monotonic()
    with StateDir(folder).lock("stop", 5):
        assert StateDir(folder).holder().command == "stop"
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("content", ["", '{"fernet_key": "abc", "jwt', '{"fernet_key": "a"}'])
def test_a_damaged_secrets_file_is_an_error_and_is_never_replaced(tmp_path, content):
    folder = tmp_path / ".mwaa-local" / "env"
    folder.mkdir(parents=True)
    (folder / "secrets.json").write_text(content)
    with pytest.raises(MwaaLocalError) as e:
        StateDir(folder).secrets()
    assert str(folder / "secrets.json") in e.value.message
    assert "reset-db" in e.value.hint
    assert (folder / "secrets.json").read_text() == content


def test_a_truncated_record_is_an_error_naming_it(tmp_path):
    path = tmp_path / "environment.json"
    path.write_text('{"Status": "UPDAT')
    with pytest.raises(MwaaLocalError) as e:
        EnvironmentRecord.load(path)
    assert str(path) in e.value.message and "Delete environment.json" in e.value.hint


def test_a_full_disk_changes_nothing_and_names_the_path(tmp_path, monkeypatch):
    path = tmp_path / "compose.env"
    atomic_write(path, "OLD=1\n")
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, descriptor, mode):
            self.file = real_fdopen(descriptor, mode)

        def __enter__(self):
            return self

        def __exit__(self, *args):
            self.file.close()

        def fileno(self):
            return self.file.fileno()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(state.os, "fdopen", Full)
    with pytest.raises(MwaaLocalError) as e:
        atomic_write(path, "NEW=2\n")
    assert str(path) in e.value.message and "free there" in e.value.message
    assert path.read_text() == "OLD=1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["compose.env"]


class StoppedStack:
    """What finish_interrupted_update asks of a stack that is not running."""

    def __init__(self, folder: Path) -> None:
        self.state = StateDir(folder)
        self.record_file = folder / "environment.json"

    def record(self) -> EnvironmentRecord:
        return EnvironmentRecord.load(self.record_file)

    def is_running(self) -> bool:
        return False


def test_an_interrupted_update_is_rolled_back_by_the_next_command(tmp_path):
    stack = StoppedStack(tmp_path)
    for path in stack.state.env_files:
        path.write_text(f"{path.name}=new\n")  # what the killed update had written
        journal = tmp_path / JOURNAL_DIR / path.name
        journal.parent.mkdir(exist_ok=True)
        journal.write_text(f"{path.name}=before\n")
    record = EnvironmentRecord()
    record.begin_update("mwaa-local update")
    record.updating_pid = 2**22 + 4321  # gone
    record.save(stack.record_file)

    message = finish_interrupted_update(stack)
    assert message and "stopped before it finished" in message
    for path in stack.state.env_files:
        assert path.read_text() == f"{path.name}=before\n"
    after = stack.record()
    assert after.status == "UPDATE_FAILED" and not after.interrupted
    assert after.last_update["Status"] == "FAILED"
    assert after.last_update["Error"]["ErrorCode"] == "UPDATE_INTERRUPTED"
    assert not (tmp_path / JOURNAL_DIR).exists()
    assert finish_interrupted_update(stack) is None  # nothing left to finish
