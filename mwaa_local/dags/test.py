"""Where `mwaa-local dags test` runs container/dag_test.py: in the running scheduler container,
against the stack's metadata database, or in a one-off container from the environment's image
that runs the start sequence and migrates a throwaway SQLite database first."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mwaa_local.dags.report import apply_start_sequence
from mwaa_local.dags.report import start_sequence_problems as report_problems
from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.rest_client import AirflowApiError
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.one_off import (
    ONE_OFF,
    CommandRun,
    report_in_one_off,
    report_in_scheduler,
)

ONE_OFF_COMMAND = "dags-test"
MODULE = ["python", "-m", "mwaa_local.container.dag_test"]
LISTED_DAG_IDS = 20

WHAT = "The DAG test"  # how errors name the in-container command


@dataclass(frozen=True)
class DagTestRequest:
    dag_id: str
    conf: dict[str, Any] | None = None
    logical_date: str | None = None

    def arguments(self) -> list[str]:
        """mwaa_local.container.dag_test's arguments."""
        arguments = [self.dag_id]
        if self.conf is not None:
            arguments += ["--conf", json.dumps(self.conf)]
        if self.logical_date:
            arguments += ["--logical-date", self.logical_date]
        return arguments


def succeeded(run: CommandRun) -> bool:
    return run.report.get("outcome") == "success"


def parse_conf(text: str) -> dict[str, Any]:
    """A run's conf: a JSON object, as Airflow's trigger API requires."""
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON ({e})") from e
    if not isinstance(conf, dict):
        raise ValueError(f"a run's conf is a JSON object, not {type(conf).__name__}")
    return conf


def parse_logical_date(text: str) -> str:
    """The date as given, once known to be ISO 8601: Airflow reads a date without a time zone in
    core.default_timezone, so it is passed on unchanged."""
    try:
        datetime.fromisoformat(text)
    except ValueError as e:
        raise ValueError(f"{text!r} is not an ISO 8601 date, e.g. 2024-01-31T06:00:00Z") from e
    return text


def is_unpaused(stack: Runtime, dag_id: str) -> bool | None:
    """Whether the running stack's scheduler schedules `dag_id` (None: the API did not tell)."""
    try:
        return not stack.api().request("GET", f"/dags/{dag_id}")["is_paused"]
    except AirflowApiError as e:
        return False if e.status == 404 else None
    except MwaaLocalError:
        return None


def refuse_unpaused(dag_id: str) -> MwaaLocalError:
    # Seen on 2.10.3 and 3.3.1: the scheduler queues the test run's scheduled tasks to the
    # Celery workers while `airflow dags test` runs them too, so tasks run twice.
    return MwaaLocalError(
        f"{dag_id} is unpaused in the running environment: its scheduler would also run this "
        "test run's tasks on the workers, so they would run twice.",
        hint=f"Pause it first (mwaa-local airflow dags pause {dag_id}), or stop the environment "
        "to test in a one-off container.",
    )


def run_in_scheduler(
    stack: Runtime, request: DagTestRequest, on_line: Callable[[str], None]
) -> CommandRun:
    return report_in_scheduler(stack, [*MODULE, *request.arguments()], WHAT, on_line)


def run_one_off(
    runtime: Runtime, request: DagTestRequest, on_line: Callable[[str], None]
) -> CommandRun:
    command = [ONE_OFF_COMMAND, *request.arguments()]
    where = f"{runtime_one_off(runtime)} with a throwaway SQLite database"
    return report_in_one_off(runtime, command, WHAT, on_line, where=where)


def runtime_one_off(runtime: Runtime) -> str:
    """How reports name a run apart from the running components."""
    return "a throwaway folder on this machine" if runtime.name == "host" else ONE_OFF


def start_sequence_problems(run: CommandRun) -> tuple[list[str], bool]:
    """What went wrong before the run (named), and whether it makes a successful run no pass:
    a DAG sync that failed means the run used the last copy of the DAG folder."""
    found: dict[str, Any] = {}
    apply_start_sequence(found, run.phases)
    return report_problems(found), bool(found.get("dag_sync_error"))


def not_found_hint(report: dict[str, Any]) -> str:
    similar, known = report.get("similar") or [], report.get("dag_ids") or []
    lines = []
    if similar:
        lines.append("Did you mean: " + ", ".join(similar) + "?")
    elif known:
        more = f" (and {len(known) - LISTED_DAG_IDS} more)" if len(known) > LISTED_DAG_IDS else ""
        lines.append("DAGs in the DAG folder: " + ", ".join(known[:LISTED_DAG_IDS]) + more)
    else:
        lines.append("The DAG folder defines no DAG.")
    broken = report.get("import_errors") or []
    if broken:
        lines.append("These files failed to import (the DAG may be in one of them):")
        for error in broken[:10]:
            naming = f" (names {report['dag_id']!r})" if error.get("names_dag_id") else ""
            where = f"{error['file']}:{error.get('line') or '?'}"
            lines.append(f"  {where}{naming}: {error['message']}")
    lines.append("Details: mwaa-local dags check")
    return "\n".join(lines)


def raise_for_report(run: CommandRun) -> None:
    """An error for a run that did not happen: no such DAG, a start sequence or Airflow error.
    A run that happened and failed is an outcome, not an error."""
    report = run.report
    if report.get("fatal"):
        raise MwaaLocalError(
            f"The start sequence failed in {run.where}: {report['fatal']}",
            hint="Details: mwaa-local test-requirements / mwaa-local test-startup-script",
        )
    outcome = report.get("outcome")
    if outcome == "not_found":
        raise MwaaLocalError(
            f"No DAG {report['dag_id']!r} in the DAG folder ({run.where}).",
            hint=not_found_hint(report),
        )
    if outcome not in ("success", "failed"):
        raise MwaaLocalError(
            f"`airflow dags test {report.get('dag_id')}` did not run the DAG in {run.where}: "
            f"{report.get('error') or 'exit code ' + str(run.exit_code)}",
            hint="Its output is above.",
        )


def summary(run: CommandRun) -> str:
    report = run.report
    seconds = report.get("seconds")
    took = f" in {seconds:.1f} s" if isinstance(seconds, int | float) else ""
    return (
        f"DAG {report['dag_id']} run {report.get('run_id') or '?'}: "
        f"{report.get('state') or report['outcome']}{took} ({run.where})"
    )
