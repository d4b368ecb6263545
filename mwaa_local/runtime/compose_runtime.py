"""The docker runtime: the compose stack of runtime/stack.py behind the Runtime interface
(runtime/interface.py). The podman runtime (runtime/podman.py) is this one on Podman's socket."""

from collections.abc import Callable, Mapping
from pathlib import Path

import docker

from mwaa_local.runtime import one_off
from mwaa_local.runtime.image import (
    build_image,
    find_image,
    image_build,
    image_tag,
    load_image,
    save_image,
)
from mwaa_local.runtime.interface import Mounts
from mwaa_local.runtime.line_stream import LineStream
from mwaa_local.runtime.stack import (
    ServiceState,
    Stack,
    environment_status,
)
from mwaa_local.spec.settings import Environment
from mwaa_local.spec.versions import AirflowVersion


class DockerRuntime(Stack):
    name = "docker"

    def __init__(self, environment: Environment, client: docker.DockerClient, url: str) -> None:
        super().__init__(environment, client)
        self.url = url

    def differences(self) -> tuple[str, ...]:
        return ()

    def describe(self) -> str:
        return f"{self.name} ({self.url})"

    def status(self, states: Mapping[str, ServiceState]) -> str:
        return environment_status(self.environment, states)

    def where(self, service: str) -> str:
        return f"the {service} container {self.container_for(service).name}"

    def run_one_off(
        self,
        command: list[str],
        stderr: LineStream,
        mounts: Mounts | None = None,
        with_dags: bool = True,
    ) -> tuple[int, str]:
        return one_off.run_one_off(
            self.client, self.environment, command, stderr, mounts, with_dags
        )

    # --- the image ------------------------------------------------------------------------

    def prepared(self, version: AirflowVersion, cache_dir: Path) -> bool:
        build = image_build(self.environment.local, version)
        return find_image(self.client, build, cache_dir) is not None

    def build_description(
        self, version: AirflowVersion, base_image: str | None = None, ca_bundle: Path | None = None
    ) -> str:
        build = image_build(self.environment.local, version, base_image, ca_bundle)
        return (
            f"Building {build.tag} (Airflow {version.airflow}, Python {version.python}) "
            f"on {build.base_image}"
        )

    def build_label(self, version: AirflowVersion) -> str:
        return image_tag(version)

    def build(
        self,
        version: AirflowVersion,
        cache_dir: Path,
        on_line: Callable[[str], None] = lambda line: None,
        base_image: str | None = None,
        ca_bundle: Path | None = None,
        platform: str | None = None,
    ) -> str:
        build = image_build(self.environment.local, version, base_image, ca_bundle, platform)
        built = build_image(self.client, build, cache_dir, on_line)
        state = "unchanged (layer cache)" if built.cached else "built"
        return f"{built.tag} {state} in {built.seconds:.1f} s ({built.id[7:19]})"

    def require_images(self, command: str) -> None:
        pass

    def save_image(self, version: AirflowVersion, target: Path) -> str:
        size = save_image(self.client, image_tag(version), target)
        return f"Saved {image_tag(version)} to {target} ({size / 2**20:.0f} MiB)."

    def load_image(self, archive: Path) -> list[str]:
        return load_image(self.client, archive)
