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
