"""Hostile inputs against a real stack (README "Security"): S3 keys that name files outside the
mirror, an owner-only version store the components still read, env-file values with quotes, `$`
and `#`, a second folder with the same Name, and a plugins/ link to credentials."""

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import boto3
import pytest

from mwaa_local.objects.rest_client import AirflowApi
from tests.e2e.stacks import REPO, make_project
from tests.e2e.test_s3_bucket import BUCKET, CREDENTIALS, wait_until

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = 'pa$word "x" #y'  # issue 10: reached the container as `pa$word "x"`
OPTIONS = {
    "mwaa_local_e2e.probe": 'Team "A" #1 $x',
    "mwaa_local_e2e.quote": "it's a \\ test # 2",
}
TAG = f"e2e{os.getpid()}"
# Keys relative to the bucket, and where the mirror (/usr/local/mwaa-local/bucket-mirror/dags)
# would have put them.
HOSTILE_KEYS = {
    f"env/dags//tmp/hostile-abs-{TAG}.py": f"/tmp/hostile-abs-{TAG}.py",
    f"env/dags/../../hostile-up-{TAG}.py": f"/usr/local/mwaa-local/hostile-up-{TAG}.py",
    f"env/dags/a/../../../hostile-deep-{TAG}.py": f"/usr/local/mwaa-local/hostile-deep-{TAG}.py",
}
CLASH_KEYS = ["env/dags/clash", "env/dags/clash/b.py"]


def container(docker_engine, project, service: str):
    labels = [f"com.docker.compose.project={project.name.lower()}"]
    [found] = docker_engine.containers.list(
        # The first of the service's containers: MWAA runs two schedulers by default.
        filters={
            "label": labels
            + [f"com.docker.compose.service={service}", "com.docker.compose.container-number=1"]
        }
    )
    return found


def run(docker_engine, project, service: str, *command: str, user: str = "") -> tuple[int, str]:
    code, output = container(docker_engine, project, service).exec_run(list(command), user=user)
    return code, output.decode(errors="replace")


def plugins_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("e2e_plugin_marker.py", "MARKER = 1\n")
    return buffer.getvalue()


def test_hostile_inputs_against_a_running_stack(
    airflow3_image, docker_engine, s3_endpoint, monkeypatch
):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    example = (REPO / "dags" / "mwaa_local_example.py").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="env/dags/mwaa_local_example.py", Body=example)
    s3.put_object(Bucket=BUCKET, Key="env/plugins.zip", Body=plugins_zip())
    s3.put_object(Bucket=BUCKET, Key="env/startup/startup.sh", Body=b"export E2E_STARTUP_RAN=ran\n")
    s3.put_object(Bucket=BUCKET, Key="env/requirements/requirements.txt", Body=b"# none\n")

    project = make_project(
        f"e2e-hostile-{os.getpid()}",
        airflow3_image.version,
        options=OPTIONS,
        Bucket=f"s3://{BUCKET}/env",
        # moto serves STS too: the credentials service hands out a session of the test keys.
        AwsEndpointUrl=s3_endpoint,
        AdminPassword=ADMIN_PASSWORD,
    )
    settings = project.path / "mwaa-local.yaml"
    settings.write_text(settings.read_text() + "PluginsS3Path: plugins.zip\n")
    other = None
    try:
        started = project.cli("start")
        assert started.returncode == 0, started.output
        assert f"Login:      admin / {ADMIN_PASSWORD}" in started.stdout

        # Env files: the password and option values reach the containers as written.
        api = AirflowApi(f"http://127.0.0.1:{project.port}", "admin", ADMIN_PASSWORD, 3)
        assert api.request("GET", "/dags/mwaa_local_example")["dag_id"] == "mwaa_local_example"
        for option, value in OPTIONS.items():
            section, key = option.split(".")
            variable = f"AIRFLOW__{section.upper()}__{key.upper()}"
            code, printed = run(docker_engine, project, "scheduler", "printenv", variable)
            assert (code, printed) == (0, value + "\n")

        # The version store is owner-only on the host, unreadable to the airflow user as is,
        # and every component still unpacked, sourced and installed what it holds.
        store = project.state / "versions"
        blobs = list((store / "objects").iterdir())
        assert len(blobs) == 3
        assert stat.S_IMODE((store / "objects").stat().st_mode) == 0o700
        assert stat.S_IMODE(store.stat().st_mode) & 0o066 == 0
        assert all(stat.S_IMODE(b.stat().st_mode) == 0o600 for b in blobs)
        blob = f"/usr/local/mwaa-local/versions/objects/{blobs[0].name}"
        assert run(docker_engine, project, "scheduler", "cat", blob)[0] != 0
        status = project.status()
        for service in ("scheduler", "worker", "api-server", "triggerer", "dag-processor"):
            phases = status["Components"][service]["StartSequence"]
            assert phases["plugins"]["ok"] and phases["requirements"]["ok"], phases
            assert "E2E_STARTUP_RAN" in phases["startup_script"]["exported"], phases
            marker = "/usr/local/airflow/plugins/e2e_plugin_marker.py"
            assert run(docker_engine, project, service, "test", "-f", marker)[0] == 0

        # S3 keys: a file of the user's where the absolute key points, then the hostile keys.
        decoy = HOSTILE_KEYS[f"env/dags//tmp/hostile-abs-{TAG}.py"]
        command = f"echo precious > {decoy}"
        assert run(docker_engine, project, "bucket-sync", "sh", "-c", command, user="0")[0] == 0
        for key in [*HOSTILE_KEYS, *CLASH_KEYS]:
            s3.put_object(Bucket=BUCKET, Key=key, Body=b"# hostile\n")
        synced = project.cli("sync")
        assert synced.returncode == 0, synced.output
        assert_nothing_outside(docker_engine, project, decoy)
        # The mirror's loop names each skipped key once, in its log and for `status`.
        wanted = {*HOSTILE_KEYS, "env/dags/clash/b.py"}
        wait_until(lambda: set(mirror_report(project).get("skipped", {})) == wanted, timeout=20)
        logs = project.cli("logs", "bucket-sync", "--tail", "all").output
        assert all(logs.count(f"skipped S3 key {key!r}") == 1 for key in wanted), logs
        for key in [*HOSTILE_KEYS, *CLASH_KEYS]:
            s3.delete_object(Bucket=BUCKET, Key=key)
        assert project.cli("sync").returncode == 0
        assert_nothing_outside(docker_engine, project, decoy)
        mirror = container(docker_engine, project, "bucket-sync")
        assert mirror.attrs["RestartCount"] == 0  # the clash was a warning, not a crash loop

        # A second folder with the same Name in other letters: refused, the first untouched.
        other = make_project(project.name.upper(), airflow3_image.version)
        for command in (["start"], ["stop"], ["reset-db", "--yes"], ["status"]):
            refused = other.cli(*command)
            assert refused.returncode == 1, refused.output
            assert f"belongs to the environment in {project.path}" in refused.stderr
        assert project.status()["Status"] == "AVAILABLE"
    finally:
        project.destroy()
        if other is not None:
            other.destroy()


def mirror_report(project) -> dict:
    phases = project.status()["Components"]["bucket-sync"]["StartSequence"] or {}
    return phases.get("bucket_sync", {})


def assert_nothing_outside(docker_engine, project, decoy: str) -> None:
    """No container holds a file of the hostile keys but the decoy, unchanged, and the host
    holds none."""
    services = ("bucket-sync", "scheduler", "worker", "api-server", "triggerer", "dag-processor")
    for service in services:
        code, found = run(
            docker_engine, project, service, "sh", "-c",
            f"find / -xdev -name 'hostile-*{TAG}*' 2>/dev/null; "
            "find /usr/local/mwaa-local/bucket-mirror /usr/local/mwaa-local/bucket "
            f"/usr/local/airflow/dags -name 'hostile-*{TAG}*' 2>/dev/null",
            user="0",
        )  # fmt: skip
        expected = {decoy} if service == "bucket-sync" else set()
        assert set(found.split()) == expected, (service, found)
    code, content = run(docker_engine, project, "bucket-sync", "cat", decoy)
    assert content == "precious\n"
    assert not any(Path(path).exists() for path in HOSTILE_KEYS.values())


def test_a_plugins_folder_link_to_credentials_stays_out_of_the_version_store(
    tmp_path, airflow3_image
):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = never-in-the-store\n")
    project = make_project(f"e2e-links-{os.getpid()}", "3.3.1")
    try:
        (project.path / "plugins" / "operators").mkdir(parents=True)
        (project.path / "plugins" / "operators" / "op.py").write_text("class Op: ...\n")
        (project.path / "plugins" / "aws").symlink_to(home / ".aws")
        # A command that reads the bucket's objects (status reads nothing before the first
        # start): the test command runs them in a one-off container.
        shown = project.cli("test-startup-script", "--json")
        assert shown.returncode == 0, shown.output
        assert "plugins.zip 1 link(s)" in shown.stderr and ": aws." in shown.stderr
        versions = json.loads(project.cli("versions", "--json").stdout)["Recorded"]
        [plugins] = [v for v in versions if v["Kind"] == "PluginsS3Path"]
        for blob in (project.state / "versions" / "objects").iterdir():
            assert b"never-in-the-store" not in blob.read_bytes()
            assert stat.S_IMODE(blob.stat().st_mode) == 0o600
        assert plugins["Key"] == "plugins"
    finally:
        project.destroy()
