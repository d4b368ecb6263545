"""Object versions: folder and S3 buckets, the version store, pins, pending changes."""

import zipfile

import boto3
import pytest
from moto import mock_aws

from mwaa_local.bucket.access import container_endpoint
from mwaa_local.bucket.source import FolderBucket, S3Bucket, split_s3_url
from mwaa_local.bucket.versions import VersionStore, objects_as_env, read_objects
from mwaa_local.container.s3_mirror import mirror_once
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.update import environment_settings, pending_changes, shown_status
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import Environment, LocalSettings


def project(tmp_path, requirements: str = "six\n"):
    (tmp_path / "requirements").mkdir(exist_ok=True)
    (tmp_path / "requirements" / "requirements.txt").write_text(requirements)
    return tmp_path


def test_a_folder_version_is_its_content(tmp_path):
    bucket = FolderBucket(project(tmp_path))
    first = bucket.get("requirements/requirements.txt")
    assert bucket.get("requirements/requirements.txt").version_id == first.version_id
    (tmp_path / "requirements" / "requirements.txt").write_text("boto3\n")
    assert bucket.get("requirements/requirements.txt").version_id != first.version_id
    with pytest.raises(MwaaLocalError, match="Unable to read version"):
        bucket.get("requirements/requirements.txt", first.version_id)


def test_a_plugins_folder_is_zipped_the_same_way_twice(tmp_path):
    (tmp_path / "plugins" / "operators").mkdir(parents=True)
    (tmp_path / "plugins" / "operators" / "hello.py").write_text("X = 1\n")
    bucket = FolderBucket(tmp_path)
    first = bucket.get("plugins")
    assert bucket.get("plugins").version_id == first.version_id
    store = VersionStore(tmp_path / "store")
    version = store.record("plugins", first)
    with zipfile.ZipFile(store.blob(version.sha256)) as archive:
        assert "operators/hello.py" in archive.namelist()  # the contents, not plugins/


def test_the_store_keeps_each_version_once_and_owner_only(tmp_path):
    environment = Environment(project_dir=project(tmp_path))
    store = VersionStore(tmp_path / ".state" / "versions")
    bucket = FolderBucket(tmp_path)
    first = read_objects(environment, bucket, store)
    again = read_objects(environment, bucket, store)
    assert first == again and len(store.history()) == 1
    requirements = first["requirements"]
    assert first["plugins"] is None and first["startup_script"] is None
    assert store.blob(requirements.sha256).stat().st_mode & 0o777 == 0o600
    env = objects_as_env(store, first)
    assert env["MWAA_LOCAL_REQUIREMENTS_FILE"].endswith(requirements.sha256)
    assert env["MWAA_LOCAL_PLUGINS_FILE"] == ""


def test_a_pinned_version_comes_from_the_store_after_the_file_changed(tmp_path):
    store = VersionStore(tmp_path / ".state" / "versions")
    bucket = FolderBucket(project(tmp_path))
    old = read_objects(Environment(project_dir=tmp_path), bucket, store)["requirements"]
    (tmp_path / "requirements" / "requirements.txt").write_text("boto3\n")
    pinned = Environment(project_dir=tmp_path, requirements_s3_object_version=old.version_id)
    assert read_objects(pinned, bucket, store)["requirements"] == old
    unknown = Environment(project_dir=tmp_path, requirements_s3_object_version="nope")
    with pytest.raises(MwaaLocalError, match="Unable to read version nope"):
        read_objects(unknown, bucket, store)


def test_pending_changes_name_objects_and_option_keys_not_values(tmp_path):
    store = VersionStore(tmp_path / ".state" / "versions")
    bucket = FolderBucket(project(tmp_path))
    environment = Environment(project_dir=tmp_path)
    record = EnvironmentRecord(
        applied=read_objects(environment, bucket, store),
        settings=environment_settings(environment),
    )
    assert pending_changes(record, read_objects(environment, bucket, store), record.settings) == []

    (tmp_path / "requirements" / "requirements.txt").write_text("boto3\n")
    changed = Environment(
        project_dir=tmp_path, airflow_configuration_options={"secrets.backend_kwargs": "hunter2"}
    )
    changes = pending_changes(
        record, read_objects(changed, bucket, store), environment_settings(changed)
    )
    assert [c.what for c in changes] == ["RequirementsS3Path", "AirflowConfigurationOptions"]
    assert "secrets.backend_kwargs" in changes[1].wanted
    assert "hunter2" not in repr(changes)


def test_update_statuses(monkeypatch):
    record = EnvironmentRecord()
    record.begin_update("test")
    assert shown_status("CREATING", record) == "UPDATING"
    record.finish_update("REQUIREMENTS_INSTALL_FAILED", "x" * 2000)
    assert shown_status("AVAILABLE", record) == "UPDATE_FAILED"
    assert shown_status("STOPPED", record) == "STOPPED"
    assert len(record.last_update["Error"]["ErrorMessage"]) == 1024
    record.begin_update("test")
    record.updating_pid = 2**22 + 12345  # a process that does not exist: an interrupted update
    # Issue 17: an interrupted update is not AVAILABLE; the next command rolls it back.
    assert record.interrupted and shown_status("AVAILABLE", record) == "UPDATE_FAILED"
    record.finish_update()
    assert record.last_update["Status"] == "SUCCESS" and shown_status("AVAILABLE", record)


def test_a_loopback_endpoint_is_the_host_seen_from_a_container():
    assert container_endpoint("http://localhost:4566") == "http://host.docker.internal:4566"
    assert container_endpoint("http://127.0.0.1:5000/") == "http://host.docker.internal:5000/"
    assert container_endpoint("https://s3.example.com") == "https://s3.example.com"
    assert container_endpoint(None) == ""
    assert split_s3_url("s3://b/some/prefix/") == ("b", "some/prefix/")
    assert split_s3_url("s3://b") == ("b", "")


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
        client.create_bucket(Bucket="airflow-test")
        client.put_bucket_versioning(
            Bucket="airflow-test", VersioningConfiguration={"Status": "Enabled"}
        )
        yield client


def test_s3_object_versions_are_the_buckets_own(s3, tmp_path):
    key = "env/requirements/requirements.txt"
    v1 = s3.put_object(Bucket="airflow-test", Key=key, Body=b"six\n")["VersionId"]
    s3.put_object(Bucket="airflow-test", Key=key, Body=b"boto3\n")
    bucket = S3Bucket("s3://airflow-test/env", client=s3)
    store = VersionStore(tmp_path / "versions")
    latest = read_objects(Environment(project_dir=tmp_path), bucket, store)["requirements"]
    assert latest.version_id != v1 and latest.size == len(b"boto3\n")
    pinned = Environment(project_dir=tmp_path, requirements_s3_object_version=v1)
    assert read_objects(pinned, bucket, store)["requirements"].version_id == v1
    assert [v[0] for v in bucket.list_versions("requirements/requirements.txt")][-1] == v1
    with pytest.raises(MwaaLocalError, match="Unable to read version"):
        bucket.get("requirements/requirements.txt", "no-such-version")
    assert not bucket.exists("plugins.zip")


def test_the_s3_mirror_copies_changes_and_deletions_only_in_the_dag_folder(s3, tmp_path):
    s3.put_object(Bucket="airflow-test", Key="env/dags/a.py", Body=b"# a\n")
    s3.put_object(Bucket="airflow-test", Key="env/dags/sub/b.py", Body=b"# b\n")
    s3.put_object(Bucket="airflow-test", Key="env/requirements.txt", Body=b"six\n")
    bucket = S3Bucket("s3://airflow-test/env", client=s3)
    (tmp_path / "keep.txt").write_text("mine")
    first = mirror_once(bucket, "dags", tmp_path)
    assert first == {"ok": True, "copied": ["a.py", "sub/b.py"], "deleted": [], "skipped": {}}
    assert (tmp_path / "dags" / "sub" / "b.py").read_text() == "# b\n"
    assert not (tmp_path / "requirements.txt").exists()

    s3.delete_object(Bucket="airflow-test", Key="env/dags/a.py")
    s3.put_object(Bucket="airflow-test", Key="env/dags/sub/b.py", Body=b"# b2\n")
    second = mirror_once(bucket, "dags", tmp_path)
    assert second == {"ok": True, "copied": ["sub/b.py"], "deleted": ["a.py"], "skipped": {}}
    assert (tmp_path / "keep.txt").read_text() == "mine"

    gone = S3Bucket("s3://no-such-bucket/env", client=s3)
    outcome = mirror_once(gone, "dags", tmp_path)
    assert outcome["ok"] is False and "no-such-bucket" in outcome["error"]
    assert (tmp_path / "dags" / "sub" / "b.py").read_text() == "# b2\n"  # last copy kept


def test_an_unreadable_object_does_not_stop_the_mirror_and_is_tried_again(s3, tmp_path):
    for key in ("a.py", "b.py", "c.py"):
        s3.put_object(Bucket="airflow-test", Key=f"env/dags/{key}", Body=b"# v1\n")
    bucket = S3Bucket("s3://airflow-test/env", client=s3)
    assert mirror_once(bucket, "dags", tmp_path)["ok"]
    s3.delete_object(Bucket="airflow-test", Key="env/dags/a.py")
    s3.put_object(Bucket="airflow-test", Key="env/dags/b.py", Body=b"# v2\n")
    s3.put_object(Bucket="airflow-test", Key="env/dags/c.py", Body=b"# v2\n")
    read_key = bucket.read_key

    def denied(key: str) -> bytes:
        if key.endswith("b.py"):
            raise PermissionError("AccessDenied")
        return read_key(key)

    bucket.read_key = denied
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["ok"] and outcome["skipped"] == {
        "env/dags/b.py": "it cannot be read: AccessDenied"
    }
    # The rest went on: the deletion and the other change were applied, and remembered.
    assert outcome["deleted"] == ["a.py"] and outcome["copied"] == ["c.py"]
    assert not (tmp_path / "dags" / "a.py").exists()
    assert (tmp_path / "dags" / "c.py").read_text() == "# v2\n"
    bucket.read_key = read_key
    again = mirror_once(bucket, "dags", tmp_path)
    assert again["ok"] and again["copied"] == ["b.py"] and again["deleted"] == []


def test_a_damaged_manifest_is_rebuilt_and_deletions_still_happen(s3, tmp_path):
    for key in ("a.py", "sub/b.py"):
        s3.put_object(Bucket="airflow-test", Key=f"env/dags/{key}", Body=b"# v1\n")
    bucket = S3Bucket("s3://airflow-test/env", client=s3)
    assert mirror_once(bucket, "dags", tmp_path)["ok"]
    (tmp_path / ".mwaa-local-etags.json").write_text('{"a.py": "\\"abc')  # cut short
    s3.delete_object(Bucket="airflow-test", Key="env/dags/sub/b.py")
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["ok"] and outcome["deleted"] == ["sub/b.py"]
    assert not (tmp_path / "dags" / "sub" / "b.py").exists()
    assert (tmp_path / "dags" / "a.py").read_text() == "# v1\n"
    assert mirror_once(bucket, "dags", tmp_path) == {
        "ok": True, "copied": [], "deleted": [], "skipped": {}
    }  # fmt: skip


class GoneAfterListing(S3Bucket):
    """A bucket where one object is deleted between the listing and the download."""

    def list_keys(self, prefix: str) -> dict[str, str]:
        found = super().list_keys(prefix)
        self.client.delete_object(Bucket=self.name, Key=f"{self.prefix}dags/gone.py")
        return found


def test_an_object_the_s3_mirror_cannot_read_is_skipped_and_the_rest_mirrored(s3, tmp_path):
    s3.put_object(Bucket="airflow-test", Key="env/dags/old.py", Body=b"# old\n")
    mirror_once(S3Bucket("s3://airflow-test/env", client=s3), "dags", tmp_path)
    s3.delete_object(Bucket="airflow-test", Key="env/dags/old.py")
    for name in ("a.py", "gone.py", "z.py"):
        s3.put_object(Bucket="airflow-test", Key=f"env/dags/{name}", Body=b"# x\n")
    outcome = mirror_once(GoneAfterListing("s3://airflow-test/env", client=s3), "dags", tmp_path)
    assert outcome["ok"] is True
    assert outcome["copied"] == ["a.py", "z.py"] and outcome["deleted"] == ["old.py"]
    assert list(outcome["skipped"]) == ["env/dags/gone.py"]
    assert "NoSuchKey" in outcome["skipped"]["env/dags/gone.py"]
    assert not (tmp_path / "dags" / "old.py").exists()


class FakeStack:
    """What update_environment uses of a Stack, with components that fail as told: `failing`
    gives a service's start-sequence reports on the new versions, `crashing` the services that do
    not come up on the new versions, `crashing_on_rollback` those that do not come back."""

    def __init__(
        self,
        tmp_path,
        failing: dict[str, dict],
        crashing: frozenset[str] = frozenset(),
        crashing_on_rollback: dict[str, dict] | None = None,
        unreplaceable: frozenset[str] = frozenset(),
    ) -> None:
        from mwaa_local.runtime.state import StateDir

        self.environment = Environment(project_dir=tmp_path)
        self.state = StateDir(tmp_path / ".mwaa-local" / "env")
        self.record_file = self.state.path / "environment.json"
        self.failing = failing
        self.crashing = crashing
        self.crashing_on_rollback = crashing_on_rollback or {}
        self.unreplaceable = unreplaceable
        self.recreated: list[tuple[str, ...]] = []
        self.running: dict[str, str] = {}  # service -> the airflow.env it was created with
        for path in self.state.env_files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"WHAT_THE_COMPONENTS_RUN_WITH={path.name}\n")

    def record(self) -> EnvironmentRecord:
        return EnvironmentRecord.load(self.record_file)

    def airflow_components(self) -> tuple[str, ...]:
        return self.environment.airflow_version.components

    def write_env_files(self, objects=None) -> None:
        for path in self.state.env_files:
            path.write_text(f"NEW_VERSIONS={path.name}\n")

    def recreate(self, services) -> None:
        on_new = self.state.airflow_env_file.read_text().startswith("NEW_VERSIONS")
        for service in services:
            if on_new and service in self.unreplaceable:
                raise MwaaLocalError(f"`up --detach` failed for env: no such image for {service}")
        self.recreated.append(tuple(services))
        for service in services:
            self.running[service] = self.state.airflow_env_file.read_text()

    def new(self, service: str) -> bool:
        return self.running.get(service, "").startswith("NEW_VERSIONS")

    def wait_until_ready(self, timeout, services=()) -> None:
        from mwaa_local.runtime.stack import ComponentFailed

        for service in services or tuple(self.running):
            crashed = (
                service in self.crashing
                if self.new(service)
                else (service in self.crashing_on_rollback)
            )
            if crashed:
                raise ComponentFailed(self, service, None)

    def log_tail(self, service: str) -> str:
        return f"{service}: the last lines of its log"

    def phase_reports(self) -> dict:
        return {
            service: self.failing.get(service, {})
            if self.new(service)
            else self.crashing_on_rollback.get(service, {})
            for service in self.running
        }


def test_a_failed_update_rolls_back_to_the_env_files_the_components_ran_with(tmp_path):
    from mwaa_local.environment.update import UpdateFailed, update_environment

    failed = {"requirements": {"ok": False, "diagnosis": "boto3 conflicts with the constraints"}}
    stack = FakeStack(tmp_path, {"worker": failed})
    before = {path: path.read_text() for path in stack.state.env_files}
    with pytest.raises(UpdateFailed, match="REQUIREMENTS_INSTALL_FAILED"):
        update_environment(stack, {}, timeout=1)
    assert {path: path.read_text() for path in stack.state.env_files} == before
    order = [s[0] for s in stack.recreated[:-1]]
    assert order == list(stack.environment.airflow_version.components)[: order.index("worker") + 1]
    assert set(stack.recreated[-1]) == set(order)  # every restarted component, rolled back
    assert all(env.startswith("WHAT_THE_COMPONENTS_RUN_WITH") for env in stack.running.values())
    record = stack.record()
    assert record.status == "UPDATE_FAILED" and record.last_update["Status"] == "FAILED"
    assert "boto3" in record.last_update["Error"]["ErrorMessage"]
    assert record.applied is None  # the new versions were not applied


def test_a_good_update_applies_the_versions(tmp_path):
    from mwaa_local.environment.update import update_environment

    stack = FakeStack(tmp_path, {})
    update_environment(stack, {"requirements": None}, timeout=1)
    record = stack.record()
    assert record.last_update["Status"] == "SUCCESS" and record.applied == {"requirements": None}
    assert len(stack.recreated) == len(stack.environment.airflow_version.components)


def failed_update(stack) -> str:
    from mwaa_local.environment.update import UpdateFailed, update_environment

    with pytest.raises(UpdateFailed) as failed:
        update_environment(stack, {"requirements": None}, timeout=1)
    return failed.value.message


@pytest.mark.parametrize(
    ("phases", "code", "says"),
    [
        ({"plugins": {"ok": False, "error": "../escape.py would land outside"}},
         "PLUGINS_INVALID", "plugins.zip: ../escape.py would land outside"),
        ({"startup_script": {"ok": False, "summary": "startup script timed out after 5 s"}},
         "STARTUP_SCRIPT_FAILED", "timed out after 5 s"),
        ({"start": {"ok": False, "error": "the version store has no file for startup.sh"}},
         "COMPONENT_FAILED", "no file for startup.sh"),
        ({}, "COMPONENT_FAILED",
         "scheduler failed to start (no container): scheduler: the last lines of its log"),
    ],
)  # fmt: skip
def test_a_component_that_does_not_come_up_is_rolled_back_with_its_cause(
    tmp_path, phases, code, says
):
    stack = FakeStack(tmp_path, {"scheduler": phases}, crashing=frozenset({"scheduler"}))
    message = failed_update(stack)
    assert message.startswith(f"UPDATE_FAILED: {code}: ") and says in message
    record = stack.record()
    assert record.status == "UPDATE_FAILED"
    assert record.last_update["Error"]["ErrorCode"] == code
    assert not any(stack.new(service) for service in stack.running)  # all rolled back


def test_a_component_compose_cannot_replace_is_rolled_back(tmp_path):
    stack = FakeStack(tmp_path, {}, unreplaceable=frozenset({"scheduler"}))
    message = failed_update(stack)
    assert message.startswith("UPDATE_FAILED: COMPONENT_FAILED: scheduler: `up --detach` failed")
    assert stack.record().status == "UPDATE_FAILED"


def test_a_rollback_that_fails_leaves_the_environment_unavailable_with_both_reasons(tmp_path):
    startup = {"startup_script": {"ok": False, "summary": "startup script timed out after 5 s"}}
    gone = {"start": {"ok": False, "error": "the version store has no file for startup.sh@abc"}}
    first = airflow_services_of(tmp_path)[0]
    stack = FakeStack(
        tmp_path, {first: startup}, frozenset({first}), crashing_on_rollback={first: gone}
    )
    message = failed_update(stack)
    assert message.startswith("UNAVAILABLE: STARTUP_SCRIPT_FAILED: ")
    assert "The rollback failed too: " in message and "no file for startup.sh@abc" in message
    record = stack.record()
    assert record.status == "UNAVAILABLE" and record.last_update["Status"] == "FAILED"
    error = record.last_update["Error"]["ErrorMessage"]
    assert "timed out after 5 s" in error and "no file for startup.sh@abc" in error
    assert shown_status("UNAVAILABLE", record) == "UNAVAILABLE"
    assert shown_status("CREATING", record) == "UNAVAILABLE"
    assert shown_status("STOPPED", record) == "STOPPED"
    assert shown_status("AVAILABLE", record) == "UPDATE_FAILED"  # fixed by hand since


def airflow_services_of(tmp_path) -> tuple[str, ...]:
    return Environment(project_dir=tmp_path).airflow_version.components


def test_the_reason_a_component_failed_is_its_last_error_line():
    from mwaa_local.environment.update import last_error_line

    lines = [
        "Traceback (most recent call last):",
        "airflow.exceptions.AirflowConfigException: `[logging] logging_level` should not be 'NOPE'",
        "2026-11-26 INFO [mwaa-local] synced /usr/local/mwaa-local/bucket/dags: 1 copied",
    ]
    assert last_error_line(lines).startswith("airflow.exceptions.AirflowConfigException")
    assert last_error_line(["starting", "still starting"]) == "still starting"
    assert last_error_line([]) == ""


def test_download_folder_copies_a_prefix_and_names_what_it_could_not_read(s3, tmp_path):
    for name in ("a.py", "gone.py", "sub/b.py"):
        s3.put_object(Bucket="airflow-test", Key=f"env/dags/{name}", Body=b"# x\n")
    s3.put_object(Bucket="airflow-test", Key="env/dags/../escape.py", Body=b"# x\n")
    s3.put_object(Bucket="airflow-test", Key="env/requirements.txt", Body=b"six\n")
    bucket = GoneAfterListing("s3://airflow-test/env", client=s3)
    skipped = bucket.download_folder("dags", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob(
        "*.py")) == ["a.py", "sub/b.py"]  # fmt: skip
    assert set(skipped) == {"gone.py", "../escape.py"} and "NoSuchKey" in skipped["gone.py"]
    assert not (tmp_path / "escape.py").exists()
    with pytest.raises(MwaaLocalError, match="Cannot list dags/ in s3://no-such-bucket"):
        S3Bucket("s3://no-such-bucket/env", client=s3).download_folder("dags", tmp_path / "x")


def test_a_one_off_container_gets_an_s3_buckets_dag_folder_or_an_error(s3, tmp_path, monkeypatch):
    from mwaa_local.runtime import one_off

    s3.put_object(Bucket="airflow-test", Key="env/dags/a.py", Body=b"# a\n")
    s3.put_object(Bucket="airflow-test", Key="env/dags/gone.py", Body=b"# x\n")
    environment = Environment(
        project_dir=tmp_path, local=LocalSettings(bucket="s3://airflow-test/env")
    )
    with one_off.bucket_folder(environment) as folder:
        assert sorted(p.name for p in (folder / "dags").iterdir()) == ["a.py", "gone.py"]
        assert folder.stat().st_mode & 0o777 == 0o755  # the airflow user reads it
        assert (folder / "dags" / "a.py").stat().st_mode & 0o777 == 0o644
    assert not folder.exists()
    with one_off.bucket_folder(environment, with_dags=False) as folder:
        assert folder is None  # test-requirements reads no DAGs

    monkeypatch.setattr(
        one_off, "open_bucket", lambda env: GoneAfterListing(env.local.bucket, client=s3)
    )
    with (
        pytest.raises(MwaaLocalError, match=r"Could not read 1 DAG file\(s\).*gone\.py"),
        one_off.bucket_folder(environment),
    ):
        pass
