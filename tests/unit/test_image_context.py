import shutil
from pathlib import Path

import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime import image
from mwaa_local.spec.versions import airflow_version


def mirror(tmp_path: Path, version: str, python: str) -> Path:
    path = tmp_path / "mirror" / f"constraints-{version}" / f"constraints-{python}.txt"
    path.parent.mkdir(parents=True)
    path.write_text(f"apache-airflow=={version}\n")
    return tmp_path / "mirror"


def test_context_holds_dockerfile_constraints_package_and_ca(tmp_path):
    bundle = tmp_path / "corp.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    build = image.ImageBuild(
        airflow_version("2.10.3"),
        "local/debian:bookworm",
        bundle,
        str(mirror(tmp_path, "2.10.3", "3.11")),
    )
    context = tmp_path / "context"
    context.mkdir()
    image.stage_build_context(build, tmp_path / "cache", context)
    assert (context / "Dockerfile").is_file()
    assert (context / "bootstrap-os.sh").is_file()
    assert (context / "constraints.txt").read_text() == "apache-airflow==2.10.3\n"
    assert "apache-airflow==2.10.3" in (context / "mwaa-essential-constraints.txt").read_text()
    assert (context / "ca-bundle.pem").read_text() == bundle.read_text()
    assert (context / "python" / "mwaa_local" / "container" / "entrypoint.py").is_file()
    assert not list(context.rglob("__pycache__"))


def test_no_ca_bundle_gives_an_empty_file(tmp_path):
    build = image.ImageBuild(
        airflow_version("3.0.6"), "x", None, str(mirror(tmp_path, "3.0.6", "3.12"))
    )
    context = tmp_path / "context"
    context.mkdir()
    image.stage_build_context(build, tmp_path / "cache", context)
    assert (context / "ca-bundle.pem").read_bytes() == b""


def test_ca_bundle_from_the_usual_variables(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    assert image.find_ca_bundle(None, {"REQUESTS_CA_BUNDLE": str(bundle)}) == bundle
    assert image.find_ca_bundle(None, {"SSL_CERT_FILE": str(tmp_path / "gone")}) is None
    assert image.find_ca_bundle(bundle, {"SSL_CERT_FILE": "/elsewhere"}) == bundle
    with pytest.raises(MwaaLocalError):
        image.find_ca_bundle(tmp_path / "missing.pem", {})


def test_packages_are_mwaa_base_providers():
    packages = image.airflow_packages(airflow_version("3.3.1"))
    assert packages[0] == "apache-airflow[celery,statsd]==3.3.1"
    assert set(packages[1:]) == {
        f"apache-airflow-providers-{p}"
        for p in ("amazon", "celery", "postgres", "redis", "standard", "fab")
    }


def test_one_tag_per_airflow_version():
    assert image.image_tag(airflow_version("2.11.0")) == "mwaa-local/airflow:2.11.0"


def test_an_image_built_from_another_context_is_not_found(tmp_path):
    class Images:
        def __init__(self, labels):
            self.labels = labels

        def get(self, tag):
            return type("Image", (), {"labels": self.labels, "tag": tag})()

    class Client:
        def __init__(self, labels):
            self.images = Images(labels)

    build = image.ImageBuild(
        airflow_version("3.3.1"), "base", None, str(mirror(tmp_path, "3.3.1", "3.12"))
    )
    cache = tmp_path / "cache"
    with image.staged_context(build, cache) as (_, digest):
        current = {image.DIGEST_LABEL: digest}
    assert image.find_image(Client(current), build, cache) is not None
    stale = {image.DIGEST_LABEL: "0" * 16}
    assert image.find_image(Client(stale), build, cache) is None
    assert image.find_image(Client({}), build, cache) is None  # built before the label existed


@pytest.fixture
def source_copy(tmp_path, monkeypatch):
    """A copy of the checkout's image sources (docker/ and the mwaa_local package) that the image
    module stages from."""
    checkout = Path(image.__file__).resolve().parents[2]
    root = tmp_path / "checkout"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(checkout / "docker", root / "docker", ignore=ignore)
    shutil.copytree(checkout / "mwaa_local", root / "mwaa_local", ignore=ignore)
    monkeypatch.setattr(image, "package_dir", lambda: root / "mwaa_local")
    return root


def test_the_digest_changes_with_every_kind_of_file_in_the_image(tmp_path, source_copy):
    build = image.ImageBuild(
        airflow_version("3.3.1"), "base", None, str(mirror(tmp_path, "3.3.1", "3.12"))
    )

    def digest() -> str:
        with image.staged_context(build, tmp_path / "cache") as (_, value):
            return value

    first = digest()
    assert digest() == first  # the same sources give the same digest
    seen = {first}
    edits = [
        source_copy / "docker" / "Dockerfile",
        source_copy / "docker" / "bin" / "mwaa-local-entrypoint",
        source_copy / "docker" / "bootstrap-os.sh",
        source_copy / "mwaa_local" / "data" / "essential-constraints" / "3.3.1.txt",
        source_copy / "mwaa_local" / "container" / "entrypoint.py",
    ]
    for path in edits:
        assert path.is_file(), path
        with path.open("a") as f:
            f.write("\n# edited\n")
        changed = digest()
        assert changed not in seen, f"editing {path.relative_to(source_copy)} kept the digest"
        seen.add(changed)
    # A mode is part of the context too (docker/bin's scripts must stay executable).
    (source_copy / "docker" / "bin" / "mwaa-local-health").chmod(0o644)
    assert digest() not in seen
    # So are the constraints the build installs under.
    mirror_file = tmp_path / "mirror" / "constraints-3.3.1" / "constraints-3.12.txt"
    mirror_file.write_text("apache-airflow==3.3.1\nsix==1.0\n")
    latest = digest()
    assert latest not in seen
    # The base image is not: an image built with `build-image --base-image` serves `start`.
    other_base = image.ImageBuild(build.version, "other-base", None, build.constraints_mirror)
    with image.staged_context(other_base, tmp_path / "cache") as (_, value):
        assert value == latest


class Engine:
    """The engine facts check_platform reads."""

    def __init__(self, architecture: str, system: str = "Debian GNU/Linux 12 (bookworm)"):
        self.facts = {"Architecture": architecture, "OperatingSystem": system}

    def info(self) -> dict:
        return self.facts


def test_building_for_another_platform_needs_emulation(monkeypatch):
    image.check_platform(Engine("x86_64"), "linux/amd64")  # the engine's own
    image.check_platform(Engine("aarch64", "Docker Desktop"), "linux/amd64")  # it emulates
    real_exists = Path.exists
    monkeypatch.setattr(
        Path, "exists", lambda p: False if "binfmt_misc" in str(p) else real_exists(p)
    )
    with pytest.raises(MwaaLocalError) as e:
        image.check_platform(Engine("aarch64"), "linux/amd64")
    assert "needs QEMU emulation" in e.value.message and "aarch64 engine" in e.value.message
    assert "qemu-user-static" in e.value.hint and "--save" in e.value.hint
    with pytest.raises(MwaaLocalError):
        image.check_platform(Engine("x86_64"), "linux/s390x")


def test_the_platform_is_part_of_the_image_digest(tmp_path):
    mirror_dir = str(mirror(tmp_path, "3.3.1", "3.12"))
    digests = set()
    for platform in (None, "linux/amd64", "linux/arm64"):
        build = image.ImageBuild(airflow_version("3.3.1"), "base", None, mirror_dir, platform)
        with image.staged_context(build, tmp_path / "cache") as (_, digest):
            digests.add(digest)
    assert len(digests) == 3


def test_saving_never_overwrites_a_file(tmp_path):
    class Image:
        def save(self, named):
            yield b"tar"

    class Images:
        def get(self, tag):
            return Image()

    client = type("Client", (), {"images": Images()})()
    target = tmp_path / "airflow.tar"
    assert image.save_image(client, "mwaa-local/airflow:3.3.1", target) == 3
    with pytest.raises(MwaaLocalError) as e:
        image.save_image(client, "mwaa-local/airflow:3.3.1", target)
    assert "already exists" in e.value.message
    assert target.read_bytes() == b"tar"
