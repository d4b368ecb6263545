from mwaa_local.container.dag_sync import sync_once


def test_sync_once_copies_and_deletes(tmp_path):
    bucket, target = tmp_path / "bucket", tmp_path / "home" / "dags"
    (bucket / "dags").mkdir(parents=True)
    (bucket / "dags" / "a.py").write_text("a")
    assert sync_once(bucket, "dags", target) == {
        "ok": True,
        "copied": ["a.py"],
        "deleted": [],
        "skipped": {},
    }
    (bucket / "dags" / "a.py").unlink()
    assert sync_once(bucket, "dags", target)["deleted"] == ["a.py"]


def test_unreachable_bucket_keeps_the_last_copy(tmp_path):
    bucket, target = tmp_path / "bucket", tmp_path / "home" / "dags"
    (bucket / "dags").mkdir(parents=True)
    (bucket / "dags" / "a.py").write_text("a")
    sync_once(bucket, "dags", target)
    outcome = sync_once(tmp_path / "gone", "dags", target)
    assert outcome["ok"] is False and "cannot be read" in outcome["error"]
    assert (target / "a.py").read_text() == "a"


def test_missing_dag_folder_in_a_readable_bucket_means_no_dags(tmp_path):
    bucket, target = tmp_path / "bucket", tmp_path / "home" / "dags"
    bucket.mkdir()
    target.mkdir(parents=True)
    (target / "old.py").write_text("x")
    assert sync_once(bucket, "dags", target)["deleted"] == ["old.py"]
