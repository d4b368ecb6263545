"""`mwaa-local workflows`: MWAA Serverless workflows, YAML in DAG Factory format."""

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, line, out, print_json, print_table, status, warn
from mwaa_local.workflows import convert as converter
from mwaa_local.workflows import run as runs
from mwaa_local.workflows.rules import ERROR, WARNING
from mwaa_local.workflows.validate import Finding, has_errors, validate_files

COLOURS = {ERROR: "red", WARNING: "yellow"}


@click.group("workflows")
def workflows() -> None:
    """MWAA Serverless workflows: YAML definitions in DAG Factory format."""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def show(findings: list[Finding], files: int) -> None:
    for finding in findings:
        out.print(
            Text.assemble(
                f"{finding.file}:{finding.line}: ",
                (finding.severity, COLOURS.get(finding.severity, "")),
                f": {finding.key}: {finding.message}",
            )
        )
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    checked = _plural(files, "file")
    if errors:
        counts = f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')} in {checked}."
        out.print(line(("FAILED", "red"), ": ", counts))
    else:
        extra = f" ({_plural(warnings, 'warning')})" if warnings else ""
        out.print(line(("OK", "green"), f": {checked} valid for MWAA Serverless{extra}."))


@workflows.command("validate")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.option(
    "--allow-operator",
    "allow_operators",
    multiple=True,
    metavar="CLASS_PATH",
    help="Also accept this operator class (full path); repeatable.",
)
def validate_command(files: tuple[Path, ...], as_json: bool, allow_operators: tuple[str, ...]):
    """Check workflow YAML FILEs against MWAA Serverless's rules; exit 1 on any error.

    DAG level: dag_id, a cron schedule, start_date in the future, end_date, max_active_runs.
    Task level: retries 0-3, retry_delay 0-300 s, execution_timeout at most 3600 s,
    dependencies that name tasks and form no cycle, and operators MWAA Serverless runs (Amazon
    provider operators and EmptyOperator). Parameters the service ignores are warnings.
    With --json: a list of {file, line, key, severity, message}.
    """
    findings = validate_files(files, extra_operators=allow_operators)
    if as_json:
        print_json([f.as_dict() for f in findings])
    else:
        show(findings, len(files))
    sys.exit(1 if has_errors(findings) else 0)


@workflows.command("convert")
@click.argument("dag_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The YAML file to write (default: <dag_id>.yaml here); never overwritten.",
)
def convert_command(dag_file: Path, output: Path | None):
    """Convert a Python DAG file to MWAA Serverless's YAML with AWS's converter.

    Runs python-to-yaml-dag-converter-mwaa-serverless in an environment of its own made by uv
    (the first run downloads it and its Airflow; later runs use uv's cache), then validates
    what it wrote: exit 1 when MWAA Serverless would reject it (the file stays written).
    """
    with status(f"Converting {dag_file} ..."):
        result = converter.convert(dag_file, output)
    for path in result.written:
        out.print(f"Wrote {path}", markup=False)
    findings = validate_files(result.written)
    if has_errors(findings):
        out.print("MWAA Serverless would reject it as written:")
    if findings:
        show(findings, len(result.written))
    sys.exit(1 if has_errors(findings) else 0)


def parse_conf(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        conf = json.loads(value)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not valid JSON ({e})", ctx, param) from e
    if not isinstance(conf, dict):
        raise click.BadParameter("a run's parameters are a JSON object", ctx, param)
    return conf


def show_run(run: runs.WorkflowRun) -> None:
    detail = run.report["RunDetail"]
    table = Table("Task", "Status", "Duration")
    for task in run.report.get("TaskInstances", []):
        took = task.get("DurationInSeconds")
        colour = {"SUCCESS": "green", "FAILED": "red"}.get(task["Status"], "yellow")
        table.add_row(
            task.get("TaskId") or task["TaskInstanceId"],
            Text(task["Status"], colour),
            "-" if took is None else f"{took} s",
        )
    if run.report.get("TaskInstances"):
        print_table(table)
    state = detail["RunState"]
    took = detail.get("Duration")
    parts: list = [f"Workflow {run.name} run {run.run_id}: "]
    parts.append((state, "green" if state == "SUCCESS" else "red"))
    if took is not None:
        parts.append(f" in {took} s")
    if detail.get("ErrorMessage"):
        parts.append(f" ({detail['ErrorMessage']})")
    out.print(line(*parts))
    for task_id, path in run.logs.items():
        out.print(f"Log of {task_id}: {path}", markup=False)


@workflows.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--conf", callback=parse_conf, help="The run's parameters, a JSON object.")
@click.option("--json", "as_json", is_flag=True, help="Print the GetWorkflowRun-shaped result.")
@click.option(
    "--allow-operator",
    "allow_operators",
    multiple=True,
    metavar="CLASS_PATH",
    help="Also accept this operator class (full path); repeatable.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not show the run's log.")
@click.pass_obj
def run_command(
    project: Project,
    file: Path,
    conf: dict[str, Any] | None,
    as_json: bool,
    allow_operators: tuple[str, ...],
    quiet: bool,
) -> None:
    """Run workflow FILE once, as MWAA Serverless would; exit 0 when the run succeeds.

    FILE is validated first (exit 1 on an error, as the service refuses it). Then dag-factory
    builds the DAG and Airflow 3 runs it with `dag.test()` in a one-off container of the Airflow 3
    image, with the region and endpoints the environment's tasks get, and the credentials of its
    credentials service when it runs (else none). Each task's log is written under
    .mwaa-local/<Name>/aws/mwaa-serverless/.
    """
    from mwaa_local.cli.commands_image import ensure_image
    from mwaa_local.runtime.engine import docker_client

    findings = runs.validate_file(file, allow_operators)
    if runs.has_errors(findings):
        show(findings, 1)
        sys.exit(1)
    environment = project.environment
    client = docker_client()
    ensure_image(project, runs.airflow3_version(environment), client)
    err.print(f"Running {file} in a one-off container ...")
    run = runs.run_workflow(
        environment,
        file,
        runs.docker_runner(client, environment),
        conf,
        on_line=(lambda text: None) if quiet or as_json else err.print,
        extra_operators=allow_operators,
    )
    if run.note:
        warn(run.note)
    if as_json:
        print_json(run.report)
    else:
        show_run(run)
    sys.exit(0 if run.succeeded else 1)


COMMANDS = (workflows,)
