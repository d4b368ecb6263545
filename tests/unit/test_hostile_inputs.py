"""Hostile inputs (README "Security"): S3 keys that name files outside the mirror, links out of a
plugins/ folder, env-file values with quotes, `$` and `#`, rich markup in user text, and two
environments that would share one compose project."""

import json

import boto3
import pytest
from moto import mock_aws

from mwaa_local.bucket.keys import key_problem
from mwaa_local.bucket.source import S3Bucket
from mwaa_local.container.s3_mirror import MANIFEST, mirror_once

BUCKET = "airflow-test"


@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


# --- S3 keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["/tmp/x.py", "../../x.py", "a/../../../x.py", "a//b.py", "./x.py", "a/.", "", "a\x00b"],
)
def test_only_plain_relative_keys_may_become_files(name):
    assert key_problem(name)


@pytest.mark.parametrize("name", ["x.py", "sub/x.py", "..x.py", "a/.hidden/b.py", "a b/c.py"])
def test_plain_relative_keys_are_accepted(name):
    assert key_problem(name) is None


def test_the_s3_mirror_never_writes_or_deletes_outside_its_folder(s3, tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    # Files a hostile key would reach: absolute, '..' and '..' below a folder.
    victims = [tmp_path / "outside" / "absolute.py", tmp_path / "up.py", root / "deep.py"]
    for victim in victims:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_text("precious\n")
    keys = [
        f"env/dags/{victims[0]}",  # env/dags//tmp/.../absolute.py
        "env/dags/../../up.py",
        "env/dags/a/../../deep.py",
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"# hostile\n")
    s3.put_object(Bucket=BUCKET, Key="env/dags/fine.py", Body=b"# fine\n")
    bucket = S3Bucket(f"s3://{BUCKET}/env", client=s3)

    first = mirror_once(bucket, "dags", root)
    assert first["ok"] and first["copied"] == ["fine.py"]
    assert sorted(first["skipped"]) == sorted(keys)  # each named with the bucket's own key
    assert all(victim.read_text() == "precious\n" for victim in victims)

    # An older mwaa-local recorded such names; deleting the keys must not remove anything.
    manifest = json.loads((root / MANIFEST).read_text())
    manifest.update({str(victims[0]): '"etag"', "../../up.py": '"etag"'})
    (root / MANIFEST).write_text(json.dumps(manifest))
    for key in keys:
        s3.delete_object(Bucket=BUCKET, Key=key)
    second = mirror_once(bucket, "dags", root)
    assert second["ok"] and second["deleted"] == [] and second["skipped"] == {}
    assert all(victim.read_text() == "precious\n" for victim in victims)
    assert json.loads((root / MANIFEST).read_text()) == {"fine.py": manifest["fine.py"]}


def test_a_file_key_that_clashes_with_a_folder_key_is_a_warning_not_a_crash(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="env/dags/a", Body=b"a file\n")
    s3.put_object(Bucket=BUCKET, Key="env/dags/a/b.py", Body=b"# b\n")
    bucket = S3Bucket(f"s3://{BUCKET}/env", client=s3)
    for _ in range(2):  # and again on the next pass, without raising
        outcome = mirror_once(bucket, "dags", tmp_path)
        assert outcome["ok"]
        assert list(outcome["skipped"]) == ["env/dags/a/b.py"]
        assert "env/dags/a is a file" in outcome["skipped"]["env/dags/a/b.py"]
    assert (tmp_path / "dags" / "a").read_text() == "a file\n"

    # The other way round: a folder of keys already there, then a file key of its name.
    s3.delete_object(Bucket=BUCKET, Key="env/dags/a")
    mirror_once(bucket, "dags", tmp_path)
    assert (tmp_path / "dags" / "a" / "b.py").read_text() == "# b\n"
    s3.put_object(Bucket=BUCKET, Key="env/dags/a", Body=b"a file\n")
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["ok"] and list(outcome["skipped"]) == ["env/dags/a"]
    s3.delete_object(Bucket=BUCKET, Key="env/dags/a/b.py")
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["copied"] == ["a"] and outcome["deleted"] == ["a/b.py"]
    assert (tmp_path / "dags" / "a").read_text() == "a file\n"
