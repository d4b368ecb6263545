"""MWAA Serverless (`mwaa-serverless`) on the MWAA API's port: CreateWorkflow, GetWorkflow,
ListWorkflows, StartWorkflowRun, GetWorkflowRun, ListWorkflowRuns and ListTaskInstances, for
boto3 and the AWS CLI with AWS_ENDPOINT_URL_MWAA_SERVERLESS set to the endpoint.

botocore's model (aws-clients-and-serverless.md F.1): awsJson 1.0, POST /, X-Amz-Target
`AmazonMWAAServerless.<Operation>`, signing name `airflow-serverless`. Inputs are checked
against the input shape and, when asked, outputs against the output shape, as api/cloudwatch.py
does for its services. The workflows live in api/serverless_workflows.py.
"""

import json
import logging
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel

from mwaa_local.api import errors, shapes, sigv4
from mwaa_local.api.errors import ApiError
from mwaa_local.api.model import json_body
from mwaa_local.api.response import Response
from mwaa_local.api.serverless_workflows import WorkflowStore
from mwaa_local.errors import MwaaLocalError

SERVICE = "mwaa-serverless"
SIGNING_NAME = "airflow-serverless"
TARGET = "AmazonMWAAServerless."
CONTENT_TYPE = "application/x-amz-json-1.0"
INTERNAL = "InternalServerException"
UNKNOWN_OPERATION = "UnknownOperationException"
DEFAULT_PAGE = 50

log = logging.getLogger(__name__)


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE)


def serves(path: str, headers: dict[str, str]) -> bool:
    """Whether a request is for MWAA Serverless rather than MWAA."""
    return headers.get("x-amz-target", "").startswith(TARGET)


def _page(items: list[Any], params: dict[str, Any], key: str) -> dict[str, Any]:
    """One page of `items` under `key`; NextToken is the next item's index."""
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise errors.validation("The NextToken is not one this service gave.") from None
    size = params.get("MaxResults") or DEFAULT_PAGE
    page: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return page


def _present(value: dict[str, Any]) -> dict[str, Any]:
    """The members that have a value (the API leaves absent members out)."""
    return {k: v for k, v in value.items() if v is not None and v != {}}


def create_workflow(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    workflow = store.create(params)
    return _present(
        {
            "WorkflowArn": workflow["WorkflowArn"],
            "CreatedAt": workflow["CreatedAt"],
            "WorkflowStatus": workflow["WorkflowStatus"],
            "WorkflowVersion": workflow["WorkflowVersion"],
            "IsLatestVersion": True,
            "Warnings": workflow["Warnings"] or None,
        }
    )


def _schedule(definition: str) -> dict[str, str] | None:
    import yaml

    try:
        loaded = yaml.safe_load(definition)
    except yaml.YAMLError:
        return None
    for name, dag in (loaded or {}).items():
        if name != "default" and isinstance(dag, dict) and isinstance(dag.get("schedule"), str):
            return {"CronExpression": dag["schedule"]}
    return None


def get_workflow(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    workflow = store.get(params["WorkflowArn"])
    definition = store.definition(workflow)
    return _present(
        {
            **{k: workflow.get(k) for k in _WORKFLOW_MEMBERS},
            "ScheduleConfiguration": _schedule(definition),
            "WorkflowDefinition": definition or None,
        }
    )


# Response members given in full although their shape caps them. GetWorkflowResponse's
# WorkflowDefinition is documented as "The workflow definition content" but typed GenericString
# (min 1, max 255, pattern ".*"), the string shape the model shares with TriggerMode and
# ErrorMessage (botocore data/mwaa-serverless/2024-07-26/service-2.json). A YAML definition is
# rarely that short, and the cap binds requests only: botocore validates parameters, never
# responses, so boto3 and the aws CLI hand over whatever the service returns. The definition as
# created is what a client reads there; only its type is checked here.
UNCAPPED = {"GetWorkflow": ("WorkflowDefinition",)}


_WORKFLOW_MEMBERS = (
    "WorkflowArn",
    "WorkflowVersion",
    "Name",
    "Description",
    "CreatedAt",
    "ModifiedAt",
    "EngineVersion",
    "WorkflowStatus",
    "DefinitionS3Location",
    "RoleArn",
    "TriggerMode",
)
_SUMMARY_MEMBERS = (
    "WorkflowArn",
    "WorkflowVersion",
    "Name",
    "Description",
    "CreatedAt",
    "ModifiedAt",
    "WorkflowStatus",
    "TriggerMode",
)


def list_workflows(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    summaries = [_present({k: w.get(k) for k in _SUMMARY_MEMBERS}) for w in store.list()]
    return _page(summaries, params, "Workflows")


def start_workflow_run(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    record = store.start_run(params["WorkflowArn"], params.get("OverrideParameters"))
    detail = record["RunDetail"]
    return {
        "RunId": record["RunId"],
        "Status": detail["RunState"],
        "StartedAt": detail["CreatedAt"],
    }


def get_workflow_run(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    record = store.get_run(params["WorkflowArn"], params["RunId"])
    return _present({k: v for k, v in record.items() if k != "TaskInstanceSummaries"}) | {
        "RunDetail": _present(record["RunDetail"])
    }


def list_workflow_runs(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    runs = [
        {
            "RunId": r["RunId"],
            "WorkflowArn": r["WorkflowArn"],
            "WorkflowVersion": r["WorkflowVersion"],
            "RunType": r["RunType"],
            "RunDetailSummary": _present(
                {
                    "Status": r["RunDetail"]["RunState"],
                    "CreatedOn": r["RunDetail"]["CreatedAt"],
                    "StartedAt": r["RunDetail"].get("StartedOn"),
                    "EndedAt": r["RunDetail"].get("CompletedOn"),
                }
            ),
        }
        for r in store.list_runs(params["WorkflowArn"])
        if not params.get("WorkflowVersion") or r["WorkflowVersion"] == params["WorkflowVersion"]
    ]
    return _page(runs, params, "WorkflowRuns")


def list_task_instances(store: WorkflowStore, params: dict[str, Any]) -> dict[str, Any]:
    record = store.get_run(params["WorkflowArn"], params["RunId"])
    tasks = [
        _present(
            {
                "WorkflowArn": record["WorkflowArn"],
                "WorkflowVersion": record["WorkflowVersion"],
                "RunId": record["RunId"],
                "TaskInstanceId": t.get("TaskInstanceId"),
                "Status": t.get("Status"),
                "DurationInSeconds": t.get("DurationInSeconds"),
                "OperatorName": t.get("OperatorName"),
            }
        )
        for t in record.get("TaskInstanceSummaries") or []
    ]
    return _page(tasks, params, "TaskInstances")


HANDLERS = {
    "CreateWorkflow": create_workflow,
    "GetWorkflow": get_workflow,
    "ListWorkflows": list_workflows,
    "StartWorkflowRun": start_workflow_run,
    "GetWorkflowRun": get_workflow_run,
    "ListWorkflowRuns": list_workflow_runs,
    "ListTaskInstances": list_task_instances,
}


class ServerlessEndpoint:
    def __init__(
        self,
        store: WorkflowStore | None,
        *,
        validate_responses: bool = False,
        shape_errors: list[str] | None = None,
    ) -> None:
        self.store = store
        self._validate = validate_responses
        self.shape_errors: list[str] = [] if shape_errors is None else shape_errors

    def handle(self, method: str, headers: dict[str, str], body: bytes) -> Response:
        operation_name = headers.get("x-amz-target", "").removeprefix(TARGET)
        try:
            if method != "POST":
                raise ApiError(UNKNOWN_OPERATION, f"{SERVICE} answers POST, not {method}.")
            sigv4.caller(headers.get("authorization"), {}, SIGNING_NAME)
            model = service_model()
            if operation_name not in model.operation_names:
                raise ApiError(UNKNOWN_OPERATION, f"No {SERVICE} operation is {operation_name!r}.")
            operation = model.operation_model(operation_name)
            handler = HANDLERS.get(operation_name)
            if handler is None:
                raise ApiError(INTERNAL, f"mwaa-local does not emulate {operation_name}.")
            params = json_body(body)
            problems = shapes.check(operation.input_shape, params, "", strict=False)
            if problems:
                raise errors.validation(shapes.describe(problems))
            if self.store is None:
                raise ApiError(INTERNAL, "This endpoint keeps no MWAA Serverless workflows.")
            output = handler(self.store, params)
            if self._validate:
                problems = _check_output(operation, output)
                if problems:
                    message = f"The {operation_name} response breaks its shape: "
                    message += shapes.describe(problems)
                    log.error(message)
                    self.shape_errors.append(message)
                    raise ApiError(INTERNAL, message)
            return _json(200, output, [])
        except ApiError as exc:
            return _error(exc)
        except MwaaLocalError as exc:
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return _error(ApiError(INTERNAL, text))
        except Exception as exc:
            log.exception("%s %s failed", SERVICE, operation_name)
            return _error(ApiError(INTERNAL, f"{type(exc).__name__}: {exc}"))


def _check_output(operation: Any, output: dict[str, Any]) -> list[shapes.Problem]:
    uncapped = UNCAPPED.get(operation.name, ())
    checked = {k: v for k, v in output.items() if k not in uncapped}
    problems = shapes.check(operation.output_shape, checked, "", strict=True)
    problems += [
        shapes.Problem(name, "Member must be of type string", output[name])
        for name in uncapped
        if name in output and not isinstance(output[name], str)
    ]
    return problems


def _json(status: int, value: dict[str, Any], headers: list[tuple[str, str]]) -> Response:
    return Response(status, json.dumps(value).encode(), [("Content-Type", CONTENT_TYPE), *headers])


_STATUS = {
    errors.VALIDATION: 400,
    errors.RESOURCE_NOT_FOUND: 404,
    errors.ACCESS_DENIED: 403,
    "ConflictException": 409,
    INTERNAL: 500,
    UNKNOWN_OPERATION: 400,
}


def _error(error: ApiError) -> Response:
    """The error as botocore's JSON protocol reads it: `__type` and `message` in the body."""
    status = _STATUS.get(error.code, 400)
    body = {"__type": error.code, "message": error.message}
    return _json(status, body, [("x-amzn-ErrorType", error.code)])
