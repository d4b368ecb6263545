"""`mwaa-local dags check [PATH]`: import every DAG file the way MWAA's scheduler would, in the
environment's image with its plugins and requirements, and report what breaks."""

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from mwaa_local.cli.commands_image import ensure_runtime
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, line, out, print_json, status, styled, warn
from mwaa_local.dags import test as dag_test
from mwaa_local.dags.check import (
    CheckTarget,
    check_target,
    host_folder,
    run_in_scheduler,
    run_one_off,
)
from mwaa_local.dags.report import (
    apply_start_sequence,
    exit_code,
    files_table,
    plugin_lines,
    summary,
    write_junit_xml,
)
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.one_off import CommandRun
from mwaa_local.runtime.select import open_runtime


def scheduler_running(stack: Runtime) -> bool:
    state = stack.states().get("scheduler")
    return state is not None and state.status == "running"


def add_host_paths(report: dict[str, Any], folder: Path) -> None:
    """Name each file as the project does too (relative to the working directory when inside
    it), for people and for CI tools that link a JUnit testcase to its file."""
    for entry in report.get("files", []):
        host = folder / entry["file"]
        relative = os.path.relpath(host)
        entry["host_path"] = str(host) if relative.startswith("..") else relative


def run_check(project: Project, target: CheckTarget, verbose: bool) -> CommandRun:
    """In the running scheduler when it can see PATH, else apart from it (a one-off container,
    or a throwaway folder under the host runtime)."""
    stack = open_runtime(project.environment)
    echo = err.print if verbose else (lambda text: None)
    in_scheduler = target.mount is None and scheduler_running(stack)
    if not in_scheduler:
        ensure_runtime(project, stack)
    where = "the running scheduler" if in_scheduler else dag_test.runtime_one_off(stack)
    spinner = contextlib.nullcontext() if verbose else status(f"Checking DAGs in {where} ...")
    with spinner:
        if in_scheduler:
            return run_in_scheduler(stack, target, echo)
        return run_one_off(stack, target, echo)


def warn_requirements(phases: dict[str, dict[str, Any]]) -> None:
    requirements = phases.get("requirements") or {}
    if not requirements.get("ok", True):
        warn(
            f"requirements failed to install ({requirements.get('diagnosis')}); as on MWAA, "
            "DAGs importing those packages fail. Details: mwaa-local test-requirements"
        )


def show(report: dict[str, Any], label: str) -> None:
    if report.get("fatal"):
        out.print(styled(summary(report), "red"))
        return
    out.print(f"Checked {label} in {report['where']} ({report.get('path')}).")
    if report.get("files"):
        out.print(files_table(report))
    else:
        out.print("No DAG files found (Airflow parses .py files naming both 'airflow' and 'dag').")
    for text in plugin_lines(report):
        out.print(line(("plugin error", "red"), f": {text}"))
    out.print(styled(summary(report), "green" if report.get("ok") else "red"))


@click.group("dags")
def dags() -> None:
    """Check DAG files the way MWAA's scheduler imports them; test-run a DAG."""


@dags.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--junit-xml",
    "junit_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the report as JUnit XML: one testcase per DAG file.",
)
@click.option("--verbose", "-v", is_flag=True, help="Stream the container's log.")
@click.pass_obj
def check_command(
    project: Project, path: Path | None, as_json: bool, junit_file: Path | None, verbose: bool
) -> None:
    """Import every DAG file as MWAA's scheduler would; exit 0 when clean, 1 otherwise.

    Reports import errors (file and line), import timeouts (core.dagbag_import_timeout, 30 s
    unless AirflowConfigurationOptions set it), cycles, duplicate dag_ids, plugin import errors
    and each file's parse time, slowest first.

    PATH is a DAG file or folder; default: the bucket's DagS3Path folder. While the environment
    runs, the check runs in its scheduler (after a DAG sync); otherwise, or for a PATH outside
    the bucket, in a one-off container that first runs the start sequence (plugins.zip, startup
    script, requirements), as the scheduler does.
    """
    environment = project.environment
    bucket = environment.bucket_folder
    target = check_target(bucket, environment.dag_s3_path, path)
    run = run_check(project, target, verbose and not as_json)
    report = {**run.report, "where": run.where}
    add_host_paths(report, host_folder(target, bucket, environment.dag_s3_path))
    if run.phases:
        report["start_sequence"] = run.phases
    apply_start_sequence(report, run.phases)
    code = max(exit_code(report), 1 if run.exit_code else 0)
    if junit_file is not None:
        write_junit_xml(report, junit_file)
    warn_requirements(run.phases)
    if as_json:
        print_json(report)
    else:
        show(report, str(path or bucket / environment.dag_s3_path))
        if junit_file is not None:
            err.print(f"JUnit XML: {junit_file}")
    sys.exit(code)


def option_parser(parse):
    """A click callback turning `parse`'s ValueError into a usage error (exit 2)."""

    def callback(ctx: click.Context, param: click.Parameter, value: str | None):
        try:
            return None if value is None else parse(value)
        except ValueError as e:
            raise click.BadParameter(str(e), ctx, param) from e

    return callback


def print_line(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def run_test(project: Project, request: dag_test.DagTestRequest) -> CommandRun:
    """In the running scheduler, against the stack's database, else apart from it."""
    stack = open_runtime(project.environment)
    if scheduler_running(stack):
        unpaused = dag_test.is_unpaused(stack, request.dag_id)
        if unpaused:
            raise dag_test.refuse_unpaused(request.dag_id)
        if unpaused is None:
            warn(f"could not tell whether {request.dag_id} is paused (the Airflow API did not say)")
        err.print(f"Testing {request.dag_id} in the running scheduler ...")
        return dag_test.run_in_scheduler(stack, request, print_line)
    ensure_runtime(project, stack)
    where = dag_test.runtime_one_off(stack)
    err.print(f"Testing {request.dag_id} in {where} (start sequence first) ...")
    return dag_test.run_one_off(stack, request, print_line)


@dags.command("test")
@click.argument("dag_id")
@click.option(
    "--conf",
    callback=option_parser(dag_test.parse_conf),
    help="The run's conf, a JSON object, e.g. '{\"key\": 1}'.",
)
@click.option(
    "--logical-date",
    callback=option_parser(dag_test.parse_logical_date),
    help="The run's logical date, ISO 8601 (default: now).",
)
@click.pass_obj
def test_command(
    project: Project, dag_id: str, conf: dict[str, Any] | None, logical_date: str | None
) -> None:
    """Run one DAG run of DAG_ID to the end with `airflow dags test`, task logs on stdout; exit
    0 when the run succeeds, 1 when it fails.

    While the environment runs, the run happens in its scheduler (after a DAG sync), against
    its metadata database, with its connections and variables. Otherwise it happens in a
    one-off container that first runs the start sequence and migrates a throwaway SQLite
    database (no connections, variables or pools from the settings).
    """
    run = run_test(project, dag_test.DagTestRequest(dag_id, conf, logical_date))
    dag_test.raise_for_report(run)
    problems, no_pass = dag_test.start_sequence_problems(run)
    for problem in problems:
        warn(problem)
    colour = "green" if dag_test.succeeded(run) else "red"
    err.print(styled(dag_test.summary(run), colour))
    if no_pass and dag_test.succeeded(run):
        err.print(
            line(
                ("FAILED", "red"),
                ": the run used the last copy of the DAG folder, not the bucket's",
            )
        )
    sys.exit(0 if dag_test.succeeded(run) and not no_pass else 1)


COMMANDS = (dags,)
