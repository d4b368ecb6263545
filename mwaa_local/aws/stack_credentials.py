"""The tasks' AWS credentials around a stack: checked at `start` before anything comes up, and
described by `mwaa-local credentials` (issue 12).

At `start` the same code the credentials service runs (TaskCredentialSource) resolves the source
on the host and, in execution-role mode, assumes the role once, so a missing login, an expired SSO
session or a trust policy that refuses you fails `start` with the fix, not a task an hour later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mwaa_local.aws import credentials_address
from mwaa_local.aws.credentials import TaskIdentity, task_identity
from mwaa_local.aws.task_aws import (
    CREDENTIALS_SERVICE,
    TaskAws,
    current_task_aws,
    record_task_aws,
    resolve_task_aws,
)
from mwaa_local.errors import MwaaLocalError

if TYPE_CHECKING:
    from mwaa_local.runtime.stack import Stack

# The service's own interpreter and module (compose/credentials.yaml runs the same).
SERVICE_COMMAND = [
    "/usr/local/mwaa-local/bin/python3",
    "-m",
    "mwaa_local.container.credentials_service",
]


@dataclass(frozen=True)
class TaskCredentialsCheck:
    aws: TaskAws
    identity: TaskIdentity | None


def prepare_for_start(stack: Stack) -> TaskCredentialsCheck:
    """Decide the containers' AWS for this start, check the credentials on the host, make room
    for the credentials network, and record the decision. Raises MwaaLocalError with the fix."""
    environment = stack.environment
    aws = resolve_task_aws(environment)
    identity = None
    # A runtime without containers says which modes it can honour (runtime/host.py).
    check_runtime = getattr(stack, "check_task_aws", None)
    if check_runtime is not None:
        check_runtime(aws)
    if aws.enabled:
        identity = task_identity(aws.credentials_config(environment))
        if check_runtime is None:
            credentials_address.claim(stack.client, stack.project)
            for container in credentials_address.stale_containers(stack.client, stack.project):
                container.remove(force=True)
    record_task_aws(environment, aws)
    stack.task_aws = aws
    return TaskCredentialsCheck(aws, identity)


def describe(stack: Stack) -> dict[str, Any]:
    """Who the tasks are: from the running credentials service, else computed here. No key."""
    environment = stack.environment
    aws = current_task_aws(environment)
    report: dict[str, Any] = {"Mode": aws.mode, "Region": aws.region}
    if not aws.enabled:
        report["Note"] = aws.note or "Local.Credentials is none: the tasks get no AWS credentials."
        return report
    state = stack.states().get(CREDENTIALS_SERVICE)
    if state is not None and state.status == "running":
        container = stack.container_for(CREDENTIALS_SERVICE)
        code, (stdout, stderr) = container.exec_run([*SERVICE_COMMAND, "--identity"], demux=True)
        if code != 0:
            raise _service_error(stderr or stdout or b"")
        identity = json.loads(stdout)
        origin = "the running credentials service"
    else:
        identity = task_identity(aws.credentials_config(environment)).as_dict()
        origin = "computed on this machine (the environment is not running)"
    report.update(identity)
    report["Mode"] = aws.mode
    report["CredentialsEndpoint"] = aws.credentials_uri
    report["From"] = origin
    return report


def _service_error(body: bytes) -> MwaaLocalError:
    text = body.decode(errors="replace").strip()
    try:
        message = json.loads(text)["Message"]
    except (ValueError, KeyError, TypeError):
        message = text or "no answer"
    what, _, fix = message.partition(" Fix: ")
    return MwaaLocalError(
        f"The credentials service cannot give the tasks credentials: {what}",
        hint=fix or "See its log: mwaa-local logs credentials",
    )
