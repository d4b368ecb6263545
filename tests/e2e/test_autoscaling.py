"""Sized and scaled like MWAA, on one real stack and one DAG run (issue 14).

mw1.small, MinWorkers 1, MaxWorkers 3, celery.worker_autoscale 2,2, scale-in cooldown 20 s;
a DAG of 6 parallel 60-second tasks. The run's tasks also feed the log and metrics checks, so
the whole scenario costs one stack start and one run.
"""

import json
import os
import shutil
import time
from pathlib import Path

import boto3
import pytest
import yaml

from mwaa_local.errors import MwaaLocalError
from tests.e2e.stacks import REPO, make_project

pytestmark = pytest.mark.e2e

DAG = "mwaa_local_burst"
TASKS = 6
FIXTURE = REPO / "tests" / "fixtures" / "autoscaling" / f"{DAG}.py"
COOLDOWN = 20
# The autoscaler polls every 5 s; a new replica counts once compose has created it.
SCALE_UP_SECONDS = 60
# Cooldown, a poll, and a warm shutdown of an idle worker.
SCALE_IN_SECONDS = COOLDOWN + 60


def worker_count(engine, project) -> int:
    labels = [f"com.docker.compose.project={project.name.lower()}"]
    labels.append("com.docker.compose.service=worker")
    return len(engine.containers.list(filters={"label": labels, "status": "running"}))


def wait_for(what: str, check, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def dag_parsed(api, dag_id: str) -> bool:
    try:
        api.request("GET", f"/dags/{dag_id}")
    except MwaaLocalError:
        return False
    return True


@pytest.fixture(scope="module")
def burst_project(request):
    image = request.getfixturevalue("airflow2_image")
    name = f"e2e-scale-{os.getpid()}"
    project = make_project(name, image.version, {"celery.worker_autoscale": "2,2"})
    settings = yaml.safe_load((project.path / "mwaa-local.yaml").read_text())
    settings |= {"EnvironmentClass": "mw1.small", "MinWorkers": 1, "MaxWorkers": 3}
    settings["Local"]["WorkerScaleInCooldown"] = COOLDOWN
    settings["LoggingConfiguration"] = {
        "TaskLogs": {"Enabled": True, "LogLevel": "WARNING"},
        "DagProcessingLogs": {"Enabled": False, "LogLevel": "INFO"},
        "SchedulerLogs": {"Enabled": True, "LogLevel": "INFO"},
        "WorkerLogs": {"Enabled": True, "LogLevel": "INFO"},
    }
    (project.path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    shutil.copy(FIXTURE, project.path / "dags" / FIXTURE.name)
    yield project
    project.cli("stop", timeout=120)
    project.destroy()


@pytest.fixture(scope="module")
def burst_run(burst_project, docker_engine):
    """Start the stack, run the burst once, and record the worker count every second."""
    project = burst_project
    timings = {}
    started = time.monotonic()
    result = project.cli("start")
    assert result.returncode == 0, result.output
    timings["start"] = time.monotonic() - started
    assert worker_count(docker_engine, project) == 1
    api = project.api()
    wait_for("the burst DAG is parsed", lambda: dag_parsed(api, DAG), 120)
    api.unpause(DAG)
    triggered = time.monotonic()
    run_id = api.trigger(DAG)
    counts: list[tuple[float, int]] = []
    state = None
    while time.monotonic() - triggered < 600:
        counts.append((time.monotonic() - triggered, worker_count(docker_engine, project)))
        state = api.dag_run(DAG, run_id)["state"]
        if state in ("success", "failed"):
            break
        time.sleep(1)
    timings["run"] = time.monotonic() - triggered
    ended = time.monotonic()
    wait_for(
        "back to one worker after the cooldown",
        lambda: worker_count(docker_engine, project) == 1,
        SCALE_IN_SECONDS,
    )
    timings["scale_in"] = time.monotonic() - ended
    instances = api.request("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances")
    print("e2e autoscaling timings (s):", json.dumps({k: round(v) for k, v in timings.items()}))
    return {
        "project": project,
        "run_id": run_id,
        "state": state,
        "counts": counts,
        "instances": instances["task_instances"],
        "timings": timings,
    }


def test_workers_scale_out_to_max_and_back_to_min_without_killing_a_task(burst_run):
    assert burst_run["state"] == "success"
    counts = burst_run["counts"]
    reached = [at for at, count in counts if count == 3]
    assert reached, f"never 3 workers: {counts}"
    assert reached[0] <= SCALE_UP_SECONDS, counts
    assert max(count for _, count in counts) == 3  # never above MaxWorkers
    instances = burst_run["instances"]
    assert len(instances) == TASKS
    # Every task succeeded on its first try: none was killed by a scale-in.
    assert {(ti["state"], ti["try_number"]) for ti in instances} == {("success", 1)}
    # They ran on three workers, two at a time each (celery.worker_autoscale 2,2).
    hosts = [ti["hostname"] for ti in instances]
    assert len(set(hosts)) == 3 and all(hosts.count(h) == 2 for h in hosts), hosts


def test_status_shows_workers_and_the_decisions_are_logged(burst_run):
    project: object = burst_run["project"]
    status = project.status()
    workers = status["Workers"]
    assert (workers["Current"], workers["Min"], workers["Max"]) == (1, 1, 3)
    assert workers["Autoscaler"]["Running"] is True
    text = project.cli("status").stdout
    assert "Workers: 1/1/3 (current/min/max)" in text
    log = Path(workers["Autoscaler"]["Log"]).read_text()
    assert "scale-out 1 -> 3" in log
    assert '"tasks_per_worker": 2' in log
    assert "scale-in 3 -> 1" in log
    assert "stopped (warm shutdown" in log


def group(project, *args: str) -> dict:
    result = project.cli("logs", "--json", "--group", *args)
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)


def test_task_logs_in_mwaas_shape_at_warning(burst_run):
    """TaskLogs at WARNING: each task's WARNING line is in its stream
    (dag_id=.../run_id=.../task_id=.../attempt=1.log), its INFO line is not, not even in the
    file the worker wrote."""
    project = burst_run["project"]
    answer = group(project, "Task", "--stream", f"dag_id={DAG}/*")
    assert answer["logGroupName"] == f"airflow-{project.name}-Task"
    messages = "\n".join(e["message"] for e in answer["events"])
    for n in range(TASKS):
        assert f"burst task {n}: a WARNING line" in messages
    assert "an INFO line" not in messages
    streams = {s["logStreamName"] for s in answer["searchedLogStreams"]}
    run_id = burst_run["run_id"]
    assert f"dag_id={DAG}/run_id={run_id}/task_id=work_0/attempt=1.log" in streams
    written = project.state / "logs" / "mwaa-local" / f"airflow-{project.name}-Task"
    files = list((written / f"dag_id={DAG}").rglob("*.log"))
    assert len(files) == TASKS
    assert not any("an INFO line" in f.read_text() for f in files)
    # filter-log-events' options: a filter pattern and a start time.
    found = group(project, "Task", "--filter", '"task 3: a WARNING"', "--since", "30m")
    assert [e["message"].split(" - ")[-1] for e in found["events"]] == [
        "burst task 3: a WARNING line"
    ]
    assert group(project, "Task", "--since", "2s", "--filter", "burst")["events"] == []


def test_disabled_dag_processing_group_stays_empty(burst_run):
    project = burst_run["project"]
    assert group(project, "DAGProcessing")["events"] == []
    written = project.state / "logs" / "mwaa-local" / f"airflow-{project.name}-DAGProcessing"
    assert not written.exists() or not any(p.is_file() for p in written.rglob("*"))
    # The scheduler's own group is on: its console stream per replica.
    scheduler = group(project, "Scheduler", "--since", "30m")
    assert any(s["logStreamName"].startswith("scheduler_") for s in scheduler["searchedLogStreams"])


def metric(project, name: str) -> list[dict]:
    result = project.cli("metrics", name, "--since", "30m", "--period", "10", "--json")
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)


def test_metrics_in_mwaa_names(burst_run):
    """The run's StatsD metrics as MWAA's: TaskInstanceSuccesses counts the six tasks, the
    executor's QueuedTasks and RunningTasks moved, and AWS/MWAA counts the extra workers."""
    project = burst_run["project"]
    (successes,) = metric(project, "TaskInstanceSuccesses")
    assert successes["Namespace"] == "AmazonMWAA"
    dimensions = {d["Name"]: d["Value"] for d in successes["Dimensions"]}
    assert dimensions == {"Environment": project.name, "DAG": "All", "Task": "All"}
    assert sum(p["Sum"] for p in successes["Datapoints"]) == TASKS
    finished = [
        s
        for s in metric(project, "FinishedTaskInstances")
        if {"Name": "DAG", "Value": DAG} in s["Dimensions"]
        and {"Name": "State", "Value": "success"} in s["Dimensions"]
    ]
    assert sum(p["Sum"] for s in finished for p in s["Datapoints"]) == TASKS
    for name in ("QueuedTasks", "RunningTasks"):
        points = [p for s in metric(project, name) for p in s["Datapoints"]]
        assert max(p["Maximum"] for p in points) > 0, name
        assert min(p["Minimum"] for p in points) == 0, name
    (additional,) = metric(project, "NumAdditionalWorkers")
    assert additional["Namespace"] == "AWS/MWAA"
    assert max(p["Maximum"] for p in additional["Datapoints"]) == 2
    assert additional["Datapoints"][-1]["Minimum"] == 0
    (base,) = metric(project, "NumWorkers")
    assert {p["Maximum"] for p in base["Datapoints"]} == {1}
    table = project.cli("metrics", "--since", "30m")
    assert table.returncode == 0 and "TaskInstanceSuccesses" in table.stdout
    chart = project.cli("metrics", "RunningTasks", "--since", "30m")
    assert chart.returncode == 0 and "AmazonMWAA RunningTasks" in chart.stdout


def cloudwatch_query(name: str, namespace: str, dimensions: dict, stat: str) -> dict:
    listed = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    metric = {"Namespace": namespace, "MetricName": name, "Dimensions": listed}
    return {"Id": name.lower(), "MetricStat": {"Metric": metric, "Period": 10, "Stat": stat}}


def test_logs_and_cloudwatch_clients_read_the_same_events_and_datapoints(burst_run):
    """boto3's `logs` and `cloudwatch` clients against the MWAA API endpoint answer the events
    and datapoints `mwaa-local logs --group` and `mwaa-local metrics` print (issue 14 item 6)."""
    project = burst_run["project"]
    endpoint = project.status()["Api"]["Endpoint"]
    keys = {"aws_access_key_id": "AKIAMWAALOCALE2E", "aws_secret_access_key": "local"}
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=endpoint, **keys)
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=endpoint, **keys)

    printed = group(project, "Task", "--stream", f"dag_id={DAG}/*")["events"]
    answer = logs.filter_log_events(
        logGroupName=f"airflow-{project.name}-Task", logStreamNamePrefix=f"dag_id={DAG}/"
    )["events"]
    assert len(answer) >= TASKS
    # CloudWatch's stream names have "_" for the ":" of the run id, as Airflow writes them.
    assert [(e["logStreamName"], e["timestamp"], e["message"]) for e in answer] == [
        (e["logStreamName"].replace(":", "_"), e["timestamp"], e["message"]) for e in printed
    ]

    now = time.time()
    since = now - 1800
    # Datapoints well in the past: the autoscaler's records keep coming.
    end = (int(now) // 10) * 10 - 30
    since_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))
    queries = [
        cloudwatch_query(
            "TaskInstanceSuccesses",
            "AmazonMWAA",
            {"Environment": project.name, "DAG": "All", "Task": "All"},
            "Sum",
        ),
        cloudwatch_query(
            "NumAdditionalWorkers",
            "AWS/MWAA",
            {"Cluster": "AdditionalWorker", "Environment": project.name},
            "Maximum",
        ),
    ]
    results = cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=since, EndTime=end, ScanBy="TimestampAscending"
    )["MetricDataResults"]
    for query, result in zip(queries, results, strict=True):
        name, stat = query["MetricStat"]["Metric"]["MetricName"], query["MetricStat"]["Stat"]
        command = ("metrics", name, "--since", since_text, "--period", "10", "--json")
        printed_result = project.cli(*command)
        assert printed_result.returncode == 0, printed_result.output
        (series,) = json.loads(printed_result.stdout)
        points = [p for p in series["Datapoints"] if p["Timestamp"] < end]
        assert result["StatusCode"] == "Complete"
        assert [t.timestamp() for t in result["Timestamps"]] == [p["Timestamp"] for p in points]
        assert result["Values"] == [p[stat] for p in points], name
    # Up to now (the tasks may have ended within the last 30 s): every success, and the extra
    # workers the burst took.
    latest = cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=since, EndTime=time.time() + 60
    )["MetricDataResults"]
    assert sum(latest[0]["Values"]) == TASKS
    assert max(latest[1]["Values"]) == 2


def test_class_layout_and_limits(burst_run):
    """mw1.small: MWAA's default of two schedulers, a triggerer beside each; every component
    capped at its Fargate task's size (1 vCPU, 2 GB)."""
    components = burst_run["project"].status()["Components"]
    assert components["scheduler"]["Replicas"] == 2
    assert components["triggerer"]["Replicas"] == 2
    for name in ("scheduler", "triggerer", "worker", "webserver"):
        assert components[name]["Limits"] == {"Cpus": 1.0, "MemoryBytes": 2 * 2**30}, name
    assert components["postgres"]["Limits"] == {"Cpus": 0.0, "MemoryBytes": 0}


def test_micro_runs_the_hybrid_and_one_web_server(request, docker_engine):
    """mw1.micro: scheduler, triggerer, DAG processor and worker in one container of 1 vCPU and
    3 GB beside one API server; a task runs in the hybrid; no autoscaler."""
    image = request.getfixturevalue("airflow3_image")
    project = make_project(f"e2e-micro-{os.getpid()}", image.version)
    try:
        settings = yaml.safe_load((project.path / "mwaa-local.yaml").read_text())
        settings["EnvironmentClass"] = "mw1.micro"
        (project.path / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
        started = time.monotonic()
        result = project.cli("start")
        assert result.returncode == 0, result.output
        print(f"e2e micro start: {time.monotonic() - started:.0f} s")
        status = project.status()
        components = status["Components"]
        expected = {"postgres", "redis", "metrics", "migrate-db", "api-server", "hybrid"}
        assert set(components) == expected
        assert components["hybrid"]["Limits"] == {"Cpus": 1.0, "MemoryBytes": 3 * 2**30}
        assert components["api-server"]["Limits"] == {"Cpus": 1.0, "MemoryBytes": 3 * 2**30}
        assert status["Workers"]["Current"] == 1 and status["Workers"]["Autoscaler"] is None
        api = project.api()
        wait_for("the example DAG is parsed", lambda: dag_parsed(api, "mwaa_local_example"), 120)
        api.unpause("mwaa_local_example")
        run_id = api.trigger("mwaa_local_example")
        assert api.wait_for_run("mwaa_local_example", run_id, timeout=300)["state"] == "success"
        log = api.task_log("mwaa_local_example", run_id, "where_am_i")
        hybrid = docker_engine.containers.get(components["hybrid"]["Container"])
        assert f"ran on host {hybrid.attrs['Config']['Hostname']} in component hybrid" in log

        # Docker checks every 3 s; a full pass stands for 15 s (container/health.py), so the
        # hybrid's costly check (a Celery ping) is not run again at every one of them.
        def health_outputs() -> list[str]:
            hybrid.reload()
            return [entry["Output"] for entry in hybrid.attrs["State"]["Health"]["Log"]]

        trusted = "healthy at the last full check"
        wait_for(
            "a check that trusts the last full pass",
            lambda: any(trusted in output for output in health_outputs()),
            30,
        )
        # The Airflow CLI runs where the scheduler is: in the hybrid.
        listed = project.cli("airflow", "dags", "list", "-o", "json")
        assert listed.returncode == 0, listed.output
        assert "mwaa_local_example" in [dag["dag_id"] for dag in json.loads(listed.stdout)]
    finally:
        project.destroy()
