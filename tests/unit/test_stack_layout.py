"""The compose calls for a class's layout: replicas per component, limits per component, and the
worker replicas the autoscaler runs kept across `start` and `update`."""

from mwaa_local.runtime.stack import Stack, airflow_services
from mwaa_local.spec.settings import load_environment


class FakeContainer:
    def __init__(self, service: str) -> None:
        self.labels = {"com.docker.compose.service": service}
        self.status = "running"


class FakeClient:
    def __init__(self, workers: int = 0) -> None:
        self.items = [FakeContainer("worker") for _ in range(workers)]
        self.containers = self

    def list(self, **_):
        return self.items

    def info(self) -> dict:
        return {"NCPU": 2, "MemTotal": 24 * 2**30}


def stack(tmp_path, text: str, workers: int = 0) -> Stack:
    (tmp_path / "mwaa-local.yaml").write_text("Name: env\n" + text)
    return Stack(load_environment(tmp_path, environ={}), FakeClient(workers))


def scales(args: tuple[str, ...]) -> dict[str, int]:
    pairs = [a.split("=") for a in args if a != "--scale"]
    return {name: int(count) for name, count in pairs}


def test_small_scales_schedulers_triggerers_and_keeps_the_autoscalers_workers(tmp_path):
    small = stack(tmp_path, "AirflowVersion: '2.10.3'\nSchedulers: 3\nMaxWorkers: 4\n", workers=3)
    assert scales(small.scale_args()) == {
        "webserver": 1,
        "scheduler": 3,
        "triggerer": 3,
        "worker": 3,
    }
    # Only the services named: `update` recreating the worker keeps its replicas.
    assert small.scale_args(("worker",)) == ("--scale", "worker=3")
    assert small.scale_args(("webserver",)) == ("--scale", "webserver=1")


def test_worker_replicas_stay_within_min_and_max(tmp_path):
    text = "AirflowVersion: '2.10.3'\nMinWorkers: 2\nMaxWorkers: 3\n"
    assert scales(stack(tmp_path, text, workers=0).scale_args())["worker"] == 2
    assert scales(stack(tmp_path, text, workers=5).scale_args())["worker"] == 3


def test_micro_runs_the_hybrid_profile_and_scales_the_rest_to_zero(tmp_path):
    micro = stack(tmp_path, "AirflowVersion: '3.3.1'\nEnvironmentClass: mw1.micro\n")
    assert "micro" in micro.profiles
    assert scales(micro.scale_args()) == {
        "api-server": 1,
        "scheduler": 0,
        "dag-processor": 0,
        "triggerer": 0,
        "worker": 0,
    }
    assert airflow_services(micro.environment) == ("api-server", "hybrid")


def test_limits_for_compose(tmp_path):
    large = stack(tmp_path, "AirflowVersion: '2.10.3'\nEnvironmentClass: mw1.large\n")
    env = large.limits_env()
    # mw1.large: web 2 vCPU / 4 GB, worker 4 vCPU / 8 GB, capped at the engine's 2 CPUs.
    assert (env["MWAA_LOCAL_WEBSERVER_CPUS"], env["MWAA_LOCAL_WEBSERVER_MEMORY"]) == ("2", "4096m")
    assert (env["MWAA_LOCAL_WORKER_CPUS"], env["MWAA_LOCAL_WORKER_MEMORY"]) == ("2", "8192m")
    none = stack(tmp_path, "AirflowVersion: '2.10.3'\nLocal:\n  ResourceScale: 0\n")
    assert none.limits_env()["MWAA_LOCAL_WORKER_CPUS"] == "0"
    assert none.limits_env()["MWAA_LOCAL_WORKER_MEMORY"] == "0m"


def test_micro_runs_commands_for_the_scheduler_and_worker_in_its_hybrid_container(tmp_path):
    # `mwaa-local airflow`, `dags test` and the like run in the scheduler; mw1.micro has none.
    micro = stack(tmp_path, "AirflowVersion: '3.3.1'\nEnvironmentClass: mw1.micro\n")
    micro.client.items = [FakeContainer("api-server"), FakeContainer("hybrid")]
    service = "com.docker.compose.service"
    for part in ("scheduler", "triggerer", "dag-processor", "worker"):
        assert micro.container_for(part).labels[service] == "hybrid"
    assert micro.container_for("api-server").labels[service] == "api-server"
    small = stack(tmp_path, "AirflowVersion: '3.3.1'\n")
    small.client.items = [FakeContainer("scheduler")]
    assert small.container_for("scheduler").labels[service] == "scheduler"
