"""What every runtime does the same way, wherever its components run: the version store and the
environment's record in its state folder, the bucket, the UI's address and admin login, the
tasks' AWS, the requirements reports and a DAG sync into each running component.

A runtime that takes this in has `environment` and `state`, and the `services`,
`airflow_components`, `states`, `exec_in`, `log_tail` and `phase_reports` of the Runtime
interface (runtime/interface.py).
"""

import functools
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mwaa_local.aws import task_aws
from mwaa_local.bucket.source import open_bucket
from mwaa_local.bucket.versions import Objects, VersionStore, read_objects
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.errors import MwaaLocalError
from mwaa_local.objects.rest_client import AirflowApi

if TYPE_CHECKING:
    from mwaa_local.runtime.stack import ServiceState

# For an s3:// bucket, one component mirrors the bucket's DAG folder to where the Airflow
# components read a bucket folder (a volume in the stack, a folder under the host runtime).
BUCKET_SYNC_SERVICE = "bucket-sync"
# The database migration, run to its end before the Airflow components start.
ONE_SHOT_SERVICES = ("migrate-db",)
START_TIMEOUT_SECONDS = 600


class RuntimeCommon:
    # How often wait_until_ready reads the components' states.
    READY_POLL_SECONDS = 1.0

    @property
    def versions(self) -> VersionStore:
        return VersionStore(self.state.path / "versions")

    @property
    def record_file(self) -> Path:
        return self.state.path / "environment.json"

    def record(self) -> EnvironmentRecord:
        return EnvironmentRecord.load(self.record_file)

    def bucket(self):
        return open_bucket(self.environment)

    def bucket_objects(self, keep: bool = True) -> Objects:
        """plugins.zip, requirements.txt and startup.sh as the settings ask for them now (the
        pinned versions, else the current ones), recorded in the version store unless `keep`
        is False (read-only commands write nothing)."""
        return read_objects(self.environment, self.bucket(), self.versions, keep)

    @functools.cached_property
    def task_aws(self) -> task_aws.TaskAws:
        """The tasks' AWS (credentials mode, region, endpoints); `start` sets it."""
        return task_aws.current_task_aws(self.environment)

    @property
    def ui_url(self) -> str:
        """Where the Airflow UI and REST API are published on this machine."""
        local = self.environment.local
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(local.bind_address, local.bind_address)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{local.webserver_port}"

    def api(self) -> AirflowApi:
        """A client for the environment's published Airflow API, logged in as the admin."""
        username, password = self.admin_credentials()
        major = self.environment.airflow_version.major
        return AirflowApi(self.ui_url, username, password, major)

    def admin_credentials(self) -> tuple[str, str]:
        local = self.environment.local
        return local.admin_username, local.admin_password or self.state.secrets().admin_password

    def is_running(self) -> bool:
        """Whether any of its components runs."""
        return any(s.status == "running" for s in self.states().values())

    def require_running(self) -> None:
        if not self.is_running():
            raise MwaaLocalError(
                f"Environment {self.environment.name} is not running.",
                hint="Start it first: mwaa-local start",
            )

    def failed_requirements(self) -> dict[str, dict[str, Any]]:
        """Components whose requirements install failed, with the report of each."""
        return {
            service: phases["requirements"]
            for service, phases in self.phase_reports().items()
            if not phases.get("requirements", {}).get("ok", True)
        }

    def sync_dags_now(self) -> dict[str, int]:
        """Sync the bucket's DAG folder into every running Airflow component now (an S3
        bucket's mirror first); the exit code of each sync."""
        codes = {}
        states = self.states()
        mirror = states.get(BUCKET_SYNC_SERVICE)
        if mirror and mirror.status == "running":
            command = ["python", "-m", "mwaa_local.container.s3_mirror", "--once"]
            codes[BUCKET_SYNC_SERVICE] = self.exec_in(BUCKET_SYNC_SERVICE, command)
        for service, state in states.items():
            if service in self.airflow_components() and state.status == "running":
                command = ["python", "-m", "mwaa_local.container.dag_sync", "--once"]
                codes[service] = self.exec_in(service, command)
        return codes

    def wait_until_ready(
        self,
        timeout: float = START_TIMEOUT_SECONDS,
        on_progress: Callable[[Mapping[str, "ServiceState"]], None] = lambda states: None,
        services: tuple[str, ...] = (),
    ) -> dict[str, "ServiceState"]:
        """Poll until every service (or these) is ready; raise, naming the component, when one
        fails. A component that crashed and was restarted (by its restart policy, or the host
        runtime's supervisor) has failed too."""
        from mwaa_local.runtime.stack import ComponentFailed  # stack.py imports this module

        expected = services or (*self.services(), *ONE_SHOT_SERVICES)
        deadline = time.monotonic() + timeout
        restarts = {service: state.restarts for service, state in self.states().items()}
        while True:
            states = self.states()
            on_progress(states)
            for service in expected:
                state = states.get(service)
                if state and (state.failed or state.restarts > restarts.get(service, 0)):
                    raise ComponentFailed(self, service, state)
            if all(service in states and states[service].ready for service in expected):
                return states
            if time.monotonic() > deadline:
                waiting = [s for s in expected if not (s in states and states[s].ready)]
                raise ComponentFailed(self, waiting[0], states.get(waiting[0]), timed_out=timeout)
            time.sleep(self.READY_POLL_SECONDS)
