"""POST /aws_mwaa/cli: the web server's Airflow CLI endpoint (mwaa-behaviour.md 6.4,
aws-clients-and-serverless.md B.1).

The request carries `Authorization: Bearer <CliToken>` and, as a text/plain body, the command
without the leading `airflow`. The answer is JSON {"stdout": base64, "stderr": base64}, both keys
always present (clients decode both). What MWAA answers besides that is mostly undocumented:
- a command outside MWAA's allow-list: HTTP 500 (reported for `pools import` and `roles create`
  in aws/amazon-mwaa-docker-images#148; the body is not shown there), so 500 here with both keys
  and the reason in stderr;
- more than 4 commands at once: HTTP 503 ("Typically a maximum of 4 CLI commands can run
  simultaneously", UG troubleshooting);
- an unknown or expired token: 403 here (MWAA's status is undocumented);
- a command that exits non-zero: 200 with its output (undocumented); the exit code travels in the
  X-Mwaa-Local-Exit-Code header, which MWAA does not send.
"""

import base64
import logging
import shlex
import threading

from mwaa_local.api import errors, model
from mwaa_local.api.backend import Backend
from mwaa_local.api.response import Response, json_response
from mwaa_local.api.tokens import Kind, TokenStore
from mwaa_local.mwaa import cli_commands

PATHS = ("/aws_mwaa/cli", "/aws_mwaa/cli/")
MAX_CONCURRENT_COMMANDS = 4
REFUSED_STATUS = 500
EXIT_CODE_HEADER = "X-Mwaa-Local-Exit-Code"

log = logging.getLogger(__name__)


def cli_answer(
    status: int, stdout: bytes = b"", stderr: bytes = b"", headers: list | None = None
) -> Response:
    return json_response(
        status,
        {
            "stdout": base64.b64encode(stdout).decode("ascii"),
            "stderr": base64.b64encode(stderr).decode("ascii"),
        },
        headers,
    )


def _refuse(status: int, message: str) -> Response:
    return cli_answer(status, stderr=(message.rstrip("\n") + "\n").encode())


class CliEndpoint:
    def __init__(
        self,
        backend: Backend,
        tokens: TokenStore,
        max_concurrent: int = MAX_CONCURRENT_COMMANDS,
    ) -> None:
        self._backend = backend
        self._tokens = tokens
        self._slots = threading.BoundedSemaphore(max_concurrent)

    def handle(self, method: str, authorization: str | None, body: bytes) -> Response:
        if method != "POST":
            return _refuse(405, f"{method} is not supported here: POST the command.")
        token = _bearer(authorization)
        grant = self._tokens.redeem(Kind.CLI, token) if token else None
        if grant is None:
            return _refuse(
                403,
                "The CLI token is missing, unknown or expired (tokens last 60 seconds): "
                "create one with `aws mwaa create-cli-token --name NAME`.",
            )
        try:
            argv = shlex.split(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _refuse(400, f"The command cannot be read: {exc}.")
        if not argv:
            return _refuse(400, "No command was sent: POST it as the body, e.g. `dags list`.")
        try:
            version = self._backend.get_environment(grant.environment)["AirflowVersion"]
            reason = cli_commands.refusal(argv, version)
            if reason is not None:
                return _refuse(REFUSED_STATUS, reason)
            if not self._slots.acquire(blocking=False):
                return _refuse(
                    503,
                    f"{MAX_CONCURRENT_COMMANDS} CLI commands are running already; retry when "
                    "one has finished.",
                )
            try:
                result = self._backend.run_cli(grant.environment, argv)
            finally:
                self._slots.release()
        except errors.ApiError as exc:
            return _refuse(errors.status_of(model.service_model(), exc.code), exc.message)
        except Exception as exc:
            log.exception("the CLI command %s failed", argv)
            return _refuse(500, f"mwaa-local could not run the command: {exc}")
        return cli_answer(
            200, result.stdout, result.stderr, [(EXIT_CODE_HEADER, str(result.exit_code))]
        )


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
