"""package-requirements without a network: resolving and downloading are faked."""

import json
import sys
import zipfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mwaa_local.cli import commands_packaging
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.main import Group
from mwaa_local.errors import MwaaLocalError
from mwaa_local.package_requirements import archive, resolve, tools
from mwaa_local.package_requirements.package import exclude_preinstalled, package_requirements
from mwaa_local.package_requirements.requirements_file import render_requirements
from mwaa_local.package_requirements.resolve import Resolution
from mwaa_local.package_requirements.tools import Pin
from mwaa_local.package_requirements.wheels import pip_target_flags, wheel_fits_mwaa
from mwaa_local.spec import versions
from mwaa_local.spec.settings import Environment, LocalSettings

OFFICIAL_URL = (
    "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
)
CONSTRAINTS_TEXT = "six==1.16.0\nnumpy==1.26.4\nflask==2.2.5\n"

# What the fake resolver returns: MWAA's image (Airflow and its base providers) and the user's set.
BASE_PINS = ["apache-airflow==2.10.3", "Flask==2.2.5", "six==1.16.0", "requests==2.32.3"]
USER_PINS = [
    "apache-airflow==2.10.3",  # pulled in by a provider: left out (9 row 9)
    "flask-appbuilder==4.5.2",  # an essential pin
    "six==1.16.0",  # in the image at this version
    "requests==2.32.4",  # in the image at another version: kept, with a warning
    "numpy==1.26.4",
    "mypkg==1.0",
]


def environment(project: Path, **local) -> Environment:
    return Environment(
        airflow_version=versions.airflow_version("2.10.3"),
        project_dir=project,
        local=LocalSettings(**local),
    )


class FakeResolver:
    tool = "fake"

    def __init__(self, user_pins=USER_PINS, missing=()):
        self.user_pins = user_pins
        self.missing = list(missing)
        self.calls: list[tuple[str, list[str], str]] = []

    def __call__(self, requirements: Path, constraints, python: str) -> Resolution:
        text = requirements.read_text()
        self.calls.append((text, [Path(c).read_text() for c in constraints], python))
        specs = BASE_PINS if "apache-airflow[celery,statsd]==2.10.3" in text else self.user_pins
        pins = [Pin(*spec.split("=="), spec) for spec in specs]
        return Resolution(pins, list(self.missing) if specs is self.user_pins else [])


class FakeDownloader:
    """Writes a wheel named like PyPI's for each pin, except those with no wheel."""

    def __init__(self, no_wheel=(), tags="py3-none-any"):
        self.no_wheel = set(no_wheel)
        self.tags = tags
        self.asked: list[str] = []

    def __call__(self, pin: Pin, dest: Path, python: str) -> Path | None:
        self.asked.append(pin.requirement)
        if pin.name in self.no_wheel:
            return None
        dest.mkdir(parents=True, exist_ok=True)
        wheel = dest / f"{pin.name.replace('-', '_')}-{pin.version}-{self.tags}.whl"
        wheel.write_bytes(f"wheel {pin}".encode())
        return wheel


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "requirements.txt").write_text(
        f'numpy==1.26.4\nmypkg\n--constraint "{OFFICIAL_URL}"\n'
    )
    (tmp_path / "plugins" / "operators").mkdir(parents=True)
    (tmp_path / "plugins" / "operators" / "__init__.py").write_text("")
    (tmp_path / "plugins" / "operators" / "op.py").write_text("class Op: ...\n")
    return tmp_path


def run(project: Path, out: str = "out", resolver=None, downloader=None, **kwargs):
    return package_requirements(
        environment(project),
        project / "requirements" / "requirements.txt",
        project / out,
        CONSTRAINTS_TEXT,
        resolve=resolver or FakeResolver(),
        download=downloader or FakeDownloader(),
        **kwargs,
    )


# --- requirements.txt ---------------------------------------------------------------------------


def test_requirements_txt_starts_with_find_links_and_no_index():
    text = render_requirements(["", "numpy==1.26.4", f'--constraint "{OFFICIAL_URL}"', "", ""])
    assert text.splitlines() == [
        "--find-links /usr/local/airflow/plugins",
        "--no-index",
        "numpy==1.26.4",
        f'--constraint "{OFFICIAL_URL}"',
    ]
    assert text.endswith("\n")


def test_requirements_txt_does_not_repeat_the_offline_lines():
    lines = ["--find-links /usr/local/airflow/plugins/", "--no-index", "six", "# keep me"]
    text = render_requirements(lines)
    assert text.count("--no-index") == 1 and text.count("--find-links") == 1
    assert text.splitlines()[2:] == ["six", "# keep me"]


# --- what is left out ---------------------------------------------------------------------------


def test_airflow_essential_pins_and_image_packages_are_left_out():
    pins = [Pin(*s.split("=="), s) for s in USER_PINS]
    essential = "apache-airflow==2.10.3\n# comment\nFlask-AppBuilder==4.5.2\n"
    base = {"six": "1.16.0", "requests": "2.32.3", "flask": "2.2.5"}
    kept, excluded, warnings = exclude_preinstalled(pins, essential, base)
    assert [p.requirement for p in kept] == ["requests==2.32.4", "numpy==1.26.4", "mypkg==1.0"]
    reasons = {e.name: e.reason for e in excluded}
    assert "Airflow itself" in reasons["apache-airflow"]
    assert "essential" in reasons["flask-appbuilder"]
    assert "already in MWAA's image" in reasons["six"]
    assert len(warnings) == 1 and "requests==2.32.4" in warnings[0] and "2.32.3" in warnings[0]


# --- the whole command, faked -------------------------------------------------------------------


def test_package_writes_plugins_zip_and_requirements(project):
    downloader = FakeDownloader()
    result = run(project, downloader=downloader)
    assert result.ok and result.resolver == "fake"
    assert sorted(downloader.asked) == ["mypkg==1.0", "numpy==1.26.4", "requests==2.32.4"]
    assert [w.name for w in result.wheels] == ["mypkg", "numpy", "requests"]
    assert {e.name for e in result.excluded} == {"apache-airflow", "flask-appbuilder", "six"}
    with zipfile.ZipFile(result.plugins_zip) as archive:
        names = archive.namelist()
    assert "numpy-1.26.4-py3-none-any.whl" in names  # at the root
    assert {"operators/__init__.py", "operators/op.py"} <= set(names)
    assert result.plugins_source == project / "plugins"
    text = result.requirements_txt.read_text()
    assert text.splitlines()[:2] == ["--find-links /usr/local/airflow/plugins", "--no-index"]
    assert f'--constraint "{OFFICIAL_URL}"' in text and "mypkg" in text
    assert any("MWAA downloads it while installing" in w for w in result.warnings)
    data = result.to_json()
    assert data["MissingWheels"] == [] and data["PluginsZip"] == str(result.plugins_zip)


def test_constraints_as_mwaa_applies_them(project):
    resolver = FakeResolver()
    run(project, resolver=resolver)
    user_text, constraints, python = resolver.calls[0]
    assert python == "3.11"
    assert "numpy==1.26.4" in user_text and "--constraint" not in user_text
    # MWAA's essential pins always, then the constraints the file names (the official ones).
    assert constraints[0].startswith("#") and "apache-airflow==2.10.3" in constraints[0]
    assert constraints[1:] == [CONSTRAINTS_TEXT]


def test_official_constraints_added_when_the_file_has_none(project):
    (project / "requirements" / "requirements.txt").write_text("numpy\n")
    resolver = FakeResolver()
    run(project, resolver=resolver)
    assert resolver.calls[0][1][1:] == [CONSTRAINTS_TEXT]


def test_every_package_without_a_wheel_is_listed_and_nothing_written(project):
    downloader = FakeDownloader(no_wheel={"mypkg", "numpy"})
    resolver = FakeResolver(missing=["other==2.0"])
    result = run(project, resolver=resolver, downloader=downloader)
    assert not result.ok
    assert result.missing_wheels == ["mypkg==1.0", "numpy==1.26.4", "other==2.0"]
    assert "requests==2.32.4" in downloader.asked  # the first missing one stopped nothing
    assert result.plugins_zip is None and not (project / "out").exists()


def test_wheel_for_another_platform_counts_as_missing(project):
    downloader = FakeDownloader(tags="cp311-cp311-manylinux_2_17_aarch64")
    result = run(project, downloader=downloader)
    assert result.missing_wheels == ["mypkg==1.0", "numpy==1.26.4", "requests==2.32.4"]


def test_a_wheel_already_in_the_plugins_is_used(project):
    (project / "plugins" / "mypkg-1.0-py3-none-any.whl").write_bytes(b"built on linux")
    downloader = FakeDownloader(no_wheel={"mypkg"})
    result = run(project, downloader=downloader)
    assert result.ok
    assert "mypkg==1.0" not in downloader.asked
    source = {w.name: w.source for w in result.wheels}
    assert source["mypkg"] == "plugins" and source["numpy"] == "index"
    with zipfile.ZipFile(result.plugins_zip) as archive:
        assert archive.read("mypkg-1.0-py3-none-any.whl") == b"built on linux"


def test_unfit_wheels_in_the_plugins_are_warned_about(project):
    (project / "plugins" / "numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl").write_bytes(b"")
    result = run(project)
    assert any("macosx_11_0_arm64" in w and "9 row 10" in w for w in result.warnings)


def test_existing_plugins_zip_is_copied_entry_by_entry_deterministically(project, tmp_path):
    with zipfile.ZipFile(project / "plugins.zip", "w") as archive:
        archive.writestr("hooks/__init__.py", "")
        archive.writestr("hooks/h.py", "x = 1\n")
    first = run(project, "out1")
    second = run(project, "out2")
    assert first.plugins_source == project / "plugins.zip"  # preferred over plugins/
    with zipfile.ZipFile(first.plugins_zip) as archive:
        names = archive.namelist()
        assert archive.read("hooks/h.py") == b"x = 1\n"
    assert "hooks/h.py" in names and "operators/op.py" not in names
    assert "numpy-1.26.4-py3-none-any.whl" in names
    assert first.plugins_zip.read_bytes() == second.plugins_zip.read_bytes()


def test_existing_outputs_are_never_rewritten(project):
    (project / "out").mkdir()
    (project / "out" / "requirements.txt").write_text("mine\n")
    resolver = FakeResolver()
    with pytest.raises(MwaaLocalError, match="never rewrites"):
        run(project, resolver=resolver)
    assert resolver.calls == []
    assert (project / "out" / "requirements.txt").read_text() == "mine\n"


def test_missing_requirements_file_is_a_clear_error(tmp_path):
    with pytest.raises(MwaaLocalError, match="does not exist") as caught:
        package_requirements(
            environment(tmp_path),
            tmp_path / "requirements.txt",
            tmp_path / "out",
            CONSTRAINTS_TEXT,
            resolve=FakeResolver(),
            download=FakeDownloader(),
        )
    assert "--requirements" in caught.value.hint


def test_missing_constraints_file_named_in_requirements_is_a_clear_error(project):
    (project / "requirements" / "requirements.txt").write_text("six\n-c my-constraints.txt\n")
    with pytest.raises(MwaaLocalError, match="my-constraints.txt"):
        run(project)


def test_default_sources(project):
    env = environment(project)
    assert archive.default_requirements_file(env) == project / "requirements" / "requirements.txt"
    assert archive.default_plugins_source(env) == project / "plugins"
    (project / "plugins.zip").write_bytes(b"")
    assert archive.default_plugins_source(env) == project / "plugins.zip"


# --- wheel tags and pip's output ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wheel", "fits"),
    [
        ("six-1.16.0-py2.py3-none-any.whl", True),
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
        ("cryptography-42.0.8-cp39-abi3-manylinux_2_28_x86_64.whl", True),
        ("x-1.0-cp311-cp311-manylinux_2_34_x86_64.whl", True),
        ("x-1.0-cp311-cp311-manylinux1_x86_64.whl", True),
        ("x-1.0-cp311-cp311-manylinux_2_35_x86_64.whl", False),  # newer glibc than AL2023's
        ("numpy-1.26.4-cp311-cp311-manylinux_2_17_aarch64.whl", False),
        ("numpy-1.26.4-cp311-cp311-macosx_11_0_arm64.whl", False),
        ("numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.whl", False),
        ("x-1.0-cp311-cp311-musllinux_1_1_x86_64.whl", False),
        ("x-1.0-cp311-cp311-win_amd64.whl", False),
        ("x-1.0.tar.gz", False),
    ],
)
def test_wheel_fits_mwaa(wheel, fits):
    assert wheel_fits_mwaa(wheel, "3.11") is fits


def test_split_specs_keeps_extras_whole():
    specs = resolve._split_specs("apache-airflow[celery,statsd]==2.10.3, a==1 and b")
    assert specs == ["apache-airflow[celery,statsd]==2.10.3", "a==1", "b"]


def test_pip_conflict_output_is_checked_for_missing_wheels(tmp_path):
    output = (
        "ERROR: Cannot install apache-airflow[celery]==2.10.3 because these package versions "
        "have conflicting dependencies.\nThe conflict is caused by:\n"
        "    apache-airflow[celery] 2.10.3 depends on dill>=0.2.2\n"
        "    The user requested (constraint) dill==0.3.1.1\n"
    )
    probe = FakeDownloader(no_wheel={"dill"})
    assert resolve._without_wheels(output, tmp_path, "3.11", probe) == ["dill==0.3.1.1"]
    assert sorted(probe.asked) == ["apache-airflow[celery]==2.10.3", "dill==0.3.1.1"]
    assert resolve._without_wheels("No matching distribution found for a==1\n", tmp_path, "3.11",
                              probe) == ["a==1"]  # fmt: skip


def fake_pip(stderr: str, code: int = 1) -> list[str]:
    """A command that behaves like a failing pip: prints `stderr`, exits `code`."""
    script = f"import sys; sys.stderr.write({stderr!r}); sys.exit({code})"
    return [sys.executable, "-c", script]


def test_downloader_reports_no_wheel_as_none(tmp_path):
    pip = fake_pip("ERROR: No matching distribution found for docopt==0.6.2\n")
    download = tools.pip_downloader(pip)
    assert download(Pin("docopt", "0.6.2", "docopt==0.6.2"), tmp_path, "3.11") is None


def test_downloader_network_failure_is_a_clear_error(tmp_path):
    pip = fake_pip(
        "WARNING: Retrying ... NewConnectionError('Failed to establish a new connection')\n"
        "ERROR: Could not find a version that satisfies the requirement six==1.16.0\n"
    )
    download = tools.pip_downloader(pip)
    with pytest.raises(MwaaLocalError, match="could not reach the package index") as caught:
        download(Pin("six", "1.16.0", "six==1.16.0"), tmp_path, "3.11")
    assert "SSL_CERT_FILE" in caught.value.hint


def test_pip_target_flags_name_mwaa_platform_and_python():
    flags = pip_target_flags("3.12")
    assert "--only-binary=:all:" in flags
    platforms = [flags[i + 1] for i, f in enumerate(flags) if f == "--platform"]
    assert {"manylinux2014_x86_64", "manylinux_2_28_x86_64", "any"} <= set(platforms)
    assert not any("aarch64" in p or "macosx" in p for p in platforms)
    assert flags[flags.index("--python-version") + 1] == "3.12"
    assert flags[flags.index("--implementation") + 1] == "cp"


# --- the CLI command ----------------------------------------------------------------------------


@click.group(cls=Group)
@click.pass_context
def cli(ctx):
    ctx.obj = ctx.obj


cli.add_command(commands_packaging.package_requirements_command)


def invoke(monkeypatch, project: Path, *args, no_wheel=()):
    def fake(*a, **kw):
        return package_requirements(
            *a, **kw, resolve=FakeResolver(), download=FakeDownloader(no_wheel=no_wheel)
        )

    monkeypatch.setattr(commands_packaging, "package_requirements", fake)
    mirror = project / "mirror"
    (mirror / "constraints-2.10.3").mkdir(parents=True, exist_ok=True)
    (mirror / "constraints-2.10.3" / "constraints-3.11.txt").write_text(CONSTRAINTS_TEXT)
    (project / "mwaa-local.yaml").write_text('AirflowVersion: "2.10.3"\n')
    env = {"MWAA_LOCAL_CONSTRAINTS_MIRROR": str(mirror)}
    return CliRunner().invoke(
        cli, ["package-requirements", *args], obj=Project(project, None), env=env
    )


def test_cli_writes_to_the_default_folder(monkeypatch, project):
    result = invoke(monkeypatch, project)
    assert result.exit_code == 0, result.output
    assert (project / "mwaa-package" / "plugins.zip").is_file()
    assert (project / "mwaa-package" / "requirements.txt").is_file()
    assert "numpy" in result.output and "Wrote" in result.output


def test_cli_names_every_missing_wheel_and_exits_1(monkeypatch, project):
    result = invoke(monkeypatch, project, "--json", no_wheel={"mypkg", "numpy"})
    assert result.exit_code == 1
    assert "mypkg==1.0, numpy==1.26.4" in result.output
    assert "build one on Linux x86_64" in result.output
    assert "Traceback" not in result.output
    output = result.output
    data = json.loads(output[output.index("{") : output.rindex("}") + 1])
    assert data["MissingWheels"] == ["mypkg==1.0", "numpy==1.26.4"]
    assert not (project / "mwaa-package").exists()


def test_cli_missing_requirements_file(monkeypatch, project):
    result = invoke(monkeypatch, project, "--requirements", str(project / "nope.txt"))
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
