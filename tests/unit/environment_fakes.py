"""Stand-ins for what the environment backend talks to besides files: the Docker engine (the
containers' states and `exec`) and the Airflow web server (REST API, FAB login form)."""

import json
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICES_3 = (
    *("postgres", "redis", "metrics", "api-server", "scheduler", "dag-processor", "triggerer"),
    "worker",
)


@dataclass
class FakeContainer:
    service: str
    status: str = "running"
    health: str | None = "healthy"

    @property
    def id(self) -> str:
        return f"id-{self.service}"

    @property
    def name(self) -> str:
        return f"env-{self.service}-1"

    @property
    def labels(self) -> dict[str, str]:
        return {"com.docker.compose.service": self.service}

    @property
    def attrs(self) -> dict[str, Any]:
        state: dict[str, Any] = {"Status": self.status, "ExitCode": 0}
        if self.health:
            state["Health"] = {"Status": self.health}
        return {"State": state, "RestartCount": 0}


@dataclass
class FakeExecApi:
    """docker's low-level exec calls: each command is answered by `handler(argv)`."""

    handler: Callable[[list[str]], tuple[int, bytes, bytes]]
    calls: list[tuple[str, list[str]]] = field(default_factory=list)
    _results: dict[str, tuple[int, bytes, bytes]] = field(default_factory=dict)

    def exec_create(self, container_id: str, command: list[str]) -> dict[str, str]:
        self.calls.append((container_id, command))
        exec_id = f"exec-{len(self.calls)}"
        # bash -c '<load the component env>; exec "$@"' mwaa-local <argv...>
        self._results[exec_id] = self.handler(command[4:])
        return {"Id": exec_id}

    def exec_start(self, exec_id: str, demux: bool = False):
        _, stdout, stderr = self._results[exec_id]
        return stdout or None, stderr or None

    def exec_inspect(self, exec_id: str) -> dict[str, int]:
        return {"ExitCode": self._results[exec_id][0]}


class FakeContainers:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self.containers = containers

    def list(self, all: bool = False, filters: dict | None = None) -> list[FakeContainer]:  # noqa: A002
        return [c for c in self.containers if all or c.status == "running"]


class FakeDockerClient:
    def __init__(self, services: tuple[str, ...] = SERVICES_3) -> None:
        self.containers = FakeContainers([FakeContainer(s) for s in services])
        self.api = FakeExecApi(lambda argv: (0, json.dumps(argv).encode(), b""))

    def set_status(self, status: str, health: str | None = None) -> None:
        for container in self.containers.containers:
            container.status, container.health = status, health


class FakeAirflow:
    """An Airflow web server's answers, just enough: /auth/token and /api/v2 (Airflow 3), basic
    auth on /api/v1 (Airflow 2), and FAB's login form with its CSRF token and cookies."""

    def __init__(self, username: str, password: str, major: int = 3) -> None:
        self.username, self.password, self.major = username, password, major
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.variables: dict[str, str] = {"known": "value"}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                status, headers, payload = fake.answer(self.command, self.path, self.headers, body)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FakeAirflow":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, method: str, raw_path: str, headers, body: bytes):
        split = urllib.parse.urlsplit(raw_path)
        path, query = split.path, urllib.parse.parse_qs(split.query)
        login_path = "/auth/login/" if self.major >= 3 else "/login/"
        if path == login_path and method == "GET":
            page = '<form><input id="csrf_token" name="csrf_token" type="hidden" value="c&amp;1">'
            cookie = "session=before-login; HttpOnly; Path=/; SameSite=Lax"
            return 200, [("Set-Cookie", cookie)], page.encode()
        if path == login_path and method == "POST":
            form = urllib.parse.parse_qs(body.decode())
            good = (
                form.get("username") == [self.username]
                and form.get("password") == [self.password]
                and form.get("csrf_token") == ["c&1"]
                and "session=before-login" in headers.get("Cookie", "")
            )
            if not good:
                return 302, [("Location", login_path)], b""
            cookies = [("Set-Cookie", "session=logged-in; HttpOnly; Path=/; SameSite=Lax")]
            if self.major >= 3:
                cookies.append(("Set-Cookie", "_token=jwt-for-admin; HttpOnly; Path=/"))
            return 302, [("Location", "/"), *cookies], b""
        if path == "/auth/token" and method == "POST":
            sent = json.loads(body)
            if (sent["username"], sent["password"]) != (self.username, self.password):
                return 401, [], b'{"detail": "Invalid credentials"}'
            return 201, [("Content-Type", "application/json")], b'{"access_token": "t1"}'
        prefix = "/api/v2" if self.major >= 3 else "/api/v1"
        if not path.startswith(prefix):
            return 404, [], b""
        if self.major >= 3 and headers.get("Authorization") != "Bearer t1":
            return 401, [], b'{"detail": "Not authenticated"}'
        return self.rest(method, path[len(prefix) :], query, body)

    def rest(self, method: str, path: str, query: dict[str, list[str]], body: bytes):
        json_type = [("Content-Type", "application/json")]
        if method == "GET" and path == "/dags":
            limit = int(query.get("limit", ["100"])[0])
            dags = [{"dag_id": "one"}, {"dag_id": "two"}][:limit]
            return 200, json_type, json.dumps({"dags": dags, "total_entries": 2}).encode()
        if path.startswith("/variables/"):
            key = path.split("/", 2)[2]
            if method == "DELETE" and key in self.variables:
                del self.variables[key]
                return 204, [], b""
            if method == "GET" and key in self.variables:
                answer = {"key": key, "value": self.variables[key]}
                return 200, json_type, json.dumps(answer).encode()
            detail = {"detail": f"The Variable with key: `{key}` was not found", "status": 404}
            return 404, json_type, json.dumps(detail).encode()
        if method == "POST" and path == "/variables":
            sent = json.loads(body)
            self.variables[sent["key"]] = sent["value"]
            return 201, json_type, body
        return 500, json_type, b'{"detail": "boom"}'
