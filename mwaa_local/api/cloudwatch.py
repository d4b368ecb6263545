"""CloudWatch Logs and CloudWatch on the MWAA API's port, so that `aws logs filter-log-events` and
`aws cloudwatch get-metric-data` (with AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, botocore's name for the
`logs` service id "CloudWatch Logs", and AWS_ENDPOINT_URL_CLOUDWATCH set to
the endpoint) read the environment's log groups and metrics.

The protocols are botocore's models' (aws-clients-and-serverless.md G): `logs` is awsJson 1.1
(POST /, X-Amz-Target `Logs_20140328.<Operation>`); `cloudwatch` is Smithy RPC v2 CBOR
(POST /service/GraniteServiceVersion20100801/operation/<Operation>), which botocore >= 1.40
prefers, or awsJson 1.0 (X-Amz-Target `GraniteServiceVersion20100801.<Operation>`). Requests
must be SigV4-signed for `logs` or `monitoring`; inputs are checked against the input shape and,
when asked, outputs against the output shape.
"""

import datetime as dt
import json
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
import cbor2
from botocore.model import ServiceModel

from mwaa_local.api import errors, logs_operations, metric_operations, shapes, sigv4
from mwaa_local.api.errors import ApiError
from mwaa_local.api.response import Response
from mwaa_local.api.telemetry import Telemetry
from mwaa_local.errors import MwaaLocalError

LOGS_TARGET = "Logs_20140328."
CLOUDWATCH_TARGET = "GraniteServiceVersion20100801."
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"
UNKNOWN_OPERATION = "UnknownOperationException"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Service:
    name: str  # botocore's service name
    signing_name: str
    invalid: str  # the error shape for a bad parameter
    unavailable: str  # the error shape for "cannot answer now"
    handlers: dict[str, Any]


LOGS = _Service(
    "logs",
    "logs",
    logs_operations.INVALID_PARAMETER,
    "ServiceUnavailableException",
    logs_operations.HANDLERS,
)
CLOUDWATCH = _Service(
    "cloudwatch",
    "monitoring",
    metric_operations.INVALID_PARAMETER,
    "InternalServiceFault",
    metric_operations.HANDLERS,
)


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


@dataclass(frozen=True)
class _Request:
    service: _Service
    operation: str
    protocol: str  # "json1.1", "json1.0" or "cbor"


def _request(path: str, headers: dict[str, str]) -> _Request | None:
    target = headers.get("x-amz-target", "")
    if target.startswith(LOGS_TARGET):
        return _Request(LOGS, target.removeprefix(LOGS_TARGET), "json1.1")
    if target.startswith(CLOUDWATCH_TARGET):
        return _Request(CLOUDWATCH, target.removeprefix(CLOUDWATCH_TARGET), "json1.0")
    if path.startswith(CBOR_PATH):
        return _Request(CLOUDWATCH, path.removeprefix(CBOR_PATH), "cbor")
    return None


def serves(path: str, headers: dict[str, str]) -> bool:
    """Whether a request is for CloudWatch Logs or CloudWatch rather than MWAA."""
    return _request(path, headers) is not None


class CloudWatchEndpoint:
    def __init__(
        self,
        telemetry: Telemetry | None,
        *,
        validate_responses: bool = False,
        shape_errors: list[str] | None = None,
    ) -> None:
        self._telemetry = telemetry
        self._validate = validate_responses
        self.shape_errors: list[str] = [] if shape_errors is None else shape_errors

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Response:
        request = _request(path, headers)
        assert request is not None, "dispatch only sends what serves() accepts"
        service = request.service
        try:
            if method != "POST":
                raise ApiError(UNKNOWN_OPERATION, f"{service.name} answers POST, not {method}.")
            sigv4.caller(headers.get("authorization"), {}, service.signing_name)
            model = service_model(service.name)
            if request.operation not in model.operation_names:
                raise ApiError(UNKNOWN_OPERATION, f"No {service.name} operation is named "
                               f"{request.operation!r}.")  # fmt: skip
            operation = model.operation_model(request.operation)
            handler = service.handlers.get(request.operation)
            if handler is None:
                raise ApiError(service.invalid, f"mwaa-local does not emulate {operation.name}.")
            params = _decode(request.protocol, body, service)
            problems = shapes.check(operation.input_shape, params, "", strict=False)
            if problems:
                raise ApiError(service.invalid, shapes.describe(problems))
            if self._telemetry is None:
                raise ApiError(service.unavailable, "This endpoint serves no environment's logs.")
            output = handler(self._telemetry, params)
            if self._validate:
                problems = shapes.check(operation.output_shape, output, "", strict=True)
                if problems:
                    message = f"The {operation.name} response breaks its shape: "
                    message += shapes.describe(problems)
                    log.error(message)
                    self.shape_errors.append(message)
                    raise ApiError(service.unavailable, message)
            return _encode(request.protocol, 200, output, [])
        except ApiError as exc:
            return _error(request, exc)
        except MwaaLocalError as exc:
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return _error(request, ApiError(service.unavailable, text))
        except Exception as exc:
            log.exception("%s %s failed", service.name, request.operation)
            return _error(request, ApiError(service.unavailable, f"{type(exc).__name__}: {exc}"))


def _decode(protocol: str, body: bytes, service: _Service) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        params = _from_cbor(cbor2.loads(body)) if protocol == "cbor" else json.loads(body)
    except ValueError as exc:
        raise ApiError(service.invalid, f"The request body cannot be read: {exc}") from None
    if not isinstance(params, dict):
        raise ApiError(service.invalid, "The request body must be an object.")
    return params


def _encode(
    protocol: str, status: int, value: dict[str, Any], headers: list[tuple[str, str]]
) -> Response:
    if protocol == "cbor":
        content = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        return Response(
            status, cbor2.dumps(_to_cbor(value), datetime_as_timestamp=True), content + headers
        )
    content_type = "application/x-amz-json-" + protocol.removeprefix("json")
    return Response(status, json.dumps(value).encode(), [("Content-Type", content_type), *headers])


def _from_cbor(value: Any) -> Any:
    """Decoded CBOR with its timestamps (tag 1, datetimes to cbor2) as epoch seconds, as JSON
    carries them."""
    if isinstance(value, dict):
        return {key: _from_cbor(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_cbor(item) for item in value]
    return value.timestamp() if isinstance(value, dt.datetime) else value


def _to_cbor(value: Any) -> Any:
    """The answer with its timestamps as datetimes, which cbor2 writes as tag 1."""
    if isinstance(value, dict):
        return {key: _to_cbor(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_cbor(item) for item in value]
    if isinstance(value, metric_operations.Epoch):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return value


def _error(request: _Request, error: ApiError) -> Response:
    """The error as botocore reads it: `__type` in the body (and x-amzn-ErrorType), the status
    from the error shape; CloudWatch is awsQueryCompatible, so its query error code travels in
    x-amzn-query-error, which botocore reports as the code."""
    model = service_model(request.service.name)
    status, headers = 400, [("x-amzn-ErrorType", error.code)]
    if error.code in model.shape_names:
        shape = model.shape_for(error.code)
        details = shape.metadata.get("error", {})
        fault = shape.metadata.get("fault")
        status = int(details.get("httpStatusCode", 500 if fault else 400))
        if request.service is CLOUDWATCH:
            party = "Receiver" if fault else "Sender"
            headers.append(("x-amzn-query-error", f"{details.get('code', error.code)};{party}"))
    if error.code == errors.ACCESS_DENIED:
        status = 403
    if status == 500 and error.code == request.service.unavailable == "ServiceUnavailableException":
        status = 503
    body = {"__type": error.code, "message": error.message}
    return _encode(request.protocol, status, body, headers)
