"""The commands users run all day: start, stop, restart, status, logs, reset-db, shell."""

import contextlib
import os
import sys
import time
from collections.abc import Mapping

import click
from rich.table import Table
from rich.text import Text

from mwaa_local.api.process import ApiProcess, ensure_api, running_api, stop_api
from mwaa_local.aws.stack_credentials import prepare_for_start
from mwaa_local.bucket.versions import OBJECT_KINDS
from mwaa_local.cli.commands_credentials import report_start_check
from mwaa_local.cli.commands_image import ensure_runtime
from mwaa_local.cli.commands_objects import apply_loaded, project_objects
from mwaa_local.cli.commands_settings import Project, changes_environment, shown_path
from mwaa_local.cli.output import err, line, out, print_json, print_table, styled, warn
from mwaa_local.cli.progress import Progress
from mwaa_local.dags.folder import empty_dag_folder_note
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.environment.timeline import Timeline
from mwaa_local.environment.update import (
    PendingChange,
    environment_settings,
    finish_interrupted_update,
    pending_changes,
    record_create,
    shown_status,
)
from mwaa_local.errors import DockerUnavailableError, MwaaLocalError
from mwaa_local.logs.events import group_type, parse_since
from mwaa_local.logs.read import group_events
from mwaa_local.mwaa.log_streams import log_group
from mwaa_local.mwaa.requirements import comment_note
from mwaa_local.prereqs.checks import PORT_HINT, port_free
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.select import Chosen, open_runtime, runtime_for_start
from mwaa_local.runtime.stack import ServiceState
from mwaa_local.scaling import control as scaling
from mwaa_local.spec.settings import Environment, local_env_var

# What every command here drives: the environment's runtime (runtime/interface.py), whichever it
# is (docker, podman, host).
Stack = Runtime


def open_stack(project: Project) -> Runtime:
    return open_runtime(project.environment)


def check_port_free(address: str, port: int) -> None:
    if not port_free(address, port):
        raise MwaaLocalError(
            f"Port {port} on {address} is already in use, so the Airflow UI cannot be published.",
            hint=f"Stop what uses it, or {PORT_HINT} (each environment needs its own port).",
        )


def start_stack(stack: Stack, timeout: float, timeline: Timeline | None = None) -> float:
    """Bring the stack up and wait until every component is ready; return the seconds taken.

    A failed requirements install does not stop the components (as on MWAA, DAGs that import
    the missing packages break instead), but it makes this fail, naming what went wrong."""
    started = time.monotonic()
    timeline = timeline or Timeline()
    with Progress("starting") as shown:
        stack.pull_images(lambda image: shown.step("pull", image, "pulling"))
        shown.step("up", stack.project, "creating the containers")
        stack.up()
        timeline.mark("compose up")

        def watch(states: Mapping[str, ServiceState]) -> None:
            timeline.watch(states)
            shown.states(states)

        try:
            stack.wait_until_ready(timeout, watch)
            timeline.mark("every component ready")
        finally:
            streams = stack.export_log_streams()
    seconds = time.monotonic() - started
    failed = stack.failed_requirements()
    if failed:
        first = next(iter(failed.values()))
        for text in first.get("error_tail", []):
            err.print(text)
        raise MwaaLocalError(
            f"Requirements failed to install on {', '.join(failed)}: {first.get('diagnosis')}",
            hint="The components run, as on MWAA, but DAGs importing those packages break. "
            f"Logs: {streams}. Check a fix with `mwaa-local test-requirements`.",
        )
    scaling.start_for(stack)
    return seconds


@click.command("start")
@click.option("--foreground", is_flag=True, help="Follow the logs after start; Ctrl-C stops.")
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for health.")
@click.option("--timings", is_flag=True, help="Print where the time went, phase by phase.")
@click.pass_obj
def start_command(project: Project, foreground: bool, timeout: int, timings: bool) -> None:
    """Start the environment and wait until every component is healthy."""
    timeline = Timeline()
    stack = start_environment(project, timeout, timeline)
    if timings:
        show_timeline(timeline, stack.phase_reports())
    if foreground:
        try:
            stack.show_logs(tail="0", follow=True)
        except KeyboardInterrupt:
            pass
        finally:
            err.print("Stopping (the metadata database is kept) ...")
            stop_background(stack)
            stack.stop()


def stop_background(stack: Runtime) -> None:
    """Stop what `start` runs beside the components: the autoscaler (first, so that it scales
    nothing while they stop) and the MWAA API process."""
    scaling.stop_for(stack)
    stop_api(stack.environment)


def start_api(environment: Environment) -> ApiProcess | None:
    """The MWAA API endpoint, started (again) if it does not run; a warning, not a failure,
    when it cannot start: the stack does not need it."""
    try:
        return ensure_api(environment)[0]
    except MwaaLocalError as e:
        warn(f"The MWAA API did not start: {e.message} {e.hint or ''}")
        return None


def show_timeline(timeline: Timeline, phases: Mapping) -> None:
    table = Table("Phase", "Ended at", "Took", title="Where start spent its time (seconds)")
    for what, at, took in timeline.rows(phases):
        table.add_row(Text(what), f"{at:.1f}", f"{took:.1f}")
    err.print(table)


def say_runtime(chosen: Chosen) -> None:
    """Which runtime, why, and (once, at every start) what it cannot do as MWAA does."""
    runtime = chosen.runtime
    err.print(f"Runtime: {runtime.describe()} ({chosen.why})", markup=False)
    if runtime.differences():
        err.print(line((f"Unlike MWAA, on the {runtime.name} runtime:", "yellow")))
        for difference in runtime.differences():
            err.print(f"  - {difference}", markup=False)


@changes_environment("start")
def start_environment(project: Project, timeout: int, timeline: Timeline) -> Stack:
    environment = project.environment
    timeline.mark("settings read")
    chosen = runtime_for_start(environment)
    stack = chosen.runtime
    say_runtime(chosen)
    if not stack.is_running():
        check_port_free(environment.local.bind_address, environment.local.webserver_port)
    # Issue 12: the tasks' AWS credentials are checked first, so a stale login fails in seconds.
    aws_check = prepare_for_start(stack)
    timeline.mark("AWS credentials checked")
    # The images it cannot have fail the start now, not after building the Airflow image.
    stack.pull_images(lambda image: err.print(f"Pulling {image} ...", markup=False))
    ensure_runtime(project, stack)
    timeline.mark("image checked (or built)")
    interrupted = finish_interrupted_update(stack)
    if interrupted:
        warn(interrupted)
    note = empty_dag_folder_note(environment)
    if note:
        warn(note)
    objects = project_objects(environment)  # a bad airflow-objects.yaml fails before starting
    for message in scaling.sizing_warnings(stack):
        warn(message)
    pending = record_create(stack)
    timeline.mark("bucket objects read")
    api = start_api(environment)
    seconds = start_stack(stack, timeout, timeline)
    username, password = stack.admin_credentials()
    local = environment.local
    out.print(f"Environment {environment.name} is AVAILABLE ({seconds:.1f} s).")
    out.print(f"  Airflow UI: http://{local.bind_address}:{local.webserver_port}")
    out.print(f"  Login:      {username} / {password}")
    if api is not None:
        out.print(
            f"  MWAA API:   {api.endpoint_url} (AWS_ENDPOINT_URL_MWAA; for logs and metrics "
            "also AWS_ENDPOINT_URL_CLOUDWATCH_LOGS and AWS_ENDPOINT_URL_CLOUDWATCH)"
        )
    report_start_check(aws_check)
    if objects is not None:
        apply_loaded(stack, objects, out)
        timeline.mark("Airflow objects applied")
    if pending:
        names = ", ".join(f"{c.what} ({c.wanted})" for c in pending)
        warn(f"Started on the applied versions; not applied yet: {names}. Run `mwaa-local update`.")
    return stack


@click.command("stop")
@click.pass_obj
@changes_environment("stop")
def stop_command(project: Project) -> None:
    """Stop the environment; the metadata database is kept."""
    stack = open_stack(project)
    stop_background(stack)
    stack.stop()
    out.print(f"Environment {project.environment.name} stopped; its database is kept.")


@click.command("restart")
@click.argument("component", required=False)
@click.option("--timeout", default=600, show_default=True, help="Seconds to wait for health.")
@click.pass_obj
@changes_environment("restart")
def restart_command(project: Project, component: str | None, timeout: int) -> None:
    """Restart one component (or all) and wait until it is healthy again."""
    stack = open_stack(project)
    services = (stack.check_service(component),) if component else ()
    stack.restart(services)
    with Progress("restarting") as shown:
        stack.wait_until_ready(timeout, shown.states)
    out.print(f"Restarted {component or 'every component'}.")


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status_command(project: Project, as_json: bool) -> None:
    """Each component's state and health, and the environment's status in MWAA's words."""
    try:
        stack = open_stack(project)
    except DockerUnavailableError as e:
        show_engine_down(project.environment, e, as_json)
        return
    states = stack.states()
    record = stack.record()
    status = shown_status(stack.status(states), record)
    reports = stack.phase_reports()
    # Before the first start there is nothing to update: `start` applies what the bucket holds.
    never_started = record.applied is None
    changes: list[PendingChange] = []
    bucket_error = None
    if not never_started:
        try:
            wanted = stack.bucket_objects(keep=False)  # a read-only command writes nothing
            changes = pending_changes(record, wanted, environment_settings(stack.environment))
        except MwaaLocalError as e:
            bucket_error = e.message
    applied = {
        OBJECT_KINDS[kind][0]: version.label if version else None
        for kind, version in (record.applied or {}).items()
    }
    username, password_in = login_source(stack)
    workers = scaling.workers_summary(stack)
    api = running_api(stack.environment)
    overlay = stack.environment.overlay_file
    overlay_keys = list(stack.environment.overlay_keys)
    shown_overlay = {"File": str(overlay), "Keys": overlay_keys} if overlay else None
    if as_json:
        print_json(
            {
                "Name": stack.environment.name,
                "Status": status,
                "NeverStarted": never_started,
                "AirflowVersion": stack.environment.airflow_version.airflow,
                "WebserverUrl": stack.ui_url,
                "Login": {"Username": username, "PasswordIn": password_in},
                "LastUpdate": record.last_update,
                "Applied": applied,
                "PendingChanges": [vars(c) for c in changes],
                "BucketError": bucket_error,
                "Workers": workers,
                "Api": {"Endpoint": api.endpoint_url, "Pid": api.pid} if api else None,
                "SettingsOverlay": shown_overlay,
                "Components": {
                    s.service: {
                        "State": s.status,
                        "Health": s.health,
                        "ExitCode": s.exit_code,
                        "RestartCount": s.restarts,
                        "Container": s.container,
                        "Replicas": s.replicas,
                        "Limits": {"Cpus": s.cpus, "MemoryBytes": s.memory},
                        "StartSequence": reports.get(s.service),
                    }
                    for s in states.values()
                },
            }
        )
        return
    out.print(f"Environment {stack.environment.name}: {status}", markup=False)
    if never_started:
        out.print("Never started: `mwaa-local start` creates it.", markup=False)
    out.print(f"  Airflow UI: {stack.ui_url}", markup=False)
    out.print(f"  Login:      {username}, password {password_in}", markup=False)
    if states:
        table = Table(
            "Component",
            "State",
            "Health",
            "Restarts",
            "Limits",
            "Startup script",
            "Requirements",
            "DAG sync",
        )
        for state in sorted(states.values(), key=lambda s: s.service):
            phases = reports.get(state.service, {})
            replicas = f" x{state.replicas}" if state.replicas > 1 else ""
            table.add_row(
                state.service + replicas,
                state.status,
                state.health or "-",
                str(state.restarts),
                limits_cell(state),
                startup_cell(phases.get("startup_script")),
                requirements_cell(phases.get("requirements")),
                sync_cell(phases.get("dag_sync") or phases.get("bucket_sync")),
            )
        print_table(table)
        show_workers(workers)
    show_constraints_comment(reports)
    show_versions(record, applied, changes, bucket_error)
    out.print(f"MWAA API: {f'{api.endpoint_url} (pid {api.pid})' if api else 'not running'}")
    if overlay:
        keys = ", ".join(overlay_keys)
        out.print(f"Settings from the MWAA API: {keys} ({overlay}; delete it to drop them)")


def show_engine_down(environment: Environment, error: DockerUnavailableError, as_json: bool):
    """With no engine nothing of the environment runs: UNAVAILABLE, and why (exit code 1)."""
    if as_json:
        print_json({"Name": environment.name, "Status": "UNAVAILABLE", "Engine": error.message})
    else:
        out.print(f"Environment {environment.name}: UNAVAILABLE", markup=False)
        out.print(f"  {error.message}", markup=False)
        out.print(f"  {error.hint}", markup=False)
    sys.exit(1)


def login_source(stack: Stack) -> tuple[str, str]:
    """The admin user name, and where its password is (never the password itself)."""
    local = stack.environment.local
    if os.environ.get(local_env_var("AdminPassword")):
        return local.admin_username, f"from {local_env_var('AdminPassword')}"
    if local.admin_password:
        return local.admin_username, "from Local.AdminPassword in the settings"
    where = f"{shown_path(stack.state.secrets_file)} (admin_password)"
    if not stack.state.secrets_file.is_file():
        return local.admin_username, f"generated at the first start, kept in {where}"
    return local.admin_username, f"in {where}"


def show_workers(workers: dict) -> None:
    line = f"Workers: {workers['Current']}/{workers['Min']}/{workers['Max']} (current/min/max)"
    scaler = workers["Autoscaler"]
    if not workers["Autoscaling"]:
        line += "; no autoscaling"
    elif not scaler or not scaler["Running"]:
        line += "; autoscaler not running"
    else:
        decision = scaler.get("LastDecision") or {}
        line += f"; autoscaler pid {scaler['Pid']}, last decision: {decision.get('Action', '-')}"
        line += f" ({decision.get('Reason', '')})" if decision.get("Reason") else ""
    out.print(line, markup=False)


def show_constraints_comment(reports: dict[str, dict]) -> None:
    """Say plainly when a commented line is what turned the Airflow constraints off."""
    where = next(
        (
            phases["requirements"]["constraints_comment"]
            for phases in reports.values()
            if (phases.get("requirements") or {}).get("constraints_comment")
        ),
        None,
    )
    if where:
        out.print(line(("Requirements:", "yellow"), " ", comment_note(where)))


def show_changes(changes: list[PendingChange]) -> None:
    for change in changes:
        out.print(f"  {change.what}: {change.applied} -> {change.wanted}")


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
        out.print(f"LastUpdate: {last['Status']} ({last['CreatedAt']}){detail}")
    for what, label in applied.items():
        out.print(f"  {what}: {label or '-'}")
    if bucket_error:
        out.print(line(("The bucket cannot be read:", "red"), " ", bucket_error))
    if changes:
        out.print("Pending changes (apply with `mwaa-local update`):")
        show_changes(changes)


def limits_cell(state: ServiceState) -> str:
    if not state.cpus and not state.memory:
        return "-"
    cpus = f"{state.cpus:g} vCPU" if state.cpus else "any CPU"
    memory = f"{state.memory / 2**30:.3g} GiB" if state.memory else "any memory"
    return f"{cpus}, {memory}"


def startup_cell(report: dict | None) -> str | Text:
    if not report or not report.get("ran"):
        return "-"
    if report.get("timed_out"):
        return styled("timed out", "red")
    restored = f", {len(report['restored'])} restored" if report.get("restored") else ""
    return f"exit {report.get('exit_status')}{restored}"


def requirements_cell(report: dict | None) -> str | Text:
    if not report or not (report.get("ran") or report.get("unchanged")):
        return "-"
    if report.get("ok"):
        return "installed" if report.get("ran") else "unchanged"
    return line(("FAILED", "red"), f": {report.get('diagnosis')}")


def sync_cell(report: dict | None) -> str | Text:
    if not report:
        return "-"
    if not report.get("ok"):
        return styled(str(report.get("error")), "red")
    skipped = report.get("skipped") or {}
    if skipped:
        return line(
            ("ok; ", ""), (f"{len(skipped)} skipped: {', '.join(sorted(skipped))}", "yellow")
        )
    return "ok"


@click.command("logs")
@click.argument("component", required=False)
@click.option("--follow", "-f", is_flag=True, help="Keep following new lines.")
@click.option("--tail", default="200", show_default=True, help="Lines per component ('all').")
@click.option(
    "--streams",
    is_flag=True,
    help="Show the startup_script_execution_* and requirements_install_* streams instead.",
)
@click.option(
    "--group",
    help="A CloudWatch-shaped log group: DAGProcessing, Scheduler, Task, WebServer or Worker "
    "(or airflow-<Name>-<Type>), read like `aws logs filter-log-events`.",
)
@click.option("--stream", "stream_pattern", help="With --group: stream names, e.g. 'dag_id=x/*'.")
@click.option("--filter", "filter_pattern", help="With --group: a filter pattern (terms).")
@click.option("--since", help="With --group: events from this long ago (10m, 2h) or a time.")
@click.option("--json", "as_json", is_flag=True, help="With --group: filter-log-events JSON.")
@click.pass_obj
def logs_command(
    project: Project,
    component: str | None,
    follow: bool,
    tail: str,
    streams: bool,
    group: str | None,
    stream_pattern: str | None,
    filter_pattern: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Show the logs of one component, or of all; or read a log group with --group."""
    stack = open_stack(project)
    if group:
        show_group(stack, group, stream_pattern, filter_pattern, since, as_json)
        return
    if streams:
        show_log_streams(stack, component)
        return
    services = (stack.check_service(component),) if component else ()
    with contextlib.suppress(KeyboardInterrupt):
        stack.show_logs(services, tail, follow)


def show_group(
    stack: Stack,
    group: str,
    stream_pattern: str | None,
    filter_pattern: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    start = parse_since(since) if since else None
    name, events = group_events(stack, group_type(group), stream_pattern, filter_pattern, start)
    if as_json:
        streams = sorted({e.stream for e in events})
        print_json(
            {
                "logGroupName": name,
                "events": [e.as_cloudwatch(n) for n, e in enumerate(events)],
                "searchedLogStreams": [
                    {"logStreamName": s, "searchedCompletely": True} for s in streams
                ],
            }
        )
        return
    for event in events:
        moment = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.timestamp / 1000))
        out.print(f"{event.stream}  {moment}  {event.message}", markup=False, highlight=False)
    if not events:
        err.print(f"No events in {name} for this query.")


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
        out.print(styled(f"== {path.parent.name} / {path.name}", "bold"))
        out.print(path.read_text(errors="replace"))


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
@changes_environment("reset-db")
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
    scaling.stop_for(stack)
    stack.remove_database()
    out.print(f"Deleted the metadata database of {name}.")
    if was_running:
        seconds = start_stack(stack, timeout)
        out.print(
            f"Environment {name} is AVAILABLE again with an empty database ({seconds:.1f} s)."
        )


@click.command("down")
@click.option(
    "--volumes",
    is_flag=True,
    help="Also delete its volumes (metadata database, logs, bucket mirror) and its state folder.",
)
@click.option(
    "--uv-cache", is_flag=True, help="Also delete the uv cache all environments here share."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
@changes_environment("down")
def down_command(project: Project, volumes: bool, uv_cache: bool, yes: bool) -> None:
    """Remove the containers and network; --volumes removes everything the environment made."""
    name = project.environment.name
    if volumes or uv_cache:
        lost = []
        if volumes:
            lost.append(
                f"the metadata database, logs and state folder of {name} (run history, "
                "connections, variables, generated passwords)"
            )
        if uv_cache:
            lost.append("the uv cache every environment on this engine shares")
        if not yes and not click.confirm(f"Delete {' and '.join(lost)}?", default=False):
            raise MwaaLocalError("Nothing was removed.")
    stack = open_stack(project)
    stop_background(stack)
    removed = stack.down(volumes=volumes, uv_cache=uv_cache)
    for kind, names in removed.items():
        if names:
            out.print(f"Removed {kind}: {', '.join(names)}", markup=False)
    if volumes and stack.state.remove():
        out.print(f"Removed the state folder {shown_path(stack.state.path)}", markup=False)
    kept = "" if volumes else "; its volumes (the metadata database) are kept"
    out.print(f"Environment {name} is down{kept}.", markup=False)


@click.command("shell")
@click.argument("component", default="scheduler")
@click.pass_obj
def shell_command(project: Project, component: str) -> None:
    """Open a bash shell in a component's container (default: scheduler)."""
    stack = open_stack(project)
    stack.exec_in(stack.check_service(component), ["bash"], tty=sys.stdin.isatty())


COMMANDS = [
    start_command,
    stop_command,
    restart_command,
    status_command,
    logs_command,
    reset_db_command,
    down_command,
    sync_command,
    shell_command,
]
