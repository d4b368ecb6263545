"""`mwaa-local validate-prereqs`."""

from dataclasses import asdict

import click
from rich.table import Table
from rich.text import Text

from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, out, print_json, print_table
from mwaa_local.prereqs.checks import Check, run_checks


@click.command("validate-prereqs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
@click.pass_context
def validate_prereqs_command(ctx: click.Context, project: Project, as_json: bool) -> None:
    """Check Docker (or Podman), compose, the web port, disk and memory; under the host runtime,
    uv, MWAA's Python, the port, disk and memory."""
    checks = run_checks(project.environment)
    if as_json:
        print_json([asdict(check) for check in checks])
    else:
        _print_table(checks)
    if not all(check.ok for check in checks):
        err.print(_summary(checks))
        ctx.exit(1)


def _summary(checks: list[Check]) -> Text:
    missing = [c.name for c in checks if not c.ok and c.ran]
    skipped = [c.name for c in checks if not c.ran]
    text = Text.assemble(("Missing: ", "bold red"), ", ".join(missing))
    if skipped:
        text.append(f" (not checked without an engine: {', '.join(skipped)})")
    return text


def _print_table(checks: list[Check]) -> None:
    table = Table("Check", "Status", "Detail")
    for check in checks:
        if not check.ran:
            state = Text("NOT CHECKED", style="bold yellow")
        else:
            state = Text("OK", style="green") if check.ok else Text("MISSING", style="bold red")
        table.add_row(check.name, state, Text(check.detail))
    print_table(table)
    for check in checks:
        if not check.ok and check.hint:
            out.print(Text.assemble(("Hint", "yellow"), f" ({check.name}): {check.hint}"))


COMMANDS = [validate_prereqs_command]
