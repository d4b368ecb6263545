"""Helpers for tests that start real stacks: a project folder, free ports, guaranteed cleanup."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from mwaa_local.api.process import stop_api
from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.compose import compose_file, compose_tool
from mwaa_local.spec.settings import load_environment
from tests.e2e.conftest import Result, run_cli

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Project:
    path: Path
    name: str
    version: str
    port: int

    def cli(
        self,
        *args: str,
        timeout: float = 900,
        input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Result:
        return run_cli(
            "--project-dir", str(self.path), *args, timeout=timeout, input=input, env=env
        )  # fmt: skip

    def status(self) -> dict:
        return json.loads(self.cli("status", "--json").stdout)

    @property
    def state(self) -> Path:
        return self.path / ".mwaa-local" / self.name

    def api(self) -> AirflowApi:
        secrets = json.loads((self.state / "secrets.json").read_text())
        major = int(self.version.split(".")[0])
        return AirflowApi(
            f"http://127.0.0.1:{self.port}", "admin", secrets["admin_password"], major
        )

    def dag_description(self, dag_id: str) -> str | None:
        """The DAG's description as the metadata database holds it (None: not parsed yet)."""
        try:
            return self.api().request("GET", f"/dags/{dag_id}").get("description")
        except MwaaLocalError:
            return None

    @property
    def runtime(self) -> str:
        recorded = self.state / "runtime.json"
        return json.loads(recorded.read_text())["Runtime"] if recorded.is_file() else "docker"

    def destroy(self) -> None:
        """Remove the project's containers, volumes and network, or its host processes,
        whatever state they are in, and stop its MWAA API process."""
        with contextlib.suppress(MwaaLocalError):
            stop_api(load_environment(self.path))
        if self.runtime == "host":
            stop_host_processes(self.state / "host")
        env_file = self.state / "compose.env"
        if env_file.is_file():
            env = None
            if self.runtime == "podman":
                from mwaa_local.runtime.podman import podman_client

                env = {**os.environ, "DOCKER_HOST": podman_client()[1]}
            # compose/credentials.yaml too: it declares the credentials service and network.
            credentials = compose_file().with_name("credentials.yaml")
            subprocess.run(
                [*compose_tool().command, "-p", self.name.lower(), "-f", str(compose_file()),
                 "-f", str(credentials), "--env-file", str(env_file),
                 "--profile", "airflow2", "--profile", "airflow3", "--profile", "s3",
                 "--profile", "micro",
                 "down", "--volumes", "--remove-orphans", "--timeout", "5"],
                capture_output=True,
                env=env,
            )  # fmt: skip
        shutil.rmtree(self.path, ignore_errors=True)


def stop_host_processes(root: Path) -> None:
    """Kill every process the host runtime started for a project (its supervisors and their
    components' process groups), whatever the test left running."""
    for pid_file in (root / "run").glob("*.pid"):
        status_file = pid_file.with_suffix(".json")
        pids = [int(pid_file.read_text().strip() or 0)]
        if status_file.is_file():
            pids.append(int(json.loads(status_file.read_text()).get("pid") or 0))
        for pid in pids:
            if pid > 1:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)


def host_processes(root: Path) -> list[str]:
    """The command lines of live processes whose environment or command names `root` (Linux)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            seen = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if str(root).encode() in seen and int(proc.name) != os.getpid():
            found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
    return found


def make_project(name: str, version: str, options: dict | None = None, **local) -> Project:
    """A project folder the containers' airflow user can read (pytest's tmp_path is 0700)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"mwaa-local-{name}-"))
    tmp.chmod(0o755)
    shutil.copytree(REPO / "dags", tmp / "dags")
    port = free_port()
    settings = {
        "Name": name,
        "AirflowVersion": version,
        "Local": {"WebserverPort": port, **local},
    }
    if options:
        settings["AirflowConfigurationOptions"] = options
    (tmp / "mwaa-local.yaml").write_text(yaml.safe_dump(settings))
    return Project(tmp, name, version, port)
