"""`mwaa-local upgrade-check --to VERSION`: will the project survive MWAA's version change?"""

import contextlib
import sys
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from mwaa_local.cli.commands_image import ensure_runtime
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, line, out, print_json, status, styled
from mwaa_local.dags.report import files_table, plugin_lines, summary
from mwaa_local.runtime.select import open_runtime
from mwaa_local.spec import versions
from mwaa_local.upgrade import check as upgrade_check

PART_TITLES = {
    upgrade_check.REQUIREMENTS: "Requirements test",
    upgrade_check.DAG_CHECK: "DAG check",
    upgrade_check.LINT: "Airflow 3 lint",
}
ERROR_TAIL_LINES = 15


def _status(message: str, verbose: bool) -> contextlib.AbstractContextManager:
    return contextlib.nullcontext() if verbose else status(message)


def _ok(part: dict[str, Any]) -> Text:
    return styled("OK", "green") if part.get("ok") else styled("FAILED", "red")


def show_requirements(part: dict[str, Any]) -> None:
    requirements = part.get("requirements") or {}
    if not part.get("ok"):
        for text in (requirements.get("error_tail") or [])[-ERROR_TAIL_LINES:]:
            out.print(f"    {text}")
    colour = "green" if part.get("ok") else "red"
    out.print(styled(upgrade_check.requirements_line(part), colour))


def show_dag_check(part: dict[str, Any]) -> None:
    if part.get("ran") is False:
        out.print(line(("NOT RUN", "red"), f": {part.get('reason')}"))
        return
    if part.get("files"):
        out.print(files_table(part))
    for text in plugin_lines(part):
        out.print(line(("plugin error", "red"), f": {text}"))
    out.print(styled(summary(part), "green" if part.get("ok") else "red"))


def lint_table(findings: list[dict[str, Any]]) -> Table:
    table = Table("File:line", "Rule", "Problem")
    for finding in findings:
        style = "red" if finding["severity"] == "error" else "yellow"
        table.add_row(
            f"{finding['file']}:{finding['line']}",
            Text(finding["code"], style=style),
            finding["message"],
        )
    return table


def show_lint(part: dict[str, Any]) -> None:
    if not upgrade_check.applies(part):
        out.print(f"not needed: {part.get('reason')}")
        return
    if not part.get("ran"):
        out.print(line(("NOT RUN", "red"), f": {part.get('reason')}"))
        return
    if part.get("fatal"):
        out.print(line(("FAILED", "red"), f": {part['fatal']}"))
        return
    where = ", ".join(part.get("paths", [])) or "nothing to lint"
    out.print(f"ruff {part['ruff']} --select {part['select']} --preview on {where}")
    if part["findings"]:
        out.print(lint_table(part["findings"]))
    for name, why in sorted((part.get("not_linted") or {}).items()):
        out.print(line(("not linted", "red"), f": {name} ({why})"))
    counts = (
        f"{part['errors']} error(s) (removed or moved in Airflow 3), "
        f"{part['warnings']} warning(s) (still work on 3.x, deprecated)"
    )
    if part.get("not_linted"):
        counts += f", {len(part['not_linted'])} file(s) not linted"
    out.print(line(_ok(part), f": {counts}"))
    if part.get("fixable"):
        paths = " ".join(part.get("fix_paths") or ["PATH"])
        out.print(
            f"{part['fixable']} have a fix: ruff check --select {part['select']} --preview --fix "
            f"{paths} (some need --unsafe-fixes; review the diff)"
        )


def show(report: dict[str, Any]) -> None:
    out.print(f"Upgrade check: Airflow {report['from']} -> {report['to']} ({report['image']})")
    in_place = report[upgrade_check.IN_PLACE]
    allowed = "allowed" if in_place["allowed"] else styled("not allowed", "yellow")
    out.print(line("MWAA in place: ", allowed, f". {in_place['message']}"))
    shows = {
        upgrade_check.REQUIREMENTS: show_requirements,
        upgrade_check.DAG_CHECK: show_dag_check,
        upgrade_check.LINT: show_lint,
    }
    for number, name in enumerate(upgrade_check.CHECKED_PARTS, start=1):
        out.print(styled(f"\n{number}. {PART_TITLES[name]}", "bold"))
        shows[name](report[name])
    if report["ok"]:
        out.print(
            line(
                "\n",
                ("OK", "green"),
                f": the project passes every check for Airflow {report['to']}.",
            )
        )
    else:
        failed = ", ".join(
            PART_TITLES[name] + (" (did not run)" if name in report.get("not_run", ()) else "")
            for name in report["failed"]
        )
        out.print(line("\n", ("FAILED", "red"), f" for Airflow {report['to']}: {failed}."))


@click.command("upgrade-check")
@click.option(
    "--to",
    "target_name",
    required=True,
    metavar="VERSION",
    type=click.Choice(versions.supported_names()),
    help="The MWAA Airflow version to move to: " + ", ".join(versions.supported_names()) + ".",
)
@click.option("--json", "as_json", is_flag=True, help="Print one combined report as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Stream the containers' logs.")
@click.pass_obj
def upgrade_check_command(project: Project, target_name: str, as_json: bool, verbose: bool):
    """Check the project against another Airflow version before upgrading; exit 0 or 1.

    In the target version's image (built when missing): the requirements test (as
    test-requirements, with the target's constraints) and the DAG check (as dags check, in a
    one-off container). From Airflow 2 to 3, also ruff's Airflow 3 rules (AIR3, with --preview)
    on the DAG folder and plugins: AIR301/AIR302/AIR303 fail, AIR311/AIR312 and the rest warn.
    Says whether MWAA allows the change in place; that line does not change the exit status.
    """
    environment = project.environment
    target = versions.airflow_version(target_name)
    target_environment = upgrade_check.target_environment(environment, target)
    verbose = verbose and not as_json
    echo = err.print if verbose else (lambda text: None)

    with _status("Linting for Airflow 3 ...", verbose):
        lint = upgrade_check.lint_step(environment, target)
    runtime = open_runtime(target_environment)
    # With --json, stdout is the report's alone.
    to_stderr = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with to_stderr:
        ensure_runtime(project, runtime, target, quiet=as_json)
    with _status(f"Testing requirements on Airflow {target.airflow} ...", verbose):
        requirements = upgrade_check.requirements_step(runtime, echo)
    with _status(f"Checking DAGs on Airflow {target.airflow} ...", verbose):
        dag_check = upgrade_check.dag_check_step(runtime, echo)

    report = upgrade_check.assemble(
        environment.airflow_version, target, requirements, dag_check, lint
    )
    if as_json:
        print_json(report)
    else:
        show(report)
    sys.exit(upgrade_check.exit_code(report))


COMMANDS = (upgrade_check_command,)
