"""One handler per MWAA operation: parsed, validated input in; the output structure out.
The server serializes and checks the output against the operation's output shape."""

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mwaa_local.api import errors
from mwaa_local.api.backend import Backend
from mwaa_local.api.sigv4 import Caller
from mwaa_local.api.tokens import Kind, TokenStore

# ListEnvironments' MaxResults is 1-25 (the model); with none given a page holds the most.
DEFAULT_PAGE_SIZE = 25


@dataclass(frozen=True)
class Context:
    backend: Backend
    tokens: TokenStore
    web_server_hostname: str
    caller: Caller


Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


def _without_name(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != "Name"}


def get_environment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Environment": ctx.backend.get_environment(params["Name"])}


def list_environments(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Pages over the names in order; NextToken is the last name of the page before, so an
    environment added or removed between pages shifts nothing."""
    names = sorted(ctx.backend.list_environments())
    size = params.get("MaxResults", DEFAULT_PAGE_SIZE)
    token = params.get("NextToken")
    if token:
        after = _decode_token(token)
        names = [n for n in names if n > after]
    page, rest = names[:size], names[size:]
    output: dict[str, Any] = {"Environments": page}
    if rest:
        output["NextToken"] = base64.urlsafe_b64encode(page[-1].encode()).decode()
    return output


def _decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.validation(f"The NextToken {token!r} is not one this API gave.") from None


def create_environment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Arn": ctx.backend.create_environment(params["Name"], _without_name(params))}


def update_environment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Arn": ctx.backend.update_environment(params["Name"], _without_name(params))}


def delete_environment(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ctx.backend.delete_environment(params["Name"])
    return {}


def list_tags_for_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    return {"Tags": ctx.backend.list_tags(params["ResourceArn"])}


def tag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ctx.backend.tag_resource(params["ResourceArn"], params["Tags"])
    return {}


def untag_resource(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    ctx.backend.untag_resource(params["ResourceArn"], params.get("tagKeys", []))
    return {}


def create_cli_token(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    ctx.backend.get_environment(name)  # ResourceNotFoundException for an unknown name
    return {
        "CliToken": ctx.tokens.issue(Kind.CLI, name),
        "WebServerHostname": ctx.web_server_hostname,
    }


def create_web_login_token(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    name = params["Name"]
    ctx.backend.get_environment(name)
    identity = ctx.backend.web_login_identity(name)
    return {
        "WebToken": ctx.tokens.issue(Kind.WEB, name, airflow_identity=identity),
        "WebServerHostname": ctx.web_server_hostname,
        # MWAA names the caller's IAM principal here; locally only the access key is known.
        "IamIdentity": f"user/{ctx.caller.access_key_id}",
        "AirflowIdentity": identity,
    }


def invoke_rest_api(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    result = ctx.backend.invoke_rest_api(
        params["Name"],
        params["Method"],
        params["Path"],
        params.get("QueryParameters"),
        params.get("Body"),
    )
    if not 200 <= result.status < 300:
        raise errors.rest_api_error(result.status, result.body)
    output: dict[str, Any] = {"RestApiStatusCode": result.status}
    if result.body is not None:
        output["RestApiResponse"] = result.body
    return output


def publish_metrics(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    # "Internal only" in the model: MWAA's own components call it. Accepted and dropped.
    return {}


HANDLERS: dict[str, Handler] = {
    "CreateCliToken": create_cli_token,
    "CreateEnvironment": create_environment,
    "CreateWebLoginToken": create_web_login_token,
    "DeleteEnvironment": delete_environment,
    "GetEnvironment": get_environment,
    "InvokeRestApi": invoke_rest_api,
    "ListEnvironments": list_environments,
    "ListTagsForResource": list_tags_for_resource,
    "PublishMetrics": publish_metrics,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateEnvironment": update_environment,
}
