"""The MWAA control-plane API (the `api.` and `env.` host families, routed by path): SigV4
check, route and input parsing from botocore's model, the operation's handler, and the output
serialized (and, when asked, checked) against the operation's output shape."""

import logging
from typing import Any

from mwaa_local.api import errors, model, sigv4
from mwaa_local.api.backend import Backend
from mwaa_local.api.operations import HANDLERS, Context
from mwaa_local.api.response import Response, json_response
from mwaa_local.api.shapes import describe
from mwaa_local.api.tokens import TokenStore
from mwaa_local.errors import MwaaLocalError

log = logging.getLogger(__name__)


class ResponseShapeError(AssertionError):
    """A response broke its output shape (raised only with validate_responses)."""


class ControlPlane:
    def __init__(
        self,
        backend: Backend,
        tokens: TokenStore,
        web_server_hostname: str,
        *,
        validate_responses: bool = False,
    ) -> None:
        self._backend = backend
        self._tokens = tokens
        self._web_server_hostname = web_server_hostname
        self._validate = validate_responses
        self._model = model.service_model()
        self.shape_errors: list[str] = []

    def handle(
        self,
        method: str,
        raw_path: str,
        query: dict[str, list[str]],
        authorization: str | None,
        body: bytes,
    ) -> Response:
        try:
            caller = sigv4.caller(authorization, query)
            found = model.match(method, raw_path)
            if found is None:
                raise errors.ApiError(
                    errors.UNKNOWN_OPERATION,
                    f"No MWAA operation answers {method} {raw_path.split('?', 1)[0]}.",
                )
            operation, labels = found
            params = model.parse_request(operation, labels, query, body)
            handler = HANDLERS.get(operation.name)
            if handler is None:
                raise errors.validation(f"mwaa-local does not emulate {operation.name}.")
            ctx = Context(self._backend, self._tokens, self._web_server_hostname, caller)
            wire = model.serialize_output(operation, handler(ctx, params))
            if self._validate:
                self._check(operation.name, model.output_problems(operation, wire))
            return json_response(200, wire)
        except errors.ApiError as exc:
            return self._error(exc)
        except ResponseShapeError as exc:
            return self._shape_broken(exc)
        except MwaaLocalError as exc:
            text = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return self._error(errors.internal(text))
        except Exception as exc:
            log.exception("%s %s failed", method, raw_path)
            return self._error(errors.internal(f"{type(exc).__name__}: {exc}"))

    def _error(self, error: errors.ApiError) -> Response:
        if self._validate:
            try:
                self._check(error.code, model.error_problems(error))
            except ResponseShapeError as exc:
                return self._shape_broken(exc)
        status, headers, body = errors.render(self._model, error)
        return Response(status, body, list(headers.items()))

    def _shape_broken(self, exc: ResponseShapeError) -> Response:
        """The client gets an InternalServerException naming the broken member; the problem
        is kept in `shape_errors` for a test to assert on."""
        self.shape_errors.append(str(exc))
        status, headers, body = errors.render(self._model, errors.internal(str(exc)))
        return Response(status, body, list(headers.items()))

    def _check(self, what: str, problems: list[Any]) -> None:
        if problems:
            message = f"The {what} response breaks its shape: {describe(problems)}"
            log.error(message)
            raise ResponseShapeError(message)
