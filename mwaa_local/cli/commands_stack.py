"""The commands users run all day: start, stop, restart, status, logs, reset-db, shell, airflow."""

import contextlib
import sys
import time
from collections.abc import Mapping

import click
from rich.live import Live
from rich.table import Table
from rich.text import Text

from mwaa_local.aws.stack_credentials import prepare_for_start
from mwaa_local.bucket.versions import OBJECT_KINDS
from mwaa_local.cli.commands_credentials import report_start_check
from mwaa_local.cli.commands_image import ensure_image
from mwaa_local.cli.commands_objects import apply_loaded, project_objects
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import err, out, print_json, warn
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.update import (
    PendingChange,
    environment_settings,
    pending_changes,
    record_create,
    shown_status,
)
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.log_streams import log_group
from mwaa_local.prereqs.checks import PORT_HINT, port_free
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.stack import ServiceState, Stack, environment_status


def open_stack(project: Project) -> Stack:
    return Stack(project.environment, docker_client())


def progress_line(states: Mapping[str, ServiceState]) -> Text:
    parts = []
    for service, state in sorted(states.items()):
        word = "ready" if state.ready else (state.health or state.status)
        parts.append(f"{service} {word}")
    return Text("starting: " + ", ".join(parts))


def check_port_free(address: str, port: int) -> None:
    if not port_free(address, port):
        raise MwaaLocalError(
            f"Port {port} on {address} is already in use, so the Airflow UI cannot be published.",
            hint=f"Stop what uses it, or {PORT_HINT} (each environment needs its own port).",
        )


def start_stack(stack: Stack, timeout: float) -> float:
    """Bring the stack up and wait until every component is ready; return the seconds taken.

    A failed requirements install does not stop the components (as on MWAA, DAGs that import
    the missing packages break instead), but it makes this fail, naming what went wrong."""
    started = time.monotonic()
    stack.up()
    try:
        with Live(Text("starting"), console=err, transient=True, refresh_per_second=4) as live:
            stack.wait_until_ready(timeout, lambda states: live.update(progress_line(states)))
    finally:
        streams = stack.export_log_streams()
    seconds = time.monotonic() - started
    failed = stack.failed_requirements()
    if failed:
        first = next(iter(failed.values()))
        for line in first.get("error_tail", []):
            err.print(line, markup=False, highlight=False)
        raise MwaaLocalError(
            f"Requirements failed to install on {', '.join(failed)}: {first.get('diagnosis')}",
            hint="The components run, as on MWAA, but DAGs importing those packages break. "
            f"Logs: {streams}. Check a fix with `mwaa-local test-requirements`.",
        )
    return seconds


@click.command("start")
@click.option("--foreground", is_flag=True, help="Follow the logs after start; Ctrl-C stops.")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for health.")
@click.pass_obj
def start_command(project: Project, foreground: bool, timeout: int) -> None:
    """Start the environment and wait until every component is healthy."""
    environment = project.environment
    stack = open_stack(project)
    if not stack.is_running():
        check_port_free(environment.local.bind_address, environment.local.webserver_port)
    # Issue 12: the tasks' AWS credentials are checked first, so a stale login fails in seconds.
    aws_check = prepare_for_start(stack)
    ensure_image(project, environment.airflow_version, stack.client)
    objects = project_objects(environment)  # a bad airflow-objects.yaml fails before starting
    pending = record_create(stack)
    seconds = start_stack(stack, timeout)
    username, password = stack.admin_credentials()
    local = environment.local
    out.print(f"Environment {environment.name} is AVAILABLE ({seconds:.1f} s).")
    out.print(f"  Airflow UI: http://{local.bind_address}:{local.webserver_port}")
    out.print(f"  Login:      {username} / {password}")
    report_start_check(aws_check)
    if objects is not None:
        apply_loaded(stack, objects, out)
    if pending:
        names = ", ".join(f"{c.what} ({c.wanted})" for c in pending)
        warn(f"Started on the applied versions; not applied yet: {names}. Run `mwaa-local update`.")
    if foreground:
        try:
            stack.show_logs(tail="0", follow=True)
        except KeyboardInterrupt:
            pass
        finally:
            err.print("Stopping (the metadata database is kept) ...")
            stack.stop()


@click.command("stop")
@click.pass_obj
def stop_command(project: Project) -> None:
    """Stop the environment; the metadata database is kept."""
    stack = open_stack(project)
    stack.stop()
    out.print(f"Environment {project.environment.name} stopped; its database is kept.")


@click.command("restart")
@click.argument("component", required=False)
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for health.")
@click.pass_obj
def restart_command(project: Project, component: str | None, timeout: int) -> None:
    """Restart one component (or all) and wait until it is healthy again."""
    stack = open_stack(project)
    services = (stack.check_service(component),) if component else ()
    stack.restart(services)
    with Live(Text("restarting"), console=err, transient=True, refresh_per_second=4) as live:
        stack.wait_until_ready(timeout, lambda states: live.update(progress_line(states)))
    out.print(f"Restarted {component or 'every component'}.")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status_command(project: Project, as_json: bool) -> None:
    """Each component's state and health, and the environment's status in MWAA's words."""
    stack = open_stack(project)
    states = stack.states()
    record = stack.record()
    status = shown_status(environment_status(stack.environment, states), record)
    reports = stack.phase_reports()
    try:
        wanted = stack.bucket_objects()
        changes = pending_changes(record, wanted, environment_settings(stack.environment))
        bucket_error = None
    except MwaaLocalError as e:
        changes, bucket_error = [], e.message
    applied = {
        OBJECT_KINDS[kind][0]: version.label if version else None
        for kind, version in (record.applied or {}).items()
    }
    if as_json:
        print_json(
            {
                "Name": stack.environment.name,
                "Status": status,
                "AirflowVersion": stack.environment.airflow_version.airflow,
                "LastUpdate": record.last_update,
                "Applied": applied,
                "PendingChanges": [vars(c) for c in changes],
                "BucketError": bucket_error,
                "Components": {
                    s.service: {
                        "State": s.status,
                        "Health": s.health,
                        "ExitCode": s.exit_code,
                        "RestartCount": s.restarts,
                        "Container": s.container,
                        "StartSequence": reports.get(s.service),
                    }
                    for s in states.values()
                },
            }
        )
        return
    out.print(f"Environment {stack.environment.name}: {status}")
    table = Table(
        "Component", "State", "Health", "Restarts", "Startup script", "Requirements", "DAG sync"
    )
    for state in sorted(states.values(), key=lambda s: s.service):
        phases = reports.get(state.service, {})
        table.add_row(
            state.service,
            state.status,
            state.health or "-",
            str(state.restarts),
            startup_cell(phases.get("startup_script")),
            requirements_cell(phases.get("requirements")),
            sync_cell(phases.get("dag_sync") or phases.get("bucket_sync")),
        )
    out.print(table)
    show_versions(record, applied, changes, bucket_error)


def show_changes(changes: list[PendingChange]) -> None:
    for change in changes:
        out.print(f"  {change.what}: {change.applied} -> {change.wanted}", markup=False)


def show_versions(
    record: EnvironmentRecord,
    applied: dict[str, str | None],
    changes: list[PendingChange],
    bucket_error: str | None,
) -> None:
    last = record.last_update
    if last:
        error = last.get("Error")
        detail = f": {error['ErrorCode']}: {error['ErrorMessage']}" if error else ""
        out.print(f"LastUpdate: {last['Status']} ({last['CreatedAt']}){detail}", markup=False)
    for what, label in applied.items():
        out.print(f"  {what}: {label or '-'}", markup=False)
    if bucket_error:
        out.print(f"[red]The bucket cannot be read:[/] {bucket_error}")
    if changes:
        out.print("Pending changes (apply with `mwaa-local update`):")
        show_changes(changes)


def startup_cell(report: dict | None) -> str:
    if not report or not report.get("ran"):
        return "-"
    if report.get("timed_out"):
        return "[red]timed out[/]"
    restored = f", {len(report['restored'])} restored" if report.get("restored") else ""
    return f"exit {report.get('exit_status')}{restored}"


def requirements_cell(report: dict | None) -> str:
    if not report or not (report.get("ran") or report.get("unchanged")):
        return "-"
    if report.get("ok"):
        return "installed" if report.get("ran") else "unchanged"
    return f"[red]FAILED[/]: {report.get('diagnosis')}"


def sync_cell(report: dict | None) -> str:
    if not report:
        return "-"
    return "ok" if report.get("ok") else f"[red]{report.get('error')}[/]"


@click.command("logs")
@click.argument("component", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep following new lines.")
@click.option("--tail", default="200", show_default=True, help="Lines per component ('all').")
@click.option(
    "--streams",
    is_flag=True,
    help="Show the startup_script_execution_* and requirements_install_* streams instead.",
)
@click.pass_obj
def logs_command(
    project: Project, component: str | None, follow: bool, tail: str, streams: bool
) -> None:
    """Show the logs of one component, or of all."""
    stack = open_stack(project)
    if streams:
        show_log_streams(stack, component)
        return
    services = (stack.check_service(component),) if component else ()
    with contextlib.suppress(KeyboardInterrupt):
        stack.show_logs(services, tail, follow)


def show_log_streams(stack: Stack, component: str | None) -> None:
    """Print the CloudWatch-shaped streams, copied to .mwaa-local/<Name>/logs/ first."""
    root = stack.export_log_streams()
    group = log_group(stack.environment.name, stack.check_service(component)) if component else ""
    files = sorted(p for p in root.glob(f"{group or '*'}/*") if p.is_file())
    if not files:
        raise MwaaLocalError(
            f"No log streams yet for {component or stack.environment.name} (looked in {root}).",
            hint="Streams appear once a component has run its startup script or requirements.",
        )
    for path in files:
        out.print(f"[bold]== {path.parent.name} / {path.name}[/]")
        out.print(path.read_text(errors="replace"), markup=False, highlight=False)


@click.command("sync")
@click.pass_obj
def sync_command(project: Project) -> None:
    """Sync the bucket's DAG folder into every running component now."""
    stack = open_stack(project)
    stack.require_running()
    codes = stack.sync_dags_now()
    failed = [service for service, code in codes.items() if code != 0]
    if failed:
        raise MwaaLocalError(f"DAG sync failed on {', '.join(failed)}; the last copy is kept.")
    out.print(f"Synced the DAG folder into {', '.join(sorted(codes))}.")


@click.command("reset-db")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for health.")
@click.pass_obj
def reset_db_command(project: Project, yes: bool, timeout: int) -> None:
    """Delete the metadata database (run history, connections, variables) and start afresh."""
    name = project.environment.name
    if not yes and not click.confirm(
        f"Delete the metadata database of {name}? Run history, connections and variables are lost.",
        default=False,
    ):
        raise MwaaLocalError("Nothing was deleted.")
    stack = open_stack(project)
    was_running = stack.is_running()
    stack.remove_database()
    out.print(f"Deleted the metadata database of {name}.")
    if was_running:
        seconds = start_stack(stack, timeout)
        out.print(
            f"Environment {name} is AVAILABLE again with an empty database ({seconds:.1f} s)."
        )


@click.command("shell")
@click.argument("component", default="scheduler")
@click.pass_obj
def shell_command(project: Project, component: str) -> None:
    """Open a bash shell in a component's container (default: scheduler)."""
    stack = open_stack(project)
    stack.exec_in(stack.check_service(component), ["bash"], tty=sys.stdin.isatty())


@click.command(
    "airflow",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def airflow_command(project: Project, args: tuple[str, ...]) -> None:
    """Run an Airflow CLI command inside the running stack (its database, its config)."""
    stack = open_stack(project)
    stack.require_running()
    code = stack.exec_airflow(args)
    sys.exit(code)


COMMANDS = [
    start_command,
    stop_command,
    restart_command,
    status_command,
    logs_command,
    reset_db_command,
    sync_command,
    shell_command,
    airflow_command,
]
