"""`mwaa-local pytest`: the project's tests/ folder run with pytest in a one-off container from the
environment's image, after the scheduler's start sequence (DAG sync, plugins.zip, startup
script, requirements), by mwaa_local.container.project_pytest.

The container's working directory is $AIRFLOW_HOME, with tests/ mounted read-only beside the
synced dags/ and the unpacked plugins/, so paths in ARGS (tests/test_x.py::test_y) and in the
tests (dags/) read as they do in the project folder.
"""

from collections.abc import Callable
from pathlib import Path

from mwaa_local.container import paths
from mwaa_local.dags.report import apply_start_sequence
from mwaa_local.dags.report import start_sequence_problems as report_problems
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.log_streams import read_phases
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.one_off import CommandRun, last_json_line

ONE_OFF_COMMAND = "project-pytest"
TESTS_FOLDER = "tests"
# pytest's configuration files, mounted beside tests/ when the project has them.
CONFIG_FILES = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", "conftest.py")
# The mounts are read-only: no .pytest_cache, no __pycache__ in the user's folder.
READ_ONLY_OPTIONS = ["-p", "no:cacheprovider"]


def tests_folder(project_dir: Path) -> Path:
    tests = project_dir / TESTS_FOLDER
    if not tests.is_dir():
        raise MwaaLocalError(
            f"{project_dir.resolve()} has no {TESTS_FOLDER}/ folder.",
            hint="Put the project's pytest tests in tests/ (e.g. tests/test_dags.py).",
        )
    return tests


def project_mounts(project_dir: Path) -> dict[str, dict[str, str]]:
    """tests/ and pytest's configuration files, read-only, under $AIRFLOW_HOME."""
    tests = tests_folder(project_dir)
    mounts = {str(tests.resolve()): {"bind": str(paths.AIRFLOW_HOME / TESTS_FOLDER), "mode": "ro"}}
    for name in CONFIG_FILES:
        path = project_dir / name
        if path.is_file():
            mounts[str(path.resolve())] = {"bind": str(paths.AIRFLOW_HOME / name), "mode": "ro"}
    return mounts


def pytest_arguments(args: tuple[str, ...] | list[str]) -> list[str]:
    return [*READ_ONLY_OPTIONS, *args]


def outcome(exit_code: int, stdout: str, tail: str) -> CommandRun:
    """pytest's exit code; an error when the run never reached pytest."""
    report = last_json_line(stdout)
    if report is None:
        raise MwaaLocalError(
            f"The test container exited with {exit_code} and no report.",
            hint=f"Its last output was:\n{tail[-2000:]}",
        )
    if report.get("fatal"):
        raise MwaaLocalError(
            f"The tests did not run: {report['fatal']}",
            hint="The output above says more; the start sequence alone: "
            "mwaa-local test-requirements / mwaa-local test-startup-script",
        )
    return CommandRun(int(report.get("exit_code", exit_code)), report, phases=read_phases(stdout))


def start_sequence_problems(run: CommandRun) -> list[str]:
    """What went wrong before pytest ran (a DAG sync that skipped files, a failed requirements
    install): tests that pass there do not make a pass."""
    found: dict = {}
    apply_start_sequence(found, run.phases)
    return report_problems(found)


def run_pytest(
    runtime: Runtime, args: tuple[str, ...] | list[str], on_line: Callable[[str], None]
) -> CommandRun:
    stderr = LineStream(on_line)
    command = [ONE_OFF_COMMAND, *pytest_arguments(args)]
    mounts = project_mounts(runtime.environment.project_dir)
    exit_code, stdout = runtime.run_one_off(command, stderr, mounts)
    return outcome(exit_code, stdout, "\n".join(stderr.tail))
