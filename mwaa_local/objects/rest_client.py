"""A small client for the Airflow REST API of a running environment: /api/v1 with basic auth on
Airflow 2, /api/v2 with a token from /auth/token on Airflow 3 (mwaa-behaviour.md 6.5)."""

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from mwaa_local.errors import MwaaLocalError

FINISHED_STATES = ("success", "failed")
ERROR_DETAIL_MAX = 500


class AirflowApiError(MwaaLocalError):
    """The API answered with an HTTP error status (`status`: 404 means "no such object")."""

    def __init__(self, message: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status


def error_detail(raw: str) -> str:
    """The error body, without the `input` members FastAPI's 422 answers carry: they echo the
    request body, which can hold passwords."""
    try:
        return json.dumps(_without_input(json.loads(raw)))[:ERROR_DETAIL_MAX]
    except ValueError:
        return raw[:ERROR_DETAIL_MAX]


def _without_input(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_input(v) for k, v in value.items() if k != "input"}
    if isinstance(value, list):
        return [_without_input(v) for v in value]
    return value


def _query_values(query: dict[str, Any]) -> dict[str, Any]:
    """JSON query values as a URL carries them: booleans as true/false, lists repeated."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    return {
        key: [text(v) for v in value] if isinstance(value, list) else text(value)
        for key, value in query.items()
    }


class AirflowApi:
    def __init__(self, base_url: str, username: str, password: str, major: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.major = major
        self._token: str | None = None

    @property
    def api(self) -> str:
        return f"{self.base_url}/api/v2" if self.major >= 3 else f"{self.base_url}/api/v1"

    def _authorization(self) -> str:
        if self.major < 3:
            pair = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if self._token is None:
            answer = self._send(
                "POST",
                f"{self.base_url}/auth/token",
                {"username": self.username, "password": self.password},
                authorization=None,
            )
            self._token = answer["access_token"]
        return f"Bearer {self._token}"

    def request(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        url = f"{self.api}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, doseq=True)
        return self._send(method, url, body, self._authorization())

    def exchange(
        self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None
    ) -> tuple[int, Any]:
        """One call whatever its answer: (HTTP status, the body as JSON, else as text, None when
        empty). Airflow 3's token is fetched again once when the API refuses it (it expires)."""
        url = f"{self.api}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(_query_values(query), doseq=True)
        status, raw = self._exchange(method, url, body)
        if status == 401 and self.major >= 3:
            self._token = None
            status, raw = self._exchange(method, url, body)
        if not raw:
            return status, None
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def _exchange(self, method: str, url: str, body: Any) -> tuple[int, bytes]:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Authorization": self._authorization(),
        }
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except urllib.error.URLError as e:
            raise MwaaLocalError(f"{method} {url} failed: {e.reason}") from e

    def _send(self, method: str, url: str, body: Any, authorization: str | None) -> Any:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            detail = error_detail(e.read().decode(errors="replace"))
            raise AirflowApiError(f"{method} {url} answered {e.code}: {detail}", e.code) from e
        except urllib.error.URLError as e:
            raise MwaaLocalError(f"{method} {url} failed: {e.reason}") from e
        return json.loads(raw) if raw else None

    # --- what the commands and tests use ----------------------------------------------------

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        body: dict[str, Any] = {"conf": conf or {}}
        if self.major >= 3:
            body["logical_date"] = None
        return self.request("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}")

    def dag_runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns", limit=100)["dag_runs"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED_STATES:
                return run
            if time.monotonic() > deadline:
                raise MwaaLocalError(f"{dag_id} run {run_id} is still {run['state']}")
            time.sleep(0.25)

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = (
            f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id)}/taskInstances/{task_id}"
            f"/logs/{try_number}"
        )
        answer = self.request("GET", path, full_content="true")
        content = answer["content"]
        if isinstance(content, list):  # Airflow 3: structured log events
            return "\n".join(str(event.get("event", "")) for event in content)
        return str(content)
