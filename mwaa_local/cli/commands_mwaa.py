"""Commands that test MWAA's start sequence without a running stack: `test-requirements` and
`test-startup-script`. Both run the container entrypoint's own code in a one-off container."""

import sys

import click
from rich.table import Table

from mwaa_local.cli.commands_image import ensure_runtime
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, line, out, print_json, print_table, styled
from mwaa_local.runtime.one_off import CommandRun, run_test_command
from mwaa_local.runtime.select import open_runtime

COMPONENTS = ("scheduler", "worker", "webserver")


def run_in_image(project: Project, command: str, component: str, quiet: bool) -> CommandRun:
    runtime = open_runtime(project.environment)
    ensure_runtime(project, runtime, quiet=quiet)
    echo = (lambda text: None) if quiet else err.print
    return run_test_command(runtime, command, component, echo)


component_option = click.option(
    "--component",
    type=click.Choice(COMPONENTS),
    default="worker",
    show_default=True,
    help="The MWAA component to run as (MWAA_AIRFLOW_COMPONENT).",
)


@click.command("test-requirements")
@component_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="Do not stream the install log.")
@click.pass_obj
def test_requirements_command(project: Project, component: str, as_json: bool, quiet: bool):
    """Install requirements.txt as MWAA would, in a one-off container; exit 0 or 1."""
    run = run_in_image(project, "test-requirements", component, quiet or as_json)
    report = run.report
    if as_json:
        print_json(report)
        sys.exit(run.exit_code)
    if report.get("fatal"):
        out.print(line(("FAILED", "red"), f": {report['fatal']}"))
        sys.exit(1)
    requirements = report.get("requirements") or {}
    if not requirements.get("ran") and not requirements.get("unchanged"):
        out.print(f"No requirements file at {requirements.get('path') or 'RequirementsS3Path'}.")
        sys.exit(run.exit_code)
    for message in requirements.get("messages", []):
        out.print(message)
    for note in requirements.get("notes", []):
        out.print(f"mwaa-local: {note}")
    if requirements.get("ok"):
        installed = requirements.get("installed", [])
        added = ", ".join(installed) or "none (all present)"
        seconds = requirements.get("duration", 0)
        out.print(
            line(
                ("OK", "green"),
                f": requirements install in {seconds:.1f} s; {len(installed)} package(s) added: "
                f"{added}",
            )
        )
    else:
        for text in requirements.get("error_tail", []):
            out.print(text)
        out.print(line(("FAILED", "red"), f": {requirements.get('diagnosis')}"))
    sys.exit(run.exit_code)


@click.command("test-startup-script")
@component_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def test_startup_script_command(project: Project, component: str, as_json: bool) -> None:
    """Run the startup script exactly as a component would; exit non-zero on failure."""
    run = run_in_image(project, "test-startup-script", component, as_json)
    report = run.report["startup_script"]
    if as_json:
        print_json(run.report)
        sys.exit(run.exit_code)
    if not report["ran"]:
        out.print(f"No startup script at {report['path']}.")
        sys.exit(run.exit_code)
    table = Table("Result", "Value", show_header=False)
    table.add_row("duration", f"{report['duration']:.2f} s")
    table.add_row("exit status", "timed out" if report["timed_out"] else str(report["exit_status"]))
    table.add_row("exported", ", ".join(report["exported"]) or "-")
    table.add_row("restored (reserved)", ", ".join(report["restored"]) or "-")
    if report["overridden_by_options"]:
        table.add_row("overridden by options", ", ".join(report["overridden_by_options"]))
    if report.get("ended_by_exec"):
        table.add_row("shell replaced by exec", report["ended_by_exec"])
    if report.get("environment_lost"):
        table.add_row(
            "environment", styled("not read back: no export reaches the component", "red")
        )
    print_table(table)
    verdict = ("OK", "green") if run.exit_code == 0 else ("FAILED", "red")
    out.print(line(verdict, ": ", report["summary"]))
    sys.exit(run.exit_code)


COMMANDS = [test_requirements_command, test_startup_script_command]
