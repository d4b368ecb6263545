"""`mwaa-local pytest [ARGS...]`: the project's tests/ with pytest in the environment's image."""

import sys

import click

from mwaa_local.cli.commands_image import ensure_runtime
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, line, warn
from mwaa_local.dags.project_tests import run_pytest, start_sequence_problems, tests_folder
from mwaa_local.dags.test import runtime_one_off
from mwaa_local.runtime.select import open_runtime


def print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@click.command(
    "pytest",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def pytest_command(project: Project, args: tuple[str, ...]) -> None:
    """Run the project's tests/ with pytest in the environment's image; exit with pytest's code.

    The tests run in a one-off container after the scheduler's start sequence (plugins.zip,
    startup script, requirements), from $AIRFLOW_HOME, with the DAG folder and plugins/ on
    sys.path as on MWAA. tests/ (and pytest.ini, pyproject.toml, tox.ini, setup.cfg or
    conftest.py beside it) are mounted read-only. pytest is installed apart from the
    environment's packages unless the requirements already install it. ARGS go to pytest:

        mwaa-local pytest -x -k dags tests/test_dags.py
    """
    environment = project.environment
    tests_folder(environment.project_dir)
    runtime = open_runtime(environment)
    ensure_runtime(project, runtime)
    where = runtime_one_off(runtime)
    err.print(f"Running tests/ with pytest in {where} (start sequence first) ...")
    run = run_pytest(runtime, args, print_line)
    problems = start_sequence_problems(run)
    for problem in problems:
        warn(problem)
    if problems and run.exit_code == 0:
        err.print(
            line(
                ("FAILED", "red"), ": the tests passed, but the start sequence before them did not"
            )
        )
        sys.exit(1)
    sys.exit(run.exit_code)


COMMANDS = (pytest_command,)
