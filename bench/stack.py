"""Times mwaa-local's stack against the two things users run instead, in one run on one machine:
`airflow standalone` in the project's own image, and Apache Airflow's official docker-compose
file for the CeleryExecutor on the same image (bench/baseline/official-compose.yaml).

mwaa-local runs on its docker runtime and, as `mwaa-local-host`, on its host runtime (no engine:
processes from a virtual environment, built once before the timings).

For each: start to every component healthy with an empty database, restart (stop, then start
with the database kept), trigger to success of the one-task example DAG (from the REST trigger
to the run's end_date), idle memory of all its containers (on host: of its processes, their
proportional set size); for mwaa-local also the overhead of `mwaa-local airflow version` over
`docker exec <scheduler> airflow version` (on host: over the virtual environment's `airflow
version`), the median of 3 x --runs pairs run one after the other: each `airflow version` takes
4-5 s in a running stack and varies by a second, ten times the overhead. Medians of --runs.

And what a restart costs in CPU: the CPU seconds its containers (on host: its processes) used
from their start until every component was healthy, whatever the number of cores that shared
them. On a machine with C cores no restart can be faster than that figure divided by C.

    python bench/stack.py --airflow-version 3.3.1 --runs 3

Needs the image built (mwaa-local build-image) and, where no registry is reachable,
MWAA_LOCAL_POSTGRES_IMAGE / MWAA_LOCAL_REDIS_IMAGE pointing at local images (the official
compose uses the same two).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from common import REPO, cli, mwaa_local, project_with, timed

from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.compose import compose_tool
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.host import HostRuntime
from mwaa_local.runtime.image import image_tag
from mwaa_local.runtime.stack import Stack
from mwaa_local.spec.settings import load_environment
from mwaa_local.spec.versions import airflow_version

DAG = "mwaa_local_example"
OFFICIAL_COMPOSE = REPO / "bench" / "baseline" / "official-compose.yaml"
TERMINAL = {"success", "failed"}
# `mwaa-local airflow version` against the direct command: pairs per --runs (see the docstring).
OVERHEAD_PAIRS = 3


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (MwaaLocalError, OSError, ValueError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"{what} did not become ready within {timeout:.0f} s")


def containers_healthy(label: str, value: str) -> bool:
    """Every container of the group running and, where it has a health check, healthy (a
    one-shot that exited 0 counts as done)."""
    containers = docker_client().containers.list(all=True, filters={"label": f"{label}={value}"})
    if not containers:
        return False
    for container in containers:
        state = container.attrs["State"]
        if state["Status"] == "exited" and state["ExitCode"] == 0:
            continue
        if state["Status"] != "running":
            return False
        if "Health" in state and state["Health"]["Status"] != "healthy":
            return False
    return True


def memory_mib(label: str, value: str, settle: float) -> float:
    """What `docker stats` shows (usage less the page cache), summed over the group."""
    time.sleep(settle)
    total = 0.0
    for container in docker_client().containers.list(filters={"label": f"{label}={value}"}):
        usage = container.stats(stream=False)["memory_stats"]
        total += (usage["usage"] - usage.get("stats", {}).get("inactive_file", 0)) / 2**20
    return total


def cpu_seconds(label: str, value: str) -> float:
    """CPU seconds the group's running containers used since they started (a container's cgroup
    counter starts again with it). One-shot containers that have exited are not counted."""
    containers = docker_client().containers.list(filters={"label": f"{label}={value}"})
    with ThreadPoolExecutor(max(len(containers), 1)) as pool:  # about 1 s per container
        stats = list(pool.map(lambda c: c.stats(stream=False, one_shot=True), containers))
    return sum(each["cpu_stats"]["cpu_usage"]["total_usage"] for each in stats) / 1e9


def trigger_to_success(api: AirflowApi, runs: int) -> list[float]:
    """Seconds from the REST trigger to the run's end_date, as the metadata database records it
    (the containers share the host's clock)."""
    api.unpause(DAG)
    seconds = []
    for _ in range(runs):
        triggered = time.time()
        run_id = api.trigger(DAG)
        run = api.wait_for_run(DAG, run_id, timeout=300)
        if run["state"] != "success":
            raise SystemExit(f"{DAG} run {run_id} ended {run['state']}")
        ended = datetime.fromisoformat(run["end_date"].replace("Z", "+00:00")).timestamp()
        seconds.append(ended - triggered)
    return seconds


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def mwaa_local_result(
    empty: list[float],
    restart: list[float],
    restart_cpu: list[float],
    trigger: list[float],
    memory: float,
    overhead: list[float],
) -> dict:
    result = anchor_result(empty, restart, restart_cpu, trigger, memory)
    return result | {"cli_overhead_s": median(overhead)}


def measure_mwaa_local(version: str, runs: int, settle: float, port: int) -> dict:
    settings = {"Name": f"bench-{int(time.time())}", "AirflowVersion": version}
    settings["Local"] = {"WebserverPort": port, "Credentials": "none"}
    project = project_with(settings)
    stack = Stack(load_environment(project), docker_client())
    empty, restart, restart_cpu, overhead = [], [], [], []
    try:
        for _ in range(runs):
            if stack.containers():
                stack.remove_database()
            empty.append(cli(project, "start"))
            cli(project, "stop")
            restart.append(cli(project, "start"))
            restart_cpu.append(cpu_seconds("com.docker.compose.project", stack.project))
        trigger = trigger_to_success(stack.api(), runs)
        scheduler = next(c for c in stack.containers() if "scheduler" in c.name)
        for _ in range(OVERHEAD_PAIRS * runs):
            ours = cli(project, "airflow", "version")
            direct = timed(["docker", "exec", scheduler.name, "airflow", "version"])
            overhead.append(ours - direct)
        memory = memory_mib("com.docker.compose.project", stack.project, settle)
    finally:
        timed(mwaa_local(project, "down", "--volumes", "--yes"), ok_codes=(0, 1, 2))
        shutil.rmtree(project, ignore_errors=True)
    return mwaa_local_result(empty, restart, restart_cpu, trigger, memory, overhead)


def measure_mwaa_local_host(version: str, runs: int, settle: float, port: int) -> dict:
    """The host runtime: its virtual environment built first (`build-image`, not timed), then
    the docker runtime's measures; `reset-db` empties the database between runs."""
    settings = {"Name": f"bench-host-{int(time.time())}", "AirflowVersion": version}
    settings["Local"] = {"WebserverPort": port, "Credentials": "none", "Runtime": "host"}
    project = project_with(settings)
    runtime = HostRuntime(load_environment(project))
    empty, restart, restart_cpu, overhead = [], [], [], []
    try:
        cli(project, "build-image")
        for _ in range(runs):
            cli(project, "stop")  # reset-db starts a running environment again
            cli(project, "reset-db", "--yes")
            empty.append(cli(project, "start"))
            cli(project, "stop")
            restart.append(cli(project, "start"))
            restart_cpu.append(processes_cpu_seconds(runtime.root))
        trigger = trigger_to_success(runtime.api(), runs)
        # The virtual environment's own `airflow version`, in a home of its own.
        direct = ["env", f"AIRFLOW_HOME={project / 'direct'}", str(runtime.venv.bin / "airflow")]
        for _ in range(OVERHEAD_PAIRS * runs):
            ours = cli(project, "airflow", "version")
            overhead.append(ours - timed([*direct, "version"]))
        time.sleep(settle)
        memory = processes_pss_mib(runtime.root)
    finally:
        timed(mwaa_local(project, "down", "--volumes", "--yes"), ok_codes=(0, 1, 2))
        shutil.rmtree(project, ignore_errors=True)
    return mwaa_local_result(empty, restart, restart_cpu, trigger, memory, overhead)


def processes_of(root: Path, read: str) -> list[str]:
    """The /proc file `read` of each live process whose environment or command line names
    `root` (the host runtime's processes and their supervisors)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (
                str(root).encode()
                in (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
            ):
                found.append((proc / read).read_text())
        except OSError:
            continue
    return found


def processes_pss_mib(root: Path) -> float:
    """The proportional set size (shared pages divided among their users, so the sum is what
    they use together) of the host runtime's processes."""
    total_kib = 0
    for rollup in processes_of(root, "smaps_rollup"):
        total_kib += next(
            (int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:")), 0
        )
    return total_kib / 1024


def processes_cpu_seconds(root: Path) -> float:
    """CPU seconds the host runtime's processes used, with their children they have waited for
    (utime, stime, cutime, cstime of /proc/PID/stat)."""
    ticks = 0
    for stat in processes_of(root, "stat"):
        fields = stat.rpartition(")")[2].split()  # after the command's name, which may hold spaces
        ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_standalone(image: str, major: int, runs: int, settle: float, port: int) -> dict:
    """`airflow standalone` (SQLite, LocalExecutor, every component in one container)."""
    name = f"bench-standalone-{int(time.time())}"
    label = f"mwaa-local-bench={name}"
    base = f"http://127.0.0.1:{port}"
    engine = docker_client()
    health = "/api/v2/monitor/health" if major >= 3 else "/health"

    def healthy() -> bool:
        import urllib.request

        with urllib.request.urlopen(base + health, timeout=5) as response:
            body = json.loads(response.read())
        statuses = [part.get("status") for part in body.values() if isinstance(part, dict)]
        return bool(statuses) and all(s in ("healthy", None) for s in statuses)

    empty, restart, restart_cpu = [], [], []
    container = None
    try:
        for _ in range(runs):
            if container is not None:
                container.remove(force=True)
            started = time.monotonic()
            container = engine.containers.run(
                image,
                ["standalone"],
                entrypoint=["airflow"],
                name=name,
                detach=True,
                labels={"mwaa-local-bench": name},
                environment={"AIRFLOW__CORE__LOAD_EXAMPLES": "false"},
                ports={"8080/tcp": ("127.0.0.1", port)},
                volumes={str(REPO / "dags"): {"bind": "/usr/local/airflow/dags", "mode": "ro"}},
            )
            wait_until(healthy, 600, "airflow standalone")
            empty.append(time.monotonic() - started)
            container.stop(timeout=30)
            started = time.monotonic()
            container.start()
            wait_until(healthy, 600, "airflow standalone after a restart")
            restart.append(time.monotonic() - started)
            restart_cpu.append(cpu_seconds(*label.split("=")))
        password = admin_password(container, major)
        trigger = trigger_to_success(AirflowApi(base, "admin", password, major), runs)
        memory = memory_mib(*label.split("="), settle)
    finally:
        if container is not None:
            container.remove(force=True, v=True)
    return anchor_result(empty, restart, restart_cpu, trigger, memory)


def anchor_result(
    empty: list[float],
    restart: list[float],
    restart_cpu: list[float],
    trigger: list[float],
    memory: float,
) -> dict:
    return {
        "start_empty_db_s": median(empty),
        "restart_s": median(restart),
        "restart_cpu_s": median(restart_cpu),
        "trigger_to_success_s": median(trigger),
        "idle_memory_mib": round(memory),
    }


def admin_password(container, major: int) -> str:
    """The password `airflow standalone` generated for `admin` (SimpleAuthManager on Airflow 3)."""
    path = (
        "/usr/local/airflow/simple_auth_manager_passwords.json.generated"
        if major >= 3
        else "/usr/local/airflow/standalone_admin_password.txt"
    )
    output = container.exec_run(["cat", path]).output.decode()
    return json.loads(output)["admin"] if major >= 3 else output.strip()


def measure_official_compose(image: str, major: int, runs: int, settle: float, port: int) -> dict:
    if major < 3:
        raise SystemExit("the official compose anchor here is Airflow 3's (api-server and all)")
    name = f"bench-official-{int(time.time())}"
    compose = [*compose_tool().command, "-p", name, "-f", str(OFFICIAL_COMPOSE)]
    env = {
        **os.environ,
        "AIRFLOW_IMAGE": image,
        "WEB_PORT": str(port),
        "DAGS_FOLDER": str(REPO / "dags"),
        "POSTGRES_IMAGE": os.environ.get("MWAA_LOCAL_POSTGRES_IMAGE", "postgres:16"),
        "REDIS_IMAGE": os.environ.get("MWAA_LOCAL_REDIS_IMAGE", "redis:7.2-bookworm"),
    }

    def run(*args: str) -> None:
        done = subprocess.run([*compose, *args], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")

    def up() -> float:
        started = time.monotonic()
        run("up", "-d")
        wait_until(
            lambda: containers_healthy("com.docker.compose.project", name),
            900,
            "the official compose stack",
        )
        return time.monotonic() - started

    empty, restart, restart_cpu = [], [], []
    try:
        for _ in range(runs):
            run("down", "--volumes", "--remove-orphans")
            empty.append(up())
            run("stop")
            restart.append(up())
            restart_cpu.append(cpu_seconds("com.docker.compose.project", name))
        api = AirflowApi(f"http://127.0.0.1:{port}", "airflow", "airflow", major)
        trigger = trigger_to_success(api, runs)
        memory = memory_mib("com.docker.compose.project", name, settle)
    finally:
        subprocess.run(
            [*compose, "down", "--volumes", "--remove-orphans"], env=env, capture_output=True
        )
    return anchor_result(empty, restart, restart_cpu, trigger, memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--airflow-version", default="3.3.1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=30, help="Idle seconds before memory.")
    parser.add_argument("--port", type=int, default=18181)
    parser.add_argument(
        "--only",
        choices=["mwaa-local", "mwaa-local-host", "standalone", "official-compose"],
        action="append",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    version, major = args.airflow_version, int(args.airflow_version.split(".")[0])
    image = image_tag(airflow_version(version))
    systems = args.only or ["mwaa-local", "mwaa-local-host", "standalone", "official-compose"]
    result: dict = {"airflow_version": version, "runs": args.runs, "cpus": os.cpu_count()}
    if "mwaa-local" in systems:
        result["mwaa-local"] = measure_mwaa_local(version, args.runs, args.settle, args.port)
    if "mwaa-local-host" in systems:
        result["mwaa-local-host"] = measure_mwaa_local_host(
            version, args.runs, args.settle, args.port
        )
    if "standalone" in systems:
        result["standalone"] = measure_standalone(image, major, args.runs, args.settle, args.port)
    if "official-compose" in systems:
        result["official-compose"] = measure_official_compose(
            image, major, args.runs, args.settle, args.port
        )
    ours = result.get("mwaa-local")
    if ours:
        for anchor in ("mwaa-local-host", "standalone", "official-compose"):
            if anchor in result:
                result[f"{anchor}_over_mwaa-local"] = {
                    key: round(value / ours[key], 2) if ours[key] else None
                    for key, value in result[anchor].items()
                }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print_table(result, systems)


def print_table(result: dict, systems: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"Airflow {result['airflow_version']}, {result['cpus']} CPUs, "
        f"medians of {result['runs']} (seconds, MiB)"
    )
    table.add_column("measure")
    for system in systems:
        table.add_column(system, justify="right")
        if system != "mwaa-local" and "mwaa-local" in result:
            table.add_column("ratio", justify="right")
    keys = dict.fromkeys(key for system in systems for key in result[system])
    for key in keys:
        row = [key]
        for system in systems:
            row.append(str(result[system].get(key, "-")))
            if system != "mwaa-local" and "mwaa-local" in result:
                row.append(str(result[f"{system}_over_mwaa-local"].get(key) or "-"))
        table.add_row(*row)
    Console().print(table)


if __name__ == "__main__":
    main()
