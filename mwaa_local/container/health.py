"""In-container health checks: `mwaa-local-health <component>` exits 0 when it is healthy.

web/api: Airflow's HTTP health endpoint (and, on Airflow 3, the task execution API's);
scheduler, triggerer, dag-processor: a recent job heartbeat from this host in the metadata
database; worker: a Celery ping to this worker.

Docker runs each check every 3 s (a short interval is what makes `start` see a component ready
soon after it is), and a full check costs 0.15-0.6 CPU s (the worker's loads Celery): seven
containers spent more than half of a 2-core machine on them, idle or starting. So a check that
passed in full is trusted for RECHECK_SECONDS, in the same container run, and each check loads
only what it needs.
"""

import contextlib
import os
import socket
import sys
import time
from pathlib import Path

from mwaa_local.container import paths

HEARTBEAT_THRESHOLD_SECONDS = 30
# How long a full check's pass stands: a failure shows within this, plus Docker's 3 retries.
RECHECK_SECONDS = 15.0
JOB_TYPES = {
    "scheduler": "SchedulerJob",
    "triggerer": "TriggererJob",
    "dag-processor": "DagProcessorJob",
}
HEALTH_URLS = {
    "webserver": "http://127.0.0.1:8080/health",
    "api-server": "http://127.0.0.1:8080/api/v2/monitor/health",
}
# Airflow 3's task execution API builds its versioned routes on its first request (7 s on 2
# cores), and the first task's PATCH .../run then times out and is retried: the first DAG run
# after every start took 8-10 s instead of 1-2 s. Asking it here, as part of "healthy", does that
# work before `start` returns rather than inside the first task.
EXECUTION_API_HEALTH_URL = "http://127.0.0.1:8080/execution/health"


def check_http(url: str) -> str:
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    status = body.get("metadatabase", {}).get("status")
    if status != "healthy":
        raise RuntimeError(f"metadatabase is {status}")
    return "metadatabase healthy"


def check_execution_api() -> str:
    import json
    import urllib.request

    with urllib.request.urlopen(EXECUTION_API_HEALTH_URL, timeout=18) as response:
        status = json.loads(response.read()).get("status")
    if status != "healthy":
        raise RuntimeError(f"the task execution API is {status}")
    return "task execution API healthy"


def container_started_at(proc: Path = Path("/proc")) -> float:
    """When this container's first process started (Unix time): its start time in clock ticks
    after boot, plus the boot time."""
    boot = next(
        int(line.split()[1])
        for line in (proc / "stat").read_text().splitlines()
        if line.startswith("btime ")
    )
    # Field 22 of /proc/1/stat, counted after the command name, which may hold spaces.
    ticks = int((proc / "1" / "stat").read_text().rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def check_heartbeat(job_type: str) -> str:
    from mwaa_local.container.services import connect_database

    connection = connect_database(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with connection.cursor() as cursor:
            # A container started again keeps its hostname, and the job its last run left
            # 'running' would pass for this one until its heartbeat aged, then fail the check
            # while the new one was still starting: only jobs begun since this start count.
            cursor.execute(
                "SELECT EXTRACT(EPOCH FROM now() - max(latest_heartbeat)) FROM job "
                "WHERE job_type = %s AND hostname = %s AND state = 'running' "
                "AND start_date >= to_timestamp(%s)",
                (job_type, socket.getfqdn(), container_started_at()),
            )
            (age,) = cursor.fetchone()
    finally:
        connection.close()
    if age is None:
        raise RuntimeError(f"no running {job_type} on {socket.getfqdn()}")
    if age > HEARTBEAT_THRESHOLD_SECONDS:
        raise RuntimeError(f"last {job_type} heartbeat {age:.0f} s ago")
    return f"{job_type} heartbeat {age:.1f} s ago"


def check_worker() -> str:
    from celery import Celery

    app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
    name = f"celery@{socket.gethostname()}"
    replies = app.control.ping(destination=[name], timeout=5)
    if not any(name in reply for reply in replies):
        raise RuntimeError(f"{name} did not answer a ping")
    return f"{name} answered a ping"


def check(component: str) -> str:
    if component == "api-server":
        return f"{check_http(HEALTH_URLS[component])}; {check_execution_api()}"
    if component in HEALTH_URLS:
        return check_http(HEALTH_URLS[component])
    if component in JOB_TYPES:
        return check_heartbeat(JOB_TYPES[component])
    if component == "worker":
        return check_worker()
    if component == "hybrid":
        major = int(os.environ.get("AIRFLOW_VERSION", "2").split(".")[0])
        jobs = ["scheduler", "triggerer"] + (["dag-processor"] if major >= 3 else [])
        return "; ".join([*(check_heartbeat(JOB_TYPES[j]) for j in jobs), check_worker()])
    raise ValueError(f"no health check for {component!r}")


def passed_recently(marker: Path, started_at: float, now: float) -> bool:
    """Whether a full check passed less than RECHECK_SECONDS ago in this container run (a
    container started again keeps its /tmp, so the marker names the run it was written in)."""
    try:
        run, passed = (float(field) for field in marker.read_text().split())
    except (OSError, ValueError):
        return False
    return run == started_at and 0 <= now - passed < RECHECK_SECONDS


def main(argv: list[str], marker: Path = Path(paths.HEALTHY_MARKER)) -> int:
    started_at = container_started_at()
    if passed_recently(marker, started_at, time.time()):
        print("healthy at the last full check")
        return 0
    try:
        print(check(argv[0]))
    except Exception as e:  # a health check reports every failure as "unhealthy"
        with contextlib.suppress(OSError):
            marker.unlink(missing_ok=True)
        print(f"unhealthy: {e}", file=sys.stderr)
        return 1
    with contextlib.suppress(OSError):  # no writable /tmp: every check is a full one
        marker.write_text(f"{started_at} {time.time()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
