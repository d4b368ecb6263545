"""The MWAA API as botocore's installed service model describes it: routes from each operation's
method and requestUri, request parsing per the input shape's member locations (rest-json), and
responses serialized per the output shape. No hand-written route table: a botocore upgrade that
changes the API changes this server with it.
"""

import datetime
import json
import re
import urllib.parse
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from mwaa_local.api import errors, shapes

SERVICE_NAME = "mwaa"


@cache
def service_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {
            label: urllib.parse.unquote(found.group(index + 1))
            for index, label in enumerate(self.labels)
        }


def _route(operation: OperationModel) -> Route:
    """`/tags/{ResourceArn}` -> a pattern with one group per label; a greedy label `{Key+}` may
    span slashes. botocore percent-encodes labels (a `/` in an ARN is sent as %2F), so the raw
    path is matched and each label is decoded afterwards."""
    uri = operation.http["requestUri"].split("?", 1)[0]
    labels: list[str] = []
    parts: list[str] = []
    position = 0
    for found in re.finditer(r"\{([^}]+)\}", uri):
        parts.append(re.escape(uri[position : found.start()]))
        name = found.group(1)
        greedy = name.endswith("+")
        labels.append(name.rstrip("+"))
        parts.append("(.+)" if greedy else "([^/]+)")
        position = found.end()
    parts.append(re.escape(uri[position:]))
    return Route(operation, operation.http["method"], re.compile("".join(parts)), tuple(labels))


@cache
def routes() -> tuple[Route, ...]:
    model = service_model()
    return tuple(_route(model.operation_model(name)) for name in model.operation_names)


def match(method: str, raw_path: str) -> tuple[OperationModel, dict[str, str]] | None:
    path = raw_path.split("?", 1)[0]
    for route in routes():
        labels = route.match(method, path)
        if labels is not None:
            return route.operation, labels
    return None


def parse_request(
    operation: OperationModel,
    labels: dict[str, str],
    query: dict[str, list[str]],
    body: bytes,
) -> dict[str, Any]:
    """The operation's input as a dict of member name -> value, checked against the input shape;
    any problem raises a ValidationException listing all of them."""
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    problems: list[shapes.Problem] = []
    payload = json_body(body)
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in labels:
                params[name] = labels[wire_name]
        elif location == "querystring":
            if wire_name in query:
                params[name] = _from_query(member, query[wire_name], name, problems)
        elif location in ("header", "headers"):
            continue  # MWAA's inputs have no header members
        elif name in payload:
            params[name] = payload[name]
    problems.extend(shapes.check(shape, params, "", strict=False))
    if problems:
        raise errors.validation(shapes.describe(problems))
    return params


def json_body(body: bytes) -> dict[str, Any]:
    """A JSON request body as an object ({} when empty), or a ValidationException."""
    if not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise errors.validation(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise errors.validation("The request body must be a JSON object.")
    return payload


def _from_query(member: Shape, values: list[str], name: str, problems: list) -> Any:
    if member.type_name == "list":
        return [_scalar(member.member, v, name, problems) for v in values]
    return _scalar(member, values[-1], name, problems)


def _scalar(shape: Shape, text: str, name: str, problems: list) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            problems.append(shapes.Problem(name, f"Member must be of type {shape.type_name}", text))
            return None
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def serialize_output(operation: OperationModel, output: dict[str, Any]) -> dict[str, Any]:
    """The output's wire form: datetimes as epoch seconds (rest-json's default for bodies),
    None members left out. Members the shape does not name are kept, for the checker to see."""
    shape = operation.output_shape
    if shape is None:
        return {}
    return _wire(shape, output)


def _wire(shape: Shape | None, value: Any) -> Any:
    if value is None or shape is None or shape.metadata.get("document"):
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: _wire(members.get(k), v) for k, v in value.items() if v is not None}
    if kind == "list" and isinstance(value, list | tuple):
        return [_wire(shape.member, v) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: _wire(shape.value, v) for k, v in value.items()}
    if kind == "timestamp" and isinstance(value, datetime.datetime):
        if value.tzinfo is None:  # naive times are UTC, as botocore reads them
            value = value.replace(tzinfo=datetime.UTC)
        if shape.serialization.get("timestampFormat", "unixTimestamp") == "unixTimestamp":
            return value.timestamp()
        return value.isoformat()
    return value


def output_problems(operation: OperationModel, wire: dict[str, Any]) -> list[shapes.Problem]:
    """Every way the wire-form output breaks the output shape (strict: unknown members too)."""
    shape = operation.output_shape
    if shape is None:
        return [shapes.Problem("", "Member is not expected: the operation has no output", wire)]
    return shapes.check(shape, wire, "", strict=True)


def error_problems(error: errors.ApiError) -> list[shapes.Problem]:
    """Every way an error body breaks its error shape."""
    model = service_model()
    if error.code not in model.shape_names:
        return []
    return shapes.check(
        model.shape_for(error.code), errors.error_body(model, error), "", strict=True
    )
