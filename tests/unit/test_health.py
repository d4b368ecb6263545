"""The in-container health checks of the web components, against a real HTTP server."""

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mwaa_local.container import health

MONITOR = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}}


@pytest.fixture
def airflow_api(monkeypatch):
    """An API server answering the monitor health; `routes` says what else it serves."""
    routes: dict[str, dict] = {"/api/v2/monitor/health": MONITOR}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requests.append(self.path)
            body = routes.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(json.dumps(body or {"detail": "Not Found"}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setitem(health.HEALTH_URLS, "api-server", base + "/api/v2/monitor/health")
    monkeypatch.setattr(health, "EXECUTION_API_HEALTH_URL", base + "/execution/health")
    yield routes, requests
    server.shutdown()


def test_the_api_server_is_healthy_once_its_task_execution_api_answers(airflow_api):
    routes, requests = airflow_api
    routes["/execution/health"] = {"status": "healthy"}
    assert health.check("api-server") == "metadatabase healthy; task execution API healthy"
    assert requests == ["/api/v2/monitor/health", "/execution/health"]


def test_the_api_server_is_unhealthy_while_its_task_execution_api_does_not_answer(
    airflow_api, tmp_path
):
    # The monitor endpoint alone says healthy; the first task would then wait on the execution API.
    assert health.main(["api-server"], marker=tmp_path / "healthy") == 1


def test_a_full_pass_stands_for_the_recheck_time_in_the_same_container_run(
    airflow_api, tmp_path, monkeypatch
):
    routes, requests = airflow_api
    routes["/execution/health"] = {"status": "healthy"}
    marker = tmp_path / "healthy"
    clock = [1000.0]
    monkeypatch.setattr(health.time, "time", lambda: clock[0])
    assert health.main(["api-server"], marker=marker) == 0
    assert len(requests) == 2
    clock[0] += health.RECHECK_SECONDS - 1
    assert health.main(["api-server"], marker=marker) == 0
    assert len(requests) == 2  # trusted: no request
    clock[0] += 2
    assert health.main(["api-server"], marker=marker) == 0
    assert len(requests) == 4  # too old: checked in full again


def test_a_pass_from_an_earlier_run_of_the_container_is_not_trusted(
    airflow_api, tmp_path, monkeypatch
):
    # A container started again keeps its /tmp; the component in it has not answered yet.
    marker = tmp_path / "healthy"
    marker.write_text(f"{health.container_started_at() - 60} {health.time.time()}")
    assert health.main(["api-server"], marker=marker) == 1
    assert not marker.exists()


def test_a_failure_ends_the_trust_so_the_next_check_is_a_full_one(airflow_api, tmp_path):
    routes, requests = airflow_api
    routes["/execution/health"] = {"status": "healthy"}
    marker = tmp_path / "healthy"
    assert health.main(["api-server"], marker=marker) == 0
    routes["/execution/health"] = {"status": "unhealthy"}
    marker.write_text("garbage")  # unreadable: a full check
    assert health.main(["api-server"], marker=marker) == 1
    assert not marker.exists()
    assert health.main(["api-server"], marker=marker) == 1
    assert len(requests) == 6


def test_the_container_start_time_comes_from_its_first_process(tmp_path):
    (tmp_path / "stat").write_text("cpu  1 2 3\nbtime 1700000000\nprocesses 42\n")
    (tmp_path / "1").mkdir()
    # A command name with a space and a parenthesis, as /proc writes it; starttime is field 22.
    fields = ["S"] + ["0"] * 18 + [str(250 * os.sysconf("SC_CLK_TCK"))] + ["0"] * 30
    (tmp_path / "1" / "stat").write_text("1 (tini (x) y) " + " ".join(fields) + "\n")
    assert health.container_started_at(tmp_path) == 1700000250
