"""`mwaa-local build-image` against a real engine: one Airflow 2 and one Airflow 3 image."""

import pytest

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e


def test_image_runs_the_expected_airflow_and_python(any_image, docker_engine):
    def run(*command: str) -> str:
        return docker_engine.containers.run(any_image.tag, list(command), remove=True).decode()

    assert run("airflow", "version").strip().splitlines()[-1] == any_image.version
    assert run("python", "--version").startswith(f"Python {any_image.python}.")
    # MWAA's layout: user airflow, AIRFLOW_HOME, packages in the airflow user's site.
    assert run("id", "-un").strip() == "airflow"
    assert run("sh", "-c", "echo $AIRFLOW_HOME").strip() == "/usr/local/airflow"
    site = run("python", "-c", "import airflow; print(airflow.__file__)")
    assert site.startswith("/usr/local/airflow/.local/lib/python")
    providers = run(
        "python",
        "-c",
        "import importlib.metadata as m; print(' '.join(sorted(d.metadata['Name'].lower() "
        "for d in m.distributions())))",
    ).split()
    expected = {"amazon", "celery", "postgres", "redis"}
    if any_image.version.startswith("3."):
        expected |= {"standard", "fab"}
    for name in expected:
        assert f"apache-airflow-providers-{name}" in providers


def test_mwaa_locals_own_modules_are_compiled_in_the_image(any_image, docker_engine):
    """Compiled at build time, not again in every new container (each component, each one-off
    command): every module has its bytecode for the image's Python."""
    missing = docker_engine.containers.run(
        any_image.tag,
        [
            "python",
            "-c",
            "import importlib.util, pathlib; print([str(p) for p in "
            "pathlib.Path('/usr/local/mwaa-local/python').rglob('*.py') "
            "if not pathlib.Path(importlib.util.cache_from_source(p)).exists()])",
        ],
        remove=True,
    ).decode()
    assert missing.strip().splitlines()[-1] == "[]"


def test_image_is_labelled_with_its_versions(any_image, docker_engine):
    labels = docker_engine.images.get(any_image.tag).labels
    assert labels["io.github.mwaa-local.airflow-version"] == any_image.version
    assert labels["io.github.mwaa-local.python-version"] == any_image.python
    assert labels["io.github.mwaa-local.base-image"] == any_image.base_image


def test_image_bakes_no_secrets(any_image, docker_engine):
    out = docker_engine.containers.run(
        any_image.tag,
        ["sh", "-c", "ls /usr/local/airflow; env | grep -ci fernet || true"],
        remove=True,
    ).decode()
    assert "airflow.cfg" not in out.split()
    assert out.strip().splitlines()[-1] == "0"


def test_rebuild_with_nothing_changed_is_a_cache_hit(any_image, tmp_path):
    again = run_cli(
        "--project-dir",
        str(tmp_path),
        "build-image",
        "--airflow-version",
        any_image.version,
        "--base-image",
        any_image.base_image,
        "--quiet",
    )
    assert again.returncode == 0, again.output
    assert "unchanged (layer cache)" in again.stdout


def test_an_image_saved_for_a_team_loads_again(airflow3_image, tmp_path):
    # MWAA's platform, named explicitly, as an Apple Silicon user would.
    archive = tmp_path / "airflow.tar.gz"
    built = run_cli(
        "--project-dir", str(tmp_path), "build-image",
        "--airflow-version", airflow3_image.version, "--base-image", airflow3_image.base_image,
        "--platform", "linux/amd64", "--save", str(archive), "--quiet",
    )  # fmt: skip
    assert built.returncode == 0, built.output
    assert f"Saved {airflow3_image.tag} to {archive}" in built.stdout
    assert archive.stat().st_size > 100 * 2**20
    again = run_cli("build-image", "--airflow-version", airflow3_image.version, "--save",
                    str(archive), "--quiet", "--base-image", airflow3_image.base_image)  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr
    loaded = run_cli("load-image", str(archive))
    assert loaded.returncode == 0, loaded.output
    assert f"Loaded {airflow3_image.tag}." in loaded.stdout
    # Back to the image the other tests use (a layer-cache hit).
    restored = run_cli(
        "--project-dir", str(tmp_path), "build-image",
        "--airflow-version", airflow3_image.version, "--base-image", airflow3_image.base_image,
        "--quiet",
    )  # fmt: skip
    assert restored.returncode == 0, restored.output
