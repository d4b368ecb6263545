"""The credentials service: the execution role's credentials for every task, over HTTP (issue 12).

Every Airflow container gets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI=<path> and no keys; botocore
(and every other AWS SDK) then GETs http://169.254.170.2<path> and expects the
container-credentials JSON (aws-clients-and-serverless.md D.3), as on MWAA and ECS. This server
holds 169.254.170.2 on the stack's credentials network and answers from a TaskCredentialSource:
cached, renewed before expiry (checked every --refresh-interval seconds and on each request),
each renewal logged without a key. Nothing is written to disk.

A failure is a non-200 JSON body {"Code", "Message"} whose Message ends with the fix; botocore
quotes the body in the task's error ("Error when retrieving credentials from container-role: Error
retrieving metadata: Received non 200 response 503 from container metadata: {...}"), so the hint
reaches the task log.

    python -m mwaa_local.container.credentials_service [options]     # serve
    python -m mwaa_local.container.credentials_service --check       # health check: exit 0 or 1
    python -m mwaa_local.container.credentials_service --identity    # who the tasks are (JSON)

Options default to MWAA_LOCAL_* variables (see `--help`); the source credentials come from the
usual AWS chain of this process (AWS_PROFILE with ~/.aws, or AWS_* variables), STS from
AWS_ENDPOINT_URL_STS / AWS_ENDPOINT_URL when set.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import MutableMapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from mwaa_local.aws.credentials import (
    ADVISORY_REFRESH,
    CREDENTIALS_PATH_PREFIX,
    DEFAULT_DURATION_SECONDS,
    MANDATORY_REFRESH,
    MODES,
    CredentialsConfig,
    TaskCredentialSource,
    iso8601,
    task_identity,
)
from mwaa_local.errors import MwaaLocalError

log = logging.getLogger("mwaa_local.credentials_service")

DEFAULT_PORT = 80  # on CONTAINER_CREDENTIALS_IP, the address the SDKs ask
DEFAULT_PATH = f"{CREDENTIALS_PATH_PREFIX}mwaa-local"
HEALTH_PATH = "/health"
IDENTITY_PATH = "/identity"
DEFAULT_REFRESH_INTERVAL_SECONDS = 60
# While the source fails, a health check answers with the last failure for this long instead of
# calling STS again (Docker checks every few seconds; a task's request always tries afresh).
HEALTH_FAILURE_REUSE_SECONDS = 30.0
# Compose hands every variable over, set or not; botocore reads an empty AWS_PROFILE as a name.
_CHAIN_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
)


def _error_body(code: str, message: str, hint: str | None = None) -> dict[str, str]:
    if hint:
        message = f"{message}{'' if message.endswith('.') else '.'} Fix: {hint}"
    return {"Code": code, "Message": message}


class CredentialsServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        source: TaskCredentialSource,
        path: str,
        auth_token: str | None = None,
    ) -> None:
        super().__init__(address, CredentialsHandler)
        self.source = source
        self.credentials_path = path
        self.auth_token = auth_token or None
        self.last_failure: tuple[float, MwaaLocalError] | None = None


class CredentialsHandler(BaseHTTPRequestHandler):
    server: CredentialsServer
    server_version = "mwaa-local-credentials"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            self._health()
        elif path == self.server.credentials_path:
            self._credentials()
        elif path == IDENTITY_PATH:
            self._identity()
        else:
            self._send(404, _error_body("NotFound", f"No credentials at {path}."))

    def _authorized(self) -> bool:
        token = self.server.auth_token
        if token is not None and not hmac.compare_digest(
            (self.headers.get("Authorization") or "").encode(), token.encode()
        ):
            log.warning("Refused a request without the authorization token.")
            self._send(401, _error_body("Unauthorized", "Missing or wrong authorization token."))
            return False
        return True

    def _identity(self) -> None:
        """Who the tasks are (sts get-caller-identity with their credentials), never a key."""
        if not self._authorized():
            return
        source = self.server.source
        try:
            identity = task_identity(source.config, source)
        except MwaaLocalError as exc:
            self._send(503, _error_body("CredentialsUnavailable", exc.message, exc.hint))
            return
        self._send(200, identity.as_dict())

    def _credentials(self) -> None:
        if not self._authorized():
            return
        try:
            issued = self.server.source.credentials()
        except MwaaLocalError as exc:
            log.error("Answered 503: %s %s", exc.message, exc.hint or "")
            self._send(503, _error_body("CredentialsUnavailable", exc.message, exc.hint))
            return
        except Exception as exc:  # an answer beats a dropped connection the SDK retries
            log.exception("Answered 500")
            self._send(500, _error_body("InternalError", f"{type(exc).__name__}: {exc}"))
            return
        self._send(200, issued.container_response())

    def _health(self) -> None:
        source = self.server.source
        if source.config.mode == "none":
            self._send(200, {"Status": "ok", "Mode": "none"})
            return
        last = self.server.last_failure
        if last is not None and time.monotonic() - last[0] < HEALTH_FAILURE_REUSE_SECONDS:
            exc = last[1]
            self._send(503, _error_body("CredentialsUnavailable", exc.message, exc.hint))
            return
        try:
            issued = source.credentials()
        except MwaaLocalError as exc:
            self.server.last_failure = (time.monotonic(), exc)
            self._send(503, _error_body("CredentialsUnavailable", exc.message, exc.hint))
            return
        self.server.last_failure = None
        self._send(
            200,
            {
                "Status": "ok",
                "Mode": source.config.mode,
                "Source": source.describe(),
                "Expiration": iso8601(issued.expiration),
            },
        )

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # One line per request would flood the log (every task fetches); renewals and
        # failures are logged where they happen.
        log.debug("%s %s", self.address_string(), format % args)


def build_server(
    source: TaskCredentialSource,
    *,
    path: str = DEFAULT_PATH,
    host: str = "0.0.0.0",
    port: int = DEFAULT_PORT,
    auth_token: str | None = None,
) -> CredentialsServer:
    """The HTTP server (not started: call serve_forever). port 0 picks a free port."""
    if not path.startswith("/") or path == HEALTH_PATH:
        raise MwaaLocalError(
            f"Credentials path {path!r} must start with / and differ from {HEALTH_PATH}.",
            hint=f"Use a path such as {DEFAULT_PATH}/<id>.",
        )
    return CredentialsServer((host, port), source, path, auth_token)


def keep_fresh(source: TaskCredentialSource, interval: float, stop: threading.Event) -> None:
    """Fetch once now and renew when due, so requests are answered from the cache."""
    while True:
        try:
            source.credentials()
        except MwaaLocalError as exc:
            log.error("%s %s", exc.message, exc.hint or "")
        if stop.wait(interval):
            return


def check(port: int, path: str = HEALTH_PATH, auth_token: str | None = None) -> int:
    """Ask this service (health check, or `--identity`): 0 on 200, else 1; the body printed."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if auth_token:
        request.add_header("Authorization", auth_token)
    try:
        with opener.open(request, timeout=30) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
    except OSError as exc:
        print(f"credentials service not answering: {exc}", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    role_arn = env("MWAA_LOCAL_EXECUTION_ROLE_ARN") or None
    parser = argparse.ArgumentParser(
        prog="python -m mwaa_local.container.credentials_service",
        description="Serve the tasks' AWS credentials in the container-credentials format.",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=env("MWAA_LOCAL_CREDENTIALS_MODE") or ("execution-role" if role_arn else "profile"),
        help="MWAA_LOCAL_CREDENTIALS_MODE; default execution-role when a role ARN is given",
    )
    parser.add_argument("--role-arn", default=role_arn, help="MWAA_LOCAL_EXECUTION_ROLE_ARN")
    parser.add_argument(
        "--environment-name",
        default=env("MWAA_LOCAL_ENVIRONMENT_NAME", "local"),
        help="MWAA_LOCAL_ENVIRONMENT_NAME: the role session is mwaa-local-<name>",
    )
    parser.add_argument(
        "--path",
        default=env("MWAA_LOCAL_CREDENTIALS_PATH", DEFAULT_PATH),
        help="MWAA_LOCAL_CREDENTIALS_PATH: the containers' AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    )
    parser.add_argument("--host", default=env("MWAA_LOCAL_CREDENTIALS_HOST", "0.0.0.0"))
    parser.add_argument(
        "--port", type=int, default=int(env("MWAA_LOCAL_CREDENTIALS_PORT", str(DEFAULT_PORT)))
    )
    parser.add_argument(
        "--duration",
        type=int,
        default=int(env("MWAA_LOCAL_CREDENTIALS_DURATION", str(DEFAULT_DURATION_SECONDS))),
        help="MWAA_LOCAL_CREDENTIALS_DURATION: seconds each role session lasts",
    )
    parser.add_argument(
        "--refresh-interval",
        type=float,
        default=float(
            env("MWAA_LOCAL_CREDENTIALS_REFRESH_INTERVAL", str(DEFAULT_REFRESH_INTERVAL_SECONDS))
        ),
        help="seconds between checks whether the credentials are due for renewal (0: off)",
    )
    parser.add_argument(
        "--renew-before",
        type=float,
        default=float(
            env("MWAA_LOCAL_CREDENTIALS_RENEW_BEFORE") or ADVISORY_REFRESH.total_seconds()
        ),
        help="MWAA_LOCAL_CREDENTIALS_RENEW_BEFORE: renew this many seconds before expiry",
    )
    parser.add_argument(
        "--check", action="store_true", help="query this service's health and exit 0 or 1"
    )
    parser.add_argument(
        "--identity", action="store_true", help="print who the tasks are (JSON) and exit"
    )
    return parser


def drop_empty_chain_variables(environ: MutableMapping[str, str] = os.environ) -> None:
    """Unset the AWS chain's variables that compose handed over empty."""
    for name in _CHAIN_VARIABLES:
        if name in environ and not environ[name].strip():
            del environ[name]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The only secret this service takes from its environment; kept out of argv (`ps`).
    auth_token = os.environ.get("MWAA_LOCAL_CREDENTIALS_AUTH_TOKEN") or None
    if args.check:
        return check(args.port)
    if args.identity:
        return check(args.port, IDENTITY_PATH, auth_token)
    drop_empty_chain_variables()
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # botocore logs request details at DEBUG only; keep it (and urllib3) quiet regardless.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = CredentialsConfig(
            mode=args.mode,
            environment_name=args.environment_name,
            execution_role_arn=args.role_arn,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
            duration_seconds=args.duration,
        )
        renew_before = dt.timedelta(seconds=args.renew_before)
        source = TaskCredentialSource(
            config,
            advisory_refresh=renew_before,
            mandatory_refresh=min(renew_before, MANDATORY_REFRESH),
        )
        server = build_server(
            source,
            path=args.path,
            host=args.host,
            port=args.port,
            auth_token=auth_token,
        )
    except MwaaLocalError as exc:
        log.error("%s %s", exc.message, exc.hint or "")
        return 2
    # As PID 1 in a container, SIGTERM's default action is ignored: exit on it explicitly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stop = threading.Event()
    if config.mode != "none" and args.refresh_interval > 0:
        threading.Thread(
            target=keep_fresh,
            args=(server.source, args.refresh_interval, stop),
            name="keep-fresh",
            daemon=True,
        ).start()
    log.info(
        "Serving the tasks' AWS credentials (mode %s) on %s:%d%s",
        config.mode,
        args.host,
        server.server_address[1],
        " (authorization token required)" if auth_token else "",
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
