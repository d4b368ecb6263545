"""`mwaa-local pytest`'s pure parts: the mounts, the arguments, the in-container pytest install
and sys.path, the outcome; and ARGS passing through the click command untouched."""

import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mwaa_local.cli import commands_pytest
from mwaa_local.cli.commands_settings import Project
from mwaa_local.container import project_pytest as pytest_runner
from mwaa_local.dags import project_tests as project_pytest
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.one_off import CommandRun


class ImageThere:
    """A runtime whose image is built (what `pytest` asks before it runs)."""

    name = "docker"

    def __init__(self, environment):
        self.environment = environment

    def prepared(self, version, cache_dir):
        return True


def test_mounts_tests_and_pytest_config_read_only_under_airflow_home(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "README.md").write_text("")
    mounts = project_pytest.project_mounts(tmp_path)
    assert mounts == {
        str(tmp_path / "tests"): {"bind": "/usr/local/airflow/tests", "mode": "ro"},
        str(tmp_path / "pyproject.toml"): {
            "bind": "/usr/local/airflow/pyproject.toml",
            "mode": "ro",
        },
    }


def test_a_project_without_tests_is_an_error(tmp_path):
    with pytest.raises(MwaaLocalError, match="no tests/ folder"):
        project_pytest.project_mounts(tmp_path)


def test_arguments_disable_the_cache_then_pass_args_as_given():
    assert project_pytest.pytest_arguments(("-k", "a b", "tests/x.py")) == [
        "-p", "no:cacheprovider", "-k", "a b", "tests/x.py"
    ]  # fmt: skip


def test_outcome_is_pytests_exit_code():
    assert project_pytest.outcome(1, 'x\n{"exit_code": 1}\n', "").exit_code == 1
    assert project_pytest.outcome(5, '{"exit_code": 5}', "").exit_code == 5


def test_outcome_without_pytest_is_an_error():
    with pytest.raises(MwaaLocalError, match="did not run: RuntimeError: uv"):
        project_pytest.outcome(3, '{"fatal": "RuntimeError: uv", "exit_code": 3}', "")
    with pytest.raises(MwaaLocalError, match="did not run: requirements"):
        project_pytest.outcome(1, '{"ok": false, "fatal": "requirements failed"}', "")
    with pytest.raises(MwaaLocalError, match="no report") as caught:
        project_pytest.outcome(137, "", "killed")
    assert "killed" in caught.value.hint


# --- in the container ---------------------------------------------------------------------------


def test_installed_pins_normalise_names_and_keep_the_first_on_sys_path():
    pins = pytest_runner.installed_pins(
        [("Pluggy", "1.5.0"), ("pluggy", "0.1"), ("zope.interface", "6.0"), ("", "1"), ("x", "2")]
    )
    assert pins == ["pluggy==1.5.0", "x==2", "zope-interface==6.0"]


def test_install_command_targets_a_folder_under_the_installed_versions():
    command = pytest_runner.install_command("/t/site", "/t/installed.txt", {})
    assert command[:3] == ["uv", "pip", "install"]
    assert command[command.index("--target") + 1] == "/t/site"
    assert command[command.index("--constraint") + 1] == "/t/installed.txt"
    assert command[command.index("--python") + 1] == sys.executable
    assert command[-1] == "pytest"


def test_install_command_uses_pips_index_when_uv_has_none():
    index = "https://pypi.example.com/simple"
    command = pytest_runner.install_command("/t", "/c", {"PIP_INDEX_URL": index})
    assert command[-2:] == ["--default-index", index]
    uv_set = {"PIP_INDEX_URL": index, "UV_DEFAULT_INDEX": "https://other/simple"}
    assert "--default-index" not in pytest_runner.install_command("/t", "/c", uv_set)


def test_sys_path_gets_the_dag_folder_and_plugins():
    home = "/usr/local/airflow"
    assert pytest_runner.sys_path_additions(home, None) == [f"{home}/dags", f"{home}/plugins"]
    assert pytest_runner.sys_path_additions(home, "/d")[0] == "/d"


# --- the command --------------------------------------------------------------------------------


def test_args_pass_through_to_pytest(tmp_path, monkeypatch):
    (tmp_path / "tests").mkdir()
    seen = {}

    def fake_run(runtime, args, on_line):
        seen["args"] = args
        return CommandRun(5, {"exit_code": 5})

    monkeypatch.setattr(commands_pytest, "open_runtime", ImageThere)
    monkeypatch.setattr(commands_pytest, "run_pytest", fake_run)
    group = click.Group(commands={"pytest": commands_pytest.pytest_command})
    args = ["pytest", "-x", "--tb=short", "-k", "dags and not slow", "tests/test_a.py::t"]
    result = CliRunner().invoke(group, args, obj=Project(Path(tmp_path), None))
    assert result.exit_code == 5, result.output
    assert seen["args"] == ("-x", "--tb=short", "-k", "dags and not slow", "tests/test_a.py::t")


@pytest.mark.parametrize(
    ("phases", "says"),
    [
        ({"requirements": {"ok": False, "diagnosis": "boto3 conflicts"}},
         "requirements failed to install: boto3 conflicts"),
        ({"dag_sync": {"ok": True, "skipped": {"private.py": "Permission denied"}}},
         "1 file(s) unreadable in the bucket, not synced or checked: private.py"),
    ],
)  # fmt: skip
def test_passing_tests_after_a_broken_start_sequence_do_not_pass(
    tmp_path, monkeypatch, phases, says
):
    (tmp_path / "tests").mkdir()
    monkeypatch.setattr(commands_pytest, "open_runtime", ImageThere)
    monkeypatch.setattr(
        commands_pytest,
        "run_pytest",
        lambda runtime, args, on_line: CommandRun(0, {"exit_code": 0}, phases=phases),
    )
    group = click.Group(commands={"pytest": commands_pytest.pytest_command})
    result = CliRunner().invoke(group, ["pytest"], obj=Project(Path(tmp_path), None))
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert "the tests passed, but the start sequence before them did not" in result.output
