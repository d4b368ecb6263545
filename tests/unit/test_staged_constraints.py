"""Official constraints URLs staged in the version store for the containers (issue 10 item 1)."""

import zipfile
from pathlib import Path

import pytest

from mwaa_local.bucket.source import BucketObject
from mwaa_local.bucket.staged_constraints import official_urls, stage_official_constraints
from mwaa_local.bucket.versions import VersionStore
from mwaa_local.errors import ConstraintsError
from mwaa_local.mwaa import constraints
from mwaa_local.runtime.stack import airflow_environment
from mwaa_local.runtime.state import Secrets
from mwaa_local.spec.settings import load_environment

URL = "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
URL_331 = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"


@pytest.fixture
def mirror(tmp_path) -> Path:
    root = tmp_path / "mirror"
    for path, text in (
        ("constraints-2.10.3/constraints-3.11.txt", "paramiko==3.5.0\n"),
        ("constraints-3.3.1/constraints-3.12.txt", "paramiko==5.0.0\n"),
    ):
        (root / path).parent.mkdir(parents=True)
        (root / path).write_text(text)
    return root


def environment(tmp_path, mirror):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return load_environment(project, environ={"MWAA_LOCAL_CONSTRAINTS_MIRROR": str(mirror)})


def test_official_urls_in_a_requirements_text():
    text = f'--constraint "{URL}"\n# -c {URL_331}\n-c https://example.com/c.txt\n-c {URL}\n'
    assert official_urls(text) == [URL, URL_331]


def test_urls_of_the_requirements_and_of_plugins_txt_files_are_staged(tmp_path, mirror):
    store = VersionStore(tmp_path / "store")
    text = f"-c {URL}\nsix\n".encode()
    requirements = store.record(
        "requirements", BucketObject("requirements/requirements.txt", "v1", text)
    )
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("reqs/more.txt", f"--constraint {URL_331}\n")
    plugins = store.record("plugins", BucketObject("plugins.zip", "p1", archive.read_bytes()))
    objects = {"requirements": requirements, "plugins": plugins, "startup_script": None}
    cache = tmp_path / "cache"

    staged = stage_official_constraints(environment(tmp_path, mirror), store, objects, cache)

    assert [(s.url, s.source, s.ok) for s in staged] == [
        (URL, "mirror", True),
        (URL_331, "mirror", True),
    ]
    target = store.root / "constraints" / "constraints-2.10.3" / "constraints-3.11.txt"
    assert target.read_text() == "paramiko==3.5.0\n"
    # readable by the containers' airflow user through the read-only mount
    assert target.stat().st_mode & 0o777 == 0o644
    assert target.parent.stat().st_mode & 0o777 == 0o755
    # staged once: a second start does not look again
    again = stage_official_constraints(environment(tmp_path, mirror), store, objects, cache)
    assert {s.source for s in again} == {"staged"}


def test_the_cache_serves_what_the_mirror_lacks_and_a_missing_file_does_not_raise(
    tmp_path, mirror, monkeypatch
):
    store = VersionStore(tmp_path / "store")
    cached_url, missing_url = URL.replace("2.10.3", "9.9.8"), URL.replace("2.10.3", "9.9.9")
    text = f"-c {cached_url}\n-c {missing_url}\n".encode()
    requirements = store.record(
        "requirements", BucketObject("requirements/requirements.txt", "v1", text)
    )
    cache = tmp_path / "cache"
    (cache / "constraints-9.9.8").mkdir(parents=True)
    (cache / "constraints-9.9.8" / "constraints-3.11.txt").write_text("from-cache\n")
    downloads = []

    def offline(url, ca_bundle):
        downloads.append(url)
        raise ConstraintsError(f"Could not download the Airflow constraints from {url}: dns")

    monkeypatch.setattr(constraints, "_download", offline)
    env = environment(tmp_path, mirror)
    staged = stage_official_constraints(env, store, {"requirements": requirements}, cache)
    assert [(s.source, s.ok) for s in staged][0] == ("cache", True)
    assert staged[1].ok is False and "download failed: dns" in staged[1].source
    assert downloads == [missing_url]
    assert not (store.root / "constraints" / "constraints-9.9.9").exists()


def test_the_installer_setting_reaches_the_containers(tmp_path, mirror):
    project = tmp_path / "project"
    project.mkdir()
    (project / "mwaa-local.yaml").write_text("Local:\n  Installer: pip\n")
    env = load_environment(project, environ={})
    secrets = Secrets("p", "f", "w", "j", "a")
    assert airflow_environment(env, secrets)["MWAA_LOCAL_INSTALLER"] == "pip"
