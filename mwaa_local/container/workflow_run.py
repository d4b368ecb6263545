"""`python -m mwaa_local.container.workflow_run WORKFLOW.yaml [--conf JSON] [--dag-id ID]`

Runs one MWAA Serverless workflow once, the way the service loads it: the YAML goes into a
throwaway DAG folder beside a two-line loader that calls dag-factory's `load_yaml_dags`, Airflow's
DagBag parses that folder (a YAML or dag-factory error becomes the run's ErrorMessage, as the
service reports parse errors), and the DAG runs with Airflow's `dag.test()` loop against a
throwaway SQLite metadata database, each task in its own process (run_task_in_own_process), as
the service runs each task in its own container.

Everything Airflow and its tasks print goes to stderr; the last stdout line is one JSON object
shaped like MWAA Serverless's GetWorkflowRun (../shared/reference/mwaa-behaviour.md 8.1;
botocore's mwaa-serverless model): RunId, RunType and RunDetail {StartedOn, CompletedOn,
Duration, ErrorMessage, RunState, TaskInstances: [ids]}, plus TaskInstances shaped like
ListTaskInstances' summaries (TaskInstanceId, TaskId, Status, DurationInSeconds, OperatorName,
StartedAt, EndedAt, AttemptNumber), since GetWorkflowRun itself lists only their ids.
Exit 0 when the run succeeded, 1 otherwise.

Runs INSIDE the Airflow 3 image: standard library, Airflow, and dag-factory (1.1.0 on Airflow
3.1+; 1.0.1 imports airflow.utils.module_loading, which 3.1 removed), found on sys.path.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

# What the image lacks: dag-factory 1.1.0 (2026-05), the first with Airflow 3.1+ support; its
# dependencies (pathspec, typer, pyyaml, packaging, pendulum) are all in the Airflow 3.3.1 image at
# the versions of its constraints, so `uv pip install --no-deps --target DIR` adds it alone.
DAG_FACTORY_REQUIREMENT = "dag-factory==1.1.0"
RUN_TYPE = "ON_DEMAND"
# The service's words for a run whose tasks failed [seed004 "Introducing Amazon MWAA Serverless"].
TASKS_FAILED = "Workflow execution failed"
# Airflow's task states in the API's TaskInstanceStatus words. "skipped" has none there; it is
# passed on as SKIPPED until the service's word for it is known.
TASK_STATUS = {
    None: "NONE",
    "none": "NONE",
    "success": "SUCCESS",
    "failed": "FAILED",
    "upstream_failed": "UPSTREAM_FAILED",
    "up_for_retry": "UP_FOR_RETRY",
    "up_for_reschedule": "UP_FOR_RESCHEDULE",
    "queued": "QUEUED",
    "scheduled": "SCHEDULED",
    "running": "RUNNING",
    "deferred": "DEFERRED",
    "removed": "REMOVED",
    "restarting": "RESTARTING",
    "skipped": "SKIPPED",
}
RUN_STATE = {"success": "SUCCESS", "failed": "FAILED", "running": "RUNNING", "queued": "QUEUED"}
# The service's default task timeout (User Guide, supported-airflow-parameters).
DEFAULT_EXECUTION_TIMEOUT_SECONDS = 3600
LOADER = "workflow_loader.py"
# DagBag reads only files that mention both words (core.dag_discovery_safe_mode).
LOADER_SOURCE = """\
# Airflow DAG loader for one MWAA Serverless workflow (dag-factory YAML).
from pathlib import Path

from dagfactory import load_yaml_dags

load_yaml_dags(globals_dict=globals(), config_filepath=str(Path(__file__).with_name({name!r})))
"""
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*(?P<message>[A-Za-z_]\w*(?:Error|Exception): .*)$")


# --- the report (pure, testable without Airflow) -------------------------------------------


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds())


def task_summary(ti: Mapping[str, Any]) -> dict[str, Any]:
    """One task instance (its Airflow fields as a mapping) in ListTaskInstances' words."""
    state = ti.get("state")
    duration = ti.get("duration")
    return {
        "TaskInstanceId": ti.get("id"),
        "TaskId": ti["task_id"],
        "Status": TASK_STATUS.get(state, str(state).upper()),
        "DurationInSeconds": round(duration) if duration is not None else None,
        "OperatorName": ti.get("operator"),
        "StartedAt": iso(ti.get("start_date")),
        "EndedAt": iso(ti.get("end_date")),
        "AttemptNumber": ti.get("try_number"),
    }


def run_report(
    run_id: str | None,
    state: str | None,
    started: datetime,
    completed: datetime | None,
    task_instances: Iterable[Mapping[str, Any]] = (),
    error: str | None = None,
) -> dict[str, Any]:
    """A GetWorkflowRun-shaped report. `state` is Airflow's DagRun state; `error` a failure that
    kept the run from starting (parse error, database), which makes it FAILED."""
    tasks = [task_summary(ti) for ti in task_instances]
    run_state = "FAILED" if error else RUN_STATE.get(state or "", str(state).upper())
    if run_state == "FAILED" and not error:
        error = TASKS_FAILED
    return {
        "RunId": run_id,
        "RunType": RUN_TYPE,
        "RunDetail": {
            "StartedOn": iso(started),
            "CompletedOn": iso(completed),
            "Duration": seconds(started, completed),
            "ErrorMessage": error,
            "RunState": run_state,
            "TaskInstances": [t["TaskInstanceId"] for t in tasks],
        },
        "TaskInstances": tasks,
    }


def error_line(traceback_text: str) -> str:
    """A traceback's last exception line without the exception's module path."""
    lines = [line.strip() for line in traceback_text.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _EXCEPTION.match(line)
        if match:
            return match["message"]
    return lines[-1] if lines else traceback_text


# --- the run (inside the image) -------------------------------------------------------------


def run_env(work: Path, dags: Path, env: Mapping[str, str]) -> dict[str, str]:
    """A throwaway SQLite database (Airflow 3 runs LocalExecutor on it), the throwaway DAG folder
    and no usage reporting."""
    env = {k: v for k, v in env.items() if k != "AIRFLOW__CORE__SQL_ALCHEMY_CONN"}
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{work}/airflow.db",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DEFAULT_TASK_EXECUTION_TIMEOUT": str(DEFAULT_EXECUTION_TIMEOUT_SECONDS),
            "AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY": "False",
            "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
            "DO_NOT_TRACK": "1",
        }
    )
    return env


def prepare(workflow: Path, work: Path) -> Path:
    """The throwaway DAG folder: the workflow's YAML and the loader beside it."""
    dags = work / "dags"
    dags.mkdir(parents=True)
    name = workflow.name if workflow.suffix in (".yaml", ".yml") else f"{workflow.name}.yaml"
    shutil.copyfile(workflow, dags / name)
    (dags / LOADER).write_text(LOADER_SOURCE.format(name=name))
    return dags


def migrate() -> str | None:
    """Create the metadata database; its error, if any."""
    done = subprocess.run(
        ["airflow", "db", "migrate"], stdout=sys.stderr, stderr=subprocess.PIPE, text=True
    )
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        return f"metadata database: {error_line(done.stderr)}"
    return None


def load_dag(dags: Path, dag_id: str | None) -> tuple[Any, str | None]:
    """The workflow's DAG as the DAG processor parses it, or the parse error."""
    try:
        from airflow.dag_processing.dagbag import DagBag  # Airflow 3.1+
    except ImportError:
        from airflow.models.dagbag import DagBag  # Airflow 3.0

    try:
        bag = DagBag(dag_folder=str(dags), include_examples=False)
    except TypeError:  # Airflow 3.3 dropped include_examples (core.load_examples is off)
        bag = DagBag(dag_folder=str(dags))
    if bag.import_errors:
        return None, error_line(next(iter(bag.import_errors.values())))
    if dag_id:
        if dag_id not in bag.dags:
            return None, f"no DAG {dag_id!r} in the workflow (it defines {sorted(bag.dags)})"
        return bag.dags[dag_id], None
    if len(bag.dags) != 1:
        found = sorted(bag.dags)
        return None, f"the workflow defines {len(found)} DAGs {found}; name one with --dag-id"
    return next(iter(bag.dags.values())), None


def drop_future_start_dates(dag: Any, now: datetime) -> list[str]:
    """Clear start_dates after `now` (the DAG's and its tasks'); what was cleared.

    MWAA Serverless requires a start_date in the future, yet runs a workflow on demand at once;
    Airflow creates no task instance for a task whose start_date is after the run's logical date,
    so without this such a run would succeed with no task run at all."""
    cleared = []
    if dag.start_date is not None and dag.start_date > now:
        dag.start_date = None
        cleared.append(dag.dag_id)
    for task in dag.tasks:
        if task.start_date is not None and task.start_date > now:
            task.start_date = None
            cleared.append(task.task_id)
    return cleared


def task_instances(dag: Any, run_id: str) -> list[dict[str, Any]]:
    """The run's task instances, in the order they started (those that never did last, in the
    DAG's order)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    order = {task_id: i for i, task_id in enumerate(dag.task_ids)}
    with create_session() as session:
        rows = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run_id
            )
        ).all()
        found = [
            {
                "id": str(getattr(ti, "id", "") or f"{dag.dag_id}/{run_id}/{ti.task_id}"),
                "task_id": ti.task_id,
                "state": None if ti.state is None else str(getattr(ti.state, "value", ti.state)),
                "duration": ti.duration,
                "operator": ti.operator,
                "start_date": ti.start_date,
                "end_date": ti.end_date,
                "try_number": ti.try_number,
            }
            for ti in rows
        ]
    return sorted(found, key=lambda t: _started_order(t, order))


def _started_order(ti: Mapping[str, Any], order: Mapping[str, int]) -> tuple:
    start = ti["start_date"]
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return (start is None, start or datetime.max.replace(tzinfo=UTC), order.get(ti["task_id"], 0))


def run_task_in_own_process(*, ti: Any, task: Any, run_triggerer: bool = False) -> None:
    """One task instance in a process of its own: what dag.test() calls for each task instead of
    its in-process `_run_task`.

    MWAA Serverless runs each task in its own container (mwaa-behaviour.md 8.1): a task that
    exits the interpreter, leaks a module global or crashes must not touch the others. This is
    what an Airflow 3 worker does for an ExecuteTask workload (the Task SDK's supervise_task: a
    forked child parses the DAG file again and runs the task, talking to its supervisor over a
    socket), with the in-process Execution API on the run's database instead of an API server.
    XComs go through that API as between the service's task containers. The start and end
    lines are dag.test()'s own, where the host cuts the task logs (workflows/run.py)."""
    from airflow.executors.workloads import BundleInfo, TaskInstanceDTO
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor, supervise_task
    from airflow.utils.state import TaskInstanceState

    _say(f"[DAG TEST] starting task_id={ti.task_id} map_index={ti.map_index}")
    while True:
        ti.set_state(TaskInstanceState.QUEUED)  # the Execution API starts queued tasks only
        try:
            code = supervise_task(
                ti=TaskInstanceDTO.model_validate(ti, from_attributes=True),
                bundle_info=BundleInfo(name="dags-folder"),
                dag_rel_path=LOADER,
                token="",
                client=InProcessTestSupervisor._api_client(task.dag),
                subprocess_logs_to_stdout=False,
            )
            _say(f"workflow run: task {ti.task_id}'s process exited with {code}")
        except Exception as e:  # noqa: BLE001 - the task's failure, as its container's would be
            _say(f"workflow run: task {ti.task_id} could not run: {type(e).__name__}: {e}")
        ti.refresh_from_db()
        if ti.state == TaskInstanceState.DEFERRED and run_triggerer:
            if resume_after_trigger(ti):
                continue
            ti.refresh_from_db()
        if ti.state not in (
            TaskInstanceState.SUCCESS,
            TaskInstanceState.FAILED,
            TaskInstanceState.UP_FOR_RETRY,
            TaskInstanceState.SKIPPED,
            TaskInstanceState.UP_FOR_RESCHEDULE,
        ):
            # The process died before it said how the task ended (os._exit, a signal, OOM).
            _say(f"workflow run: task {ti.task_id} ended without a state ({ti.state}): failed")
            ti.set_state(TaskInstanceState.FAILED)
        break
    _say(f"[DAG TEST] end task task_id={ti.task_id} map_index={ti.map_index}")


def resume_after_trigger(ti: Any) -> bool:
    """A deferred task's trigger run here until its first event, as dag.test() does with no
    triggerer; True when the task is then scheduled to resume with the event, False when the
    event ended the task (a trigger with end_from_trigger, as the triggerer ends it)."""
    from airflow.models.trigger import Trigger
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.api.datamodels._generated import TaskInstance as TaskInstanceSDK
    from airflow.sdk.definitions.dag import _run_inline_trigger
    from airflow.sdk.serde import serialize
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    with create_session() as session:
        row = session.get(Trigger, ti.trigger_id)
        classpath, kwargs = row.classpath, row.kwargs
    _say(f"workflow run: running {ti.task_id}'s trigger {classpath} here")
    sdk_ti = TaskInstanceSDK(
        id=UUID(str(ti.id)),
        task_id=ti.task_id,
        dag_id=ti.dag_id,
        run_id=ti.run_id,
        try_number=ti.try_number,
        map_index=ti.map_index,
        dag_version_id=UUID(str(ti.dag_version_id)),
    )
    event = _run_inline_trigger(import_string(classpath)(**kwargs), sdk_ti)
    ended = getattr(event, "task_instance_state", None)  # a TaskSuccessEvent and the like
    with create_session() as session:
        ti = session.merge(ti)
        ti.trigger_id = None
        if ended is not None:
            ti.state = ended
            ti.end_date = datetime.now(UTC)
            if ti.start_date is not None:
                ti.duration = (ti.end_date - ti.start_date).total_seconds()
            return False
        if event is not None:
            ti.next_kwargs = {"event": serialize(event.payload)}
        ti.state = TaskInstanceState.SCHEDULED
    return True


def run_tasks_in_own_processes() -> None:
    """dag.test() with run_task_in_own_process for each task (Airflow 3.1 to 3.3's dag.test()
    looks `_run_task` up in its module at each call)."""
    from airflow.sdk.definitions import dag as dag_module

    if not hasattr(dag_module, "_run_task"):
        raise RuntimeError(
            "this Airflow's dag.test() has no _run_task to replace: tasks cannot get their own "
            "processes"
        )
    dag_module._run_task = run_task_in_own_process


def _say(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _took(what: str, since: float) -> float:
    now = time.monotonic()
    sys.stderr.write(f"workflow run: {what} in {now - since:.1f} s\n")
    return now


def run_workflow(workflow: Path, conf: dict[str, Any] | None, dag_id: str | None) -> dict:
    work = Path(tempfile.mkdtemp(prefix="workflow-run-"))
    started = datetime.now(UTC)
    try:
        dags = prepare(workflow, work)
        os.environ.update(run_env(work, dags, os.environ))
        os.environ.pop("AIRFLOW__CORE__SQL_ALCHEMY_CONN", None)
        phase = time.monotonic()
        problem = migrate()
        phase = _took("database migrated", phase)
        if problem:
            return run_report(None, None, started, datetime.now(UTC), error=problem)
        dag, problem = load_dag(dags, dag_id)
        phase = _took("workflow parsed", phase)
        if problem:
            return run_report(None, None, started, datetime.now(UTC), error=problem)
        started = datetime.now(UTC)
        cleared = drop_future_start_dates(dag, started)
        if cleared:
            sys.stderr.write(f"workflow run: future start_date ignored for {cleared}\n")
        try:
            run_tasks_in_own_processes()
            dag_run = dag.test(run_conf=conf)
            _took("dag.test() done", phase)
        except Exception as e:  # noqa: BLE001 - any failure to start is the run's error
            return run_report(None, None, started, datetime.now(UTC), error=f"{e}")
        state = getattr(dag_run.state, "value", dag_run.state)
        return run_report(
            dag_run.run_id,
            str(state),
            started,
            datetime.now(UTC),
            task_instances(dag, dag_run.run_id),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mwaa_local.container.workflow_run")
    parser.add_argument("workflow", type=Path, help="the workflow's YAML (dag-factory format)")
    parser.add_argument("--conf", help="the run's parameters, a JSON object")
    parser.add_argument("--dag-id", help="the DAG to run when the file defines several")
    args = parser.parse_args(argv)
    conf = json.loads(args.conf) if args.conf else None

    # Everything Airflow prints goes to stderr; stdout keeps the report alone.
    sys.stdout.flush()
    report_fd = os.dup(1)
    os.dup2(2, 1)
    began = time.monotonic()
    try:
        report = run_workflow(args.workflow.resolve(), conf, args.dag_id)
    except Exception as e:  # noqa: BLE001 - reported, never a traceback instead of the JSON
        report = run_report(None, None, datetime.now(UTC), datetime.now(UTC), error=f"{e}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    sys.stderr.write(f"workflow run took {time.monotonic() - began:.1f} s\n")
    with os.fdopen(report_fd, "w") as out:
        out.write(json.dumps(report) + "\n")
    return 0 if report["RunDetail"]["RunState"] == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
