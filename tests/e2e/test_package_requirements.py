"""package-requirements against the real package index, with this machine's pip and uv."""

import json
import os
import sys
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mwaa_local.cli.commands_packaging import package_requirements_command
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.main import Group
from mwaa_local.mwaa.constraints import official_constraints
from mwaa_local.package_requirements.package import package_requirements
from mwaa_local.package_requirements.resolve import pip_resolver
from mwaa_local.package_requirements.wheels import wheel_fits_mwaa
from mwaa_local.spec.settings import load_environment

pytestmark = pytest.mark.e2e

# The official constraints URL may be unreachable; shared/ beside the repo holds a mirror.
SHARED_MIRROR = Path(__file__).resolve().parents[3] / "shared" / "constraints"
MIRROR = os.environ.get("MWAA_LOCAL_CONSTRAINTS_MIRROR") or (
    str(SHARED_MIRROR) if SHARED_MIRROR.is_dir() else ""
)


@click.group(cls=Group)
def cli() -> None:
    """The real command under the real error rendering (no registration needed)."""


cli.add_command(package_requirements_command)


def make_project(root: Path, airflow: str, requirements: str) -> Path:
    (root / "requirements").mkdir(parents=True)
    (root / "requirements" / "requirements.txt").write_text(requirements)
    (root / "plugins" / "operators").mkdir(parents=True)
    (root / "plugins" / "operators" / "__init__.py").write_text("")
    (root / "plugins" / "operators" / "my_operator.py").write_text("class MyOperator: ...\n")
    local = f"Local:\n  ConstraintsMirror: {MIRROR}\n" if MIRROR else ""
    (root / "mwaa-local.yaml").write_text(f'AirflowVersion: "{airflow}"\n{local}')
    return root


def invoke(project: Path, *args: str):
    env = {"MWAA_LOCAL_CONSTRAINTS_MIRROR": MIRROR} if MIRROR else {}
    return CliRunner().invoke(
        cli, ["package-requirements", *args], obj=Project(project, None), env=env
    )


def json_of(output: str) -> dict:
    return json.loads(output[output.index("{") : output.rindex("}") + 1])


def test_wheels_for_mwaa_platform_land_at_the_zip_root(tmp_path):
    project = make_project(tmp_path, "2.10.3", "six\nnumpy==1.26.4\npyyaml-include==1.3\n")
    result = invoke(project, "--json")
    assert result.exit_code == 0, result.output
    data = json_of(result.output)
    wheels = {w["Name"].lower(): w["Wheel"] for w in data["Wheels"]}

    numpy = wheels["numpy"]
    assert numpy.startswith("numpy-1.26.4-cp311-cp311-") and "x86_64" in numpy
    assert "manylinux" in numpy
    assert wheels["pyyaml-include"] == "pyyaml_include-1.3-py3-none-any.whl"
    assert all(wheel_fits_mwaa(w, "3.11") for w in wheels.values())
    # six is in MWAA's image already (an Airflow dependency), so it is not bundled.
    excluded = {e["Name"].lower(): e["Reason"] for e in data["Excluded"]}
    assert "six" in excluded and "six" not in wheels
    assert data["MissingWheels"] == []

    with zipfile.ZipFile(project / "mwaa-package" / "plugins.zip") as archive:
        names = archive.namelist()
        assert archive.read("operators/my_operator.py") == b"class MyOperator: ...\n"
    assert set(wheels.values()) <= set(names)  # at the root, where --find-links looks
    requirements = (project / "mwaa-package" / "requirements.txt").read_text().splitlines()
    assert requirements[:2] == ["--find-links /usr/local/airflow/plugins", "--no-index"]
    assert requirements[2:] == ["six", "numpy==1.26.4", "pyyaml-include==1.3"]


def test_python_312_environment_gets_cp312_wheels(tmp_path):
    project = make_project(tmp_path, "3.0.6", "numpy\n")
    result = invoke(project, "--json")
    assert result.exit_code == 0, result.output
    wheels = [w["Wheel"] for w in json_of(result.output)["Wheels"]]
    assert any(w.startswith("numpy-1.26.4-cp312-cp312-") and "x86_64" in w for w in wheels)


def test_sdist_only_package_is_named_and_nothing_is_written(tmp_path):
    # docopt 0.6.2 ships only an sdist; MWAA's --no-index install could not use it.
    project = make_project(
        tmp_path, "2.10.3", "docopt==0.6.2\nnumpy==1.26.4\npyyaml-include==1.3\n"
    )
    result = invoke(project, "--json")
    assert result.exit_code == 1
    assert "docopt==0.6.2" in result.output and "Traceback" not in result.output
    assert "build one on Linux x86_64" in result.output
    data = json_of(result.output)
    assert data["MissingWheels"] == ["docopt==0.6.2"]
    assert {w["Name"].lower() for w in data["Wheels"]} == {"numpy", "pyyaml-include"}
    assert not (project / "mwaa-package").exists()


def test_pip_alone_packages_the_same_wheels(tmp_path):
    """The fallback when uv is not installed: pip resolves from wheels only."""
    project = make_project(tmp_path, "2.10.3", "numpy==1.26.4\npyyaml-include==1.3\n")
    environment = load_environment(project)
    constraints = official_constraints(
        environment.airflow_version, environment.local.constraints_mirror, tmp_path / "cache"
    )
    result = package_requirements(
        environment,
        project / "requirements" / "requirements.txt",
        project / "out",
        constraints,
        resolve=pip_resolver([sys.executable, "-m", "pip"]),
    )
    assert result.ok and result.resolver == "pip"
    wheels = {w.name.lower(): w.wheel for w in result.wheels}
    assert wheels["numpy"].startswith("numpy-1.26.4-cp311-cp311-")
    assert wheels["pyyaml-include"] == "pyyaml_include-1.3-py3-none-any.whl"
    names = zipfile.ZipFile(result.plugins_zip).namelist()
    assert wheels["numpy"] in names and "operators/my_operator.py" in names
