"""MWAA Serverless workflows and their runs, kept as JSON in the state folder
(.mwaa-local/<Name>/serverless/): what the `mwaa-serverless` operations on the local endpoint
read and write (api/serverless.py).

CreateWorkflow reads the definition from DefinitionS3Location (the environment's bucket, or a
local folder named as the Bucket by its absolute path), validates it as `workflows validate` does
(the service refuses an invalid definition: a ValidationException listing file:line messages),
and keeps a copy; StartWorkflowRun runs that copy in a background thread through
workflows/run.py's run_workflow, as `mwaa-local workflows run` does; GetWorkflowRun,
ListWorkflowRuns and ListTaskInstances read the run's record (mwaa-behaviour.md 8.1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mwaa_local.api.errors import ApiError, not_found, validation
from mwaa_local.errors import MwaaLocalError
from mwaa_local.workflows.validate import has_errors, validate_text

if TYPE_CHECKING:
    from mwaa_local.spec.settings import Environment

log = logging.getLogger(__name__)

CONFLICT = "ConflictException"
# The API's GenericString is at most 255 characters (ErrorMessage, WorkflowDefinition).
GENERIC_MAX = 255
_ROLE = re.compile(r"arn:(aws[\w-]*):iam::(\d{12}):role/.+")
_ALNUM = string.ascii_lowercase + string.digits

# (definition file, conf, workflow id, run id) -> the run's GetWorkflowRun-shaped report and
# its task logs; workflows/run.py's run_workflow with the Docker runner in the API process.
RunFunction = Callable[[Path, dict[str, Any] | None, str, str], dict[str, Any]]
# DefinitionS3Location -> the definition's bytes, or MwaaLocalError.
DefinitionReader = Callable[[dict[str, Any]], bytes]


def _now() -> str:
    """Now as the model's timestamps are (timestampFormat iso8601), as the runner writes them."""
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def _short(text: str | None) -> str | None:
    if not text:
        return None
    return text if len(text) <= GENERIC_MAX else text[: GENERIC_MAX - 3] + "..."


class WorkflowStore:
    def __init__(
        self,
        root: Path,
        region: str,
        read_definition: DefinitionReader,
        run: RunFunction,
    ) -> None:
        self.root = root
        self.region = region
        self._read = read_definition
        self._run = run
        self._lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    # --- files ------------------------------------------------------------------------------

    def _workflow_file(self, workflow_id: str) -> Path:
        return self.root / "workflows" / f"{workflow_id}.json"

    def _definition_file(self, workflow_id: str) -> Path:
        return self.root / "workflows" / f"{workflow_id}.yaml"

    def _run_file(self, workflow_id: str, run_id: str) -> Path:
        return self.root / "runs" / workflow_id / f"{run_id}.json"

    @staticmethod
    def _write(path: Path, value: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(value, indent=2) + "\n")
        tmp.replace(path)

    def _workflows(self) -> list[dict[str, Any]]:
        folder = self.root / "workflows"
        found = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
        return sorted(found, key=lambda w: w["CreatedAt"])

    # --- workflows --------------------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["Name"]
        with self._lock:
            if any(w["Name"] == name for w in self._workflows()):
                raise ApiError(CONFLICT, f"A workflow named {name} exists already.")
            location = request["DefinitionS3Location"]
            try:
                content = self._read(location)
            except MwaaLocalError as e:
                raise validation(f"Cannot read the definition: {e.message}") from None
            text = content.decode("utf-8", errors="replace")
            where = f"s3://{location['Bucket']}/{location['ObjectKey']}"
            findings = validate_text(text, where)
            if has_errors(findings):
                problems = "; ".join(str(f) for f in findings if f.severity == "error")
                raise validation(f"The workflow definition is not valid: {problems}")
            role = _ROLE.fullmatch(request["RoleArn"])
            partition, account = role.groups() if role else ("aws", "000000000000")
            suffix = "".join(secrets.choice(_ALNUM) for _ in range(10))
            workflow_id = f"{name}-{suffix}"
            now = _now()
            workflow = {
                "WorkflowArn": (
                    f"arn:{partition}:airflow-serverless:{self.region}:{account}:"
                    f"workflow/{workflow_id}"
                ),
                "WorkflowId": workflow_id,
                "Name": name,
                "WorkflowVersion": hashlib.md5(content, usedforsecurity=False).hexdigest(),
                "CreatedAt": now,
                "ModifiedAt": now,
                "WorkflowStatus": "READY",
                "DefinitionS3Location": location,
                "RoleArn": request["RoleArn"],
                "TriggerMode": request.get("TriggerMode"),
                "Description": request.get("Description"),
                "EngineVersion": request.get("EngineVersion"),
                "Tags": request.get("Tags") or {},
                "Warnings": [str(f) for f in findings],
            }
            self._definition_file(workflow_id).parent.mkdir(parents=True, exist_ok=True)
            self._definition_file(workflow_id).write_bytes(content)
            self._write(self._workflow_file(workflow_id), workflow)
        return workflow

    def get(self, arn: str) -> dict[str, Any]:
        for workflow in self._workflows():
            if workflow["WorkflowArn"] == arn:
                return workflow
        raise not_found(f"Workflow {arn} not found.")

    def definition(self, workflow: dict[str, Any]) -> str:
        return self._definition_file(workflow["WorkflowId"]).read_text(errors="replace")

    def list(self) -> list[dict[str, Any]]:
        return self._workflows()

    # --- runs ---------------------------------------------------------------------------------

    def start_run(self, arn: str, conf: dict[str, Any] | None) -> dict[str, Any]:
        workflow = self.get(arn)
        run_id = uuid.uuid4().hex
        record = {
            "WorkflowArn": arn,
            "WorkflowVersion": workflow["WorkflowVersion"],
            "RunId": run_id,
            "RunType": "ON_DEMAND",
            "OverrideParameters": conf,
            "RunDetail": {
                "WorkflowArn": arn,
                "WorkflowVersion": workflow["WorkflowVersion"],
                "RunId": run_id,
                "RunType": "ON_DEMAND",
                "CreatedAt": _now(),
                "ModifiedAt": _now(),
                "RunState": "STARTING",
                "TaskInstances": [],
            },
            "TaskInstanceSummaries": [],
        }
        self._write(self._run_file(workflow["WorkflowId"], run_id), record)
        answer = json.loads(json.dumps(record))  # as started, whatever the thread does next
        thread = threading.Thread(
            target=self._execute,
            args=(workflow, record, conf),
            name=f"workflow-run-{run_id}",
            daemon=True,
        )
        self.threads.append(thread)
        thread.start()
        return answer

    def _execute(
        self, workflow: dict[str, Any], record: dict[str, Any], conf: dict[str, Any] | None
    ) -> None:
        detail = record["RunDetail"]
        path = self._run_file(workflow["WorkflowId"], record["RunId"])
        detail["RunState"] = "RUNNING"
        detail["StartedOn"] = _now()
        self._write(path, record)
        try:
            report = self._run(
                self._definition_file(workflow["WorkflowId"]),
                conf,
                workflow["WorkflowId"],
                record["RunId"],
            )
        except Exception as e:  # noqa: BLE001 - the run's error, as the service reports it
            if not isinstance(e, MwaaLocalError):
                log.exception("workflow run %s failed", record["RunId"])
            message = e.message if isinstance(e, MwaaLocalError) else f"{type(e).__name__}: {e}"
            detail.update(RunState="FAILED", ErrorMessage=_short(message), CompletedOn=_now())
        else:
            ran = report["RunDetail"]
            detail.update(
                RunState=ran["RunState"],
                ErrorMessage=_short(ran.get("ErrorMessage")),
                StartedOn=ran.get("StartedOn") or detail["StartedOn"],
                CompletedOn=ran.get("CompletedOn") or _now(),
                Duration=ran.get("Duration"),
                TaskInstances=ran.get("TaskInstances") or [],
            )
            record["TaskInstanceSummaries"] = report.get("TaskInstances") or []
        detail["ModifiedAt"] = _now()
        self._write(path, record)

    def get_run(self, arn: str, run_id: str) -> dict[str, Any]:
        workflow = self.get(arn)
        path = self._run_file(workflow["WorkflowId"], run_id)
        if not path.is_file():
            raise not_found(f"Run {run_id} of workflow {arn} not found.")
        return json.loads(path.read_text())

    def list_runs(self, arn: str) -> list[dict[str, Any]]:
        workflow = self.get(arn)
        folder = self.root / "runs" / workflow["WorkflowId"]
        found = [json.loads(p.read_text()) for p in folder.glob("*.json")]
        return sorted(found, key=lambda r: r["RunDetail"]["CreatedAt"], reverse=True)


def definition_reader(environment: Environment) -> DefinitionReader:
    """A local folder named by its absolute path as the Bucket, else the environment's bucket
    (its folder, or s3://, which the API process reads with no AWS credentials of its own)."""
    from mwaa_local.bucket.source import FolderBucket, open_bucket

    def read(location: dict[str, Any]) -> bytes:
        folder = Path(location["Bucket"])
        if folder.is_absolute() and folder.is_dir():
            bucket = FolderBucket(folder)
        else:
            bucket = open_bucket(environment)
        return bucket.get(location["ObjectKey"], location.get("VersionId")).content

    return read


def docker_run(environment: Environment) -> RunFunction:
    """Runs go as `mwaa-local workflows run` does: a one-off container of the Airflow 3 image,
    which must be built already (the API process builds no image)."""

    def run(file: Path, conf: dict[str, Any] | None, workflow_id: str, run_id: str) -> dict:
        from mwaa_local.runtime.engine import docker_client
        from mwaa_local.runtime.image import image_tag
        from mwaa_local.workflows import run as runs

        client = docker_client()
        tag = image_tag(runs.airflow3_version(environment))
        if not client.images.list(name=tag):
            raise MwaaLocalError(
                f"The image {tag} is not built: build it with mwaa-local build-image "
                f"--airflow-version {runs.airflow3_version(environment).airflow}."
            )
        runner = runs.docker_runner(client, environment)
        done = runs.run_workflow(
            environment, file, runner, conf, workflow_id=workflow_id, run_id=run_id
        )
        return done.report

    return run


def for_environment(environment: Environment, region: str) -> WorkflowStore:
    """The environment's workflows, in .mwaa-local/<Name>/serverless/."""
    from mwaa_local.runtime.state import StateDir

    state = StateDir.for_environment(environment.project_dir, environment.name)
    return WorkflowStore(
        state.path / "serverless", region, definition_reader(environment), docker_run(environment)
    )
