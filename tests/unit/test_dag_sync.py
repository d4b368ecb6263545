import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from mwaa_local.container.dag_sync import skipped_warnings, sync_once
from mwaa_local.container.sync_folder import sync_folder


def test_new_changed_and_deleted_files(tmp_path):
    bucket, dags = tmp_path / "bucket", tmp_path / "dags"
    (bucket / "sub").mkdir(parents=True)
    (bucket / "a.py").write_text("a")
    (bucket / "sub" / "b.py").write_text("b")
    assert sorted(sync_folder(bucket, dags).copied) == ["a.py", "sub/b.py"]
    assert not sync_folder(bucket, dags).changed

    (bucket / "a.py").write_text("a2")
    (bucket / "sub" / "b.py").unlink()
    result = sync_folder(bucket, dags)
    assert result.copied == ["a.py"] and result.deleted == ["sub/b.py"]
    assert (dags / "a.py").read_text() == "a2"
    assert not (dags / "sub").exists()


def test_missing_bucket_folder_empties_the_copy(tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "old.py").write_text("x")
    assert sync_folder(tmp_path / "nothing", dags).deleted == ["old.py"]


def test_pycache_is_neither_copied_nor_deleted(tmp_path):
    bucket, dags = tmp_path / "bucket", tmp_path / "dags"
    (bucket / "__pycache__").mkdir(parents=True)
    (bucket / "__pycache__" / "a.pyc").write_text("x")
    (dags / "__pycache__").mkdir(parents=True)
    (dags / "__pycache__" / "z.pyc").write_text("x")
    result = sync_folder(bucket, dags)
    assert not result.changed
    assert (dags / "__pycache__" / "z.pyc").exists()


# Unreadable files need a user the permission bits apply to: root reads anything, so as root the
# sync runs in a child process that has given up root.
NOBODY = 65534


@pytest.fixture
def shared_tmp():
    """A folder another user can enter (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mwaa-local-sync-"))
    path.chmod(0o777)
    yield path
    for folder, _, _ in os.walk(path):
        Path(folder).chmod(0o777)
    shutil.rmtree(path)


def as_another_user(function, *args):
    if os.getuid() != 0:
        return function(*args)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with os.fdopen(write_end, "w") as out:
                json.dump(function(*args), out)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as answer:
        text = answer.read()
    assert os.waitpid(pid, 0)[1] == 0, text
    return json.loads(text)


def synced(source: Path, target: Path) -> dict:
    result = sync_folder(source, target)
    return {"copied": result.copied, "deleted": result.deleted, "skipped": result.skipped}


def writable_by_all(*paths: Path) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)


def test_an_unreadable_file_is_skipped_and_named_and_the_rest_is_synced(shared_tmp):
    bucket, dags = shared_tmp / "bucket", shared_tmp / "dags"
    writable_by_all(bucket, dags)
    for name in ("a.py", "secret.py", "z.py"):
        (bucket / name).write_text(f"# {name}\n")
    (bucket / "secret.py").chmod(0o000)
    (dags / "old.py").write_text("# deleted in the bucket\n")
    (dags / "old.py").chmod(0o666)
    outcome = as_another_user(synced, bucket, dags)
    assert outcome["copied"] == ["a.py", "z.py"]
    assert outcome["deleted"] == ["old.py"]  # deletions go on
    assert outcome["skipped"] == {"secret.py": "Permission denied"}
    assert sorted(p.name for p in dags.iterdir()) == ["a.py", "z.py"]


def test_an_unreadable_folder_keeps_its_last_copy_and_the_rest_is_synced(shared_tmp):
    bucket, dags = shared_tmp / "bucket", shared_tmp / "dags"
    writable_by_all(bucket / "team", dags)
    (bucket / "team" / "t.py").write_text("# t\n")
    (bucket / "a.py").write_text("# a\n")
    assert as_another_user(synced, bucket, dags)["copied"] == ["a.py", "team/t.py"]
    (bucket / "a.py").unlink()
    (bucket / "team").chmod(0o000)
    outcome = as_another_user(synced, bucket, dags)
    assert outcome["deleted"] == ["a.py"]
    assert outcome["skipped"] == {"team/": "Permission denied"}
    assert (dags / "team" / "t.py").read_text() == "# t\n"  # not known to be gone


def test_sync_once_reports_what_it_skipped(shared_tmp):
    bucket, home = shared_tmp / "bucket", shared_tmp / "home"
    writable_by_all(bucket / "dags", home)
    (bucket / "dags" / "a.py").write_text("# a\n")
    (bucket / "dags" / "b.py").write_text("# b\n")
    (bucket / "dags" / "b.py").chmod(0o000)
    outcome = as_another_user(sync_once, bucket, "dags", home / "dags")
    assert outcome == {
        "ok": True,
        "copied": ["a.py"],
        "deleted": [],
        "skipped": {"b.py": "Permission denied"},
    }
    assert skipped_warnings(outcome) == [
        "WARNING DAG sync: skipped b.py (Permission denied); the rest of the folder is synced"
    ]
