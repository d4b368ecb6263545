"""What the commands need from wherever an environment runs, as one interface.

Three runtimes implement it: `docker` (the compose stack, runtime/stack.py), `podman` (the same
compose file on Podman's Docker-compatible socket, runtime/podman.py) and `host` (the same start
sequence and Airflow components as processes on this machine, runtime/host.py). The commands get
one from runtime/select.py's `open_runtime` and never ask which it is.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from mwaa_local.bucket.versions import Objects, VersionStore
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.objects.rest_client import AirflowApi
from mwaa_local.runtime.common import ONE_SHOT_SERVICES
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.stack import ServiceState
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import RUNTIMES, Environment
from mwaa_local.spec.versions import AirflowVersion

__all__ = ["RUNTIMES", "Mounts", "Runtime"]

# Extra folders a one-off run sees: host path -> {"bind": path in the component, "mode": "ro"}.
Mounts = dict[str, dict[str, str]]


class Runtime(Protocol):
    name: str  # one of RUNTIMES
    environment: Environment
    state: StateDir

    # --- what runs where ------------------------------------------------------------------

    def services(self) -> tuple[str, ...]:
        """The long-running components `status` lists and `start` waits for."""

    def airflow_components(self) -> tuple[str, ...]:
        """The Airflow components (what `update` restarts one by one)."""

    def differences(self) -> tuple[str, ...]:
        """What this runtime cannot do as MWAA does, one sentence each (start says them)."""

    def describe(self) -> str:
        """Where it runs, for messages: `docker (unix:///var/run/docker.sock)`, ..."""

    # --- what it needs before it runs (an image, a virtual environment) -------------------

    def prepared(self, version: AirflowVersion, cache_dir: Path) -> bool:
        """Whether what runs `version` (the image, the virtual environment) is there, current."""

    def build_description(
        self, version: AirflowVersion, base_image: str | None = None, ca_bundle: Path | None = None
    ) -> str:
        """What `build` makes, said before it starts."""

    def build_label(self, version: AirflowVersion) -> str:
        """What `build` makes, in a few words for progress lines (the image tag, the folder)."""

    def build(
        self,
        version: AirflowVersion,
        cache_dir: Path,
        on_line: Callable[[str], None] = ...,
        base_image: str | None = None,
        ca_bundle: Path | None = None,
        platform: str | None = None,
    ) -> str:
        """Make it (again), for `platform` (linux/amd64, ...; default: this machine's); a
        one-line summary of what was made. `on_line` gets the build log; its steps start with
        `Step ` or `Pulling `."""

    def require_images(self, command: str) -> None:
        """Nothing where the runtime has images; else an error saying `command` needs one."""

    def save_image(self, version: AirflowVersion, target: Path) -> str:
        """Write what runs `version` to `target` for `load_image`; a one-line summary."""

    def load_image(self, archive: Path) -> list[str]:
        """Load what `save_image` wrote; the mwaa-local images loaded."""

    # --- lifecycle --------------------------------------------------------------------------

    def up(self, services: tuple[str, ...] = ()) -> None: ...

    def stop(self) -> None: ...

    def restart(self, services: tuple[str, ...] = ()) -> None: ...

    def recreate(self, services: tuple[str, ...]) -> None:
        """Start these components afresh with the current env files."""

    def remove_database(self) -> None: ...

    def states(self) -> dict[str, ServiceState]: ...

    def status(self, states: Mapping[str, ServiceState]) -> str:
        """The environment's status in MWAA's words (plus STOPPED)."""

    def is_running(self) -> bool: ...

    def require_running(self) -> None: ...

    def check_service(self, service: str) -> str: ...

    def wait_until_ready(
        self,
        timeout: float = ...,
        on_progress: Callable[[Mapping[str, ServiceState]], None] = ...,
        services: tuple[str, ...] = (),
    ) -> dict[str, ServiceState]: ...

    # --- in the components ------------------------------------------------------------------

    def exec_in(self, service: str, command: list[str], tty: bool = False) -> int: ...

    def exec_streaming(
        self, service: str, command: list[str], on_line: Callable[[str], None]
    ) -> tuple[int, str, str]: ...

    def exec_airflow(self, args: tuple[str, ...]) -> int: ...

    def where(self, service: str) -> str:
        """How a report names the running component it came from."""

    def run_one_off(
        self,
        command: list[str],
        stderr: LineStream,
        mounts: Mounts | None = None,
        with_dags: bool = True,
    ) -> tuple[int, str]:
        """An entrypoint command with the bucket's current objects (and its DAG folder, unless
        the command reads no DAGs), apart from the running components; its exit code and stdout
        (stderr goes to `stderr`)."""

    # --- logs and reports -------------------------------------------------------------------

    def show_logs(
        self, services: tuple[str, ...] = (), tail: str = "all", follow: bool = False
    ) -> None: ...

    def log_tail(self, service: str, lines: int = ...) -> str: ...

    def phase_reports(self) -> dict[str, dict[str, dict[str, Any]]]: ...

    def failed_requirements(self) -> dict[str, dict[str, Any]]: ...

    def export_log_streams(self) -> Path: ...

    def sync_dags_now(self) -> dict[str, int]: ...

    # --- the environment's files (the same for every runtime) -------------------------------

    @property
    def versions(self) -> VersionStore: ...

    @property
    def record_file(self) -> Path: ...

    def record(self) -> EnvironmentRecord: ...

    def bucket(self): ...

    def bucket_objects(self) -> Objects: ...

    def write_env_files(self, objects: Objects | None = None) -> None: ...

    def api(self) -> AirflowApi: ...

    def admin_credentials(self) -> tuple[str, str]: ...


def expected_services(runtime: Runtime, services: tuple[str, ...] = ()) -> tuple[str, ...]:
    return services or runtime.services() + ONE_SHOT_SERVICES
