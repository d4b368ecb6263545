"""`mwaa-local workflows`: MWAA Serverless workflows, YAML in DAG Factory format."""

import sys
from pathlib import Path

import click
from rich.text import Text

from mwaa_local.cli.output import line, out, print_json, status
from mwaa_local.workflows import convert as converter
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


COMMANDS = (workflows,)
