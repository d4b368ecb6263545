"""`mwaa-local airflow ...`: the Airflow CLI in the running environment. Kept to a module of its
own, which loads the runtimes only when the direct path does not apply, because it is the
command a user runs most often and waits on each time (issue 16: ≤ 0.5 s of overhead)."""

import sys

import click

from mwaa_local.cli.commands_settings import Project
from mwaa_local.runtime import direct_exec


@click.command(
    "airflow",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def airflow_command(project: Project, args: tuple[str, ...]) -> None:
    """Run an Airflow CLI command inside the running stack (its database, its config)."""
    code = direct_exec.exec_airflow(project.environment, args)
    if code is None:
        # Another runtime, or a stack that is not as expected: the full path, with its errors.
        from mwaa_local.runtime.select import open_runtime

        runtime = open_runtime(project.environment)
        runtime.require_running()
        code = runtime.exec_airflow(args)
    sys.exit(code)


COMMANDS = [airflow_command]
