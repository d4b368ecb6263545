"""The local MWAA endpoint: one port on 127.0.0.1 serving the control plane (both the `api.` and
`env.` families) and the web server's /aws_mwaa/cli and /aws_mwaa/aws-console-sso. It routes by
path and ignores the Host header, so clients work with host prefix injection off
(`AWS_DISABLE_HOST_PREFIX_INJECTION=true`) or with a name like api.localhost that resolves here
(aws-clients-and-serverless.md A.3).

http.server's ThreadingHTTPServer is enough: requests are few, small and local, and a thread
per request lets a long CLI command run while other calls are answered. No dependency needed.
"""

import errno
import logging
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mwaa_local.api import cli_endpoint, cloudwatch, serverless, web_login
from mwaa_local.api.backend import Backend
from mwaa_local.api.cli_endpoint import CliEndpoint
from mwaa_local.api.cloudwatch import CloudWatchEndpoint
from mwaa_local.api.control_plane import ControlPlane
from mwaa_local.api.response import Response, json_response
from mwaa_local.api.serverless import ServerlessEndpoint
from mwaa_local.api.serverless_workflows import WorkflowStore
from mwaa_local.api.telemetry import Telemetry
from mwaa_local.api.tokens import TokenStore
from mwaa_local.api.web_login import WebLoginEndpoint
from mwaa_local.errors import MwaaLocalError

BIND_HOST = "127.0.0.1"
MAX_BODY_BYTES = 10 * 1024 * 1024
# How soon stop() takes effect (http.server's default is half a second).
POLL_SECONDS = 0.05

log = logging.getLogger(__name__)


class ApiServer:
    """Start with `start()` (a background thread) or `serve_forever()`; `stop()` closes it.

    `web_server_hostname` is what CreateCliToken/CreateWebLoginToken answer as
    WebServerHostname (default: this server's host:port). `validate_responses` checks every
    answer against its output shape; a broken one becomes an InternalServerException and is
    listed in `shape_errors`. `telemetry` holds the logs and metrics that the CloudWatch Logs and
    CloudWatch requests on the same port read (api/cloudwatch.py); `workflows` the MWAA
    Serverless workflows its `mwaa-serverless` requests serve (api/serverless.py).
    """

    def __init__(
        self,
        backend: Backend,
        port: int = 0,
        *,
        web_server_hostname: str | None = None,
        validate_responses: bool = False,
        clock: Callable[[], float] = time.monotonic,
        max_cli_commands: int = cli_endpoint.MAX_CONCURRENT_COMMANDS,
        telemetry: Telemetry | None = None,
        workflows: WorkflowStore | None = None,
    ) -> None:
        try:
            self._httpd = _HttpServer((BIND_HOST, port), _Handler)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise MwaaLocalError(
                f"Port {port} on {BIND_HOST} is in use.", hint="Choose another port."
            ) from None
        self._httpd.api = self
        self.tokens = TokenStore(clock)
        self.control_plane = ControlPlane(
            backend,
            self.tokens,
            web_server_hostname or self.address,
            validate_responses=validate_responses,
        )
        self.cli = CliEndpoint(backend, self.tokens, max_cli_commands)
        self.web_login = WebLoginEndpoint(backend, self.tokens)
        self.cloudwatch = CloudWatchEndpoint(
            telemetry,
            validate_responses=validate_responses,
            shape_errors=self.control_plane.shape_errors,  # one list for the tests to read
        )
        self.serverless = ServerlessEndpoint(
            workflows,
            validate_responses=validate_responses,
            shape_errors=self.control_plane.shape_errors,
        )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def address(self) -> str:
        return f"{BIND_HOST}:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.address}"

    @property
    def shape_errors(self) -> list[str]:
        return self.control_plane.shape_errors

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=POLL_SECONDS)

    def start(self) -> "ApiServer":
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="mwaa-local-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> Response:
        split = urllib.parse.urlsplit(raw_path)
        path = split.path
        if path in cli_endpoint.PATHS:
            return self.cli.handle(method, headers.get("authorization"), body)
        if path in web_login.PATHS:
            return self.web_login.handle(method, body)
        if cloudwatch.serves(path, headers):
            return self.cloudwatch.handle(method, path, headers, body)
        if serverless.serves(path, headers):
            return self.serverless.handle(method, headers, body)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        return self.control_plane.handle(
            method, raw_path, query, headers.get("authorization"), body
        )


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    api: ApiServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections
    server_version = "mwaa-local"
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm holds the body
        # until the client's delayed ACK (40 ms a request on Linux).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self._write(json_response(413, {"message": "The request body is too large."}))
            self.close_connection = True
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            response = self.server.api.dispatch(self.command, self.path, headers, body)
        except Exception:
            log.exception("%s %s failed", self.command, self.path)
            response = json_response(500, {"message": "mwaa-local failed; see its log."})
        self._write(response)

    def _read_body(self) -> bytes | None:
        """The body (None when over MAX_BODY_BYTES), chunked or not: curl sends a piped
        `--data-binary @-` chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            size = 0
            while True:
                length = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                size += length
                if size > MAX_BODY_BYTES:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        log.debug("%s " + format, self.address_string(), *args)
