"""The service's errors in its own shapes, so botocore raises the exception classes users catch.

botocore reads the code from the `x-amzn-ErrorType` header and the message from the body's
`message` or `Message`, and merges the error shape's other members into `e.response`
(aws-clients-and-serverless.md A.5). The HTTP status comes from the error shape in the model.
"""

import json
from typing import Any

from botocore.model import ServiceModel

RESOURCE_NOT_FOUND = "ResourceNotFoundException"
VALIDATION = "ValidationException"
ACCESS_DENIED = "AccessDeniedException"
INTERNAL = "InternalServerException"
SERVICE_UNAVAILABLE = "ServiceUnavailableException"
REST_API_CLIENT = "RestApiClientException"
REST_API_SERVER = "RestApiServerException"
# Not in the model: what AWS answers for a path no operation serves.
UNKNOWN_OPERATION = "UnknownOperationException"
_UNMODELED_STATUS = {UNKNOWN_OPERATION: 404}


class ApiError(Exception):
    """An error answer: `code` names the error shape, `members` holds its members besides the
    message (RestApiStatusCode/RestApiResponse for the REST API errors)."""

    def __init__(self, code: str, message: str = "", **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.members = members


def not_found(message: str) -> ApiError:
    return ApiError(RESOURCE_NOT_FOUND, message)


def validation(message: str) -> ApiError:
    return ApiError(VALIDATION, message)


def access_denied(message: str) -> ApiError:
    return ApiError(ACCESS_DENIED, message)


def internal(message: str) -> ApiError:
    return ApiError(INTERNAL, message)


def unavailable(message: str) -> ApiError:
    return ApiError(SERVICE_UNAVAILABLE, message)


def rest_api_error(status: int, response: Any) -> ApiError:
    """Airflow's error answer to InvokeRestApi: 4xx is the client's fault, anything else the
    server's (MWAA models both with HTTP 400, carrying Airflow's status and body)."""
    code = REST_API_CLIENT if 400 <= status < 500 else REST_API_SERVER
    members: dict[str, Any] = {"RestApiStatusCode": status}
    if response is not None:
        members["RestApiResponse"] = response
    return ApiError(code, "", **members)


def status_of(model: ServiceModel, code: str) -> int:
    if code in _UNMODELED_STATUS:
        return _UNMODELED_STATUS[code]
    shape = model.shape_for(code)
    return int(shape.metadata["error"]["httpStatusCode"])


def error_body(model: ServiceModel, error: ApiError) -> dict[str, Any]:
    """The JSON body: the message under the member name the shape uses (`message`, or `Message`
    for AccessDeniedException), then the shape's other members."""
    members = model.shape_for(error.code).members if error.code in model.shape_names else {}
    body: dict[str, Any] = {}
    if error.message or not members:
        key = "Message" if "Message" in members else "message"
        body[key] = error.message
    body.update(error.members)
    return body


def render(model: ServiceModel, error: ApiError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the error answer."""
    headers = {"x-amzn-ErrorType": error.code, "Content-Type": "application/json"}
    return status_of(model, error.code), headers, json.dumps(error_body(model, error)).encode()
