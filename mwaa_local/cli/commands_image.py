"""`mwaa-local build-image`."""

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.live import Live
from rich.text import Text

from mwaa_local.cli.commands_settings import Project, changes_environment
from mwaa_local.cli.output import err, interactive, out, progress, status
from mwaa_local.runtime.compose_runtime import DockerRuntime
from mwaa_local.runtime.image import PLATFORM_MACHINES
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.select import open_runtime
from mwaa_local.spec import versions

if TYPE_CHECKING:
    import docker


@click.command("build-image")
@click.option("--airflow-version", help="An MWAA Airflow version (default: the settings').")
@click.option("--base-image", help="Base image (default: Amazon Linux 2023, as on MWAA).")
@click.option(
    "--ca-bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM CA bundle for TLS-inspecting networks (default: $SSL_CERT_FILE and friends).",
)
@click.option(
    "--platform",
    type=click.Choice(sorted(PLATFORM_MACHINES)),
    help="Build for this platform (MWAA's is linux/amd64; on Apple Silicon this gets MWAA's "
    "x86_64 wheels, through emulation).",
)
@click.option(
    "--save",
    "save_to",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Then write the image to this file (.tar, or .tar.gz) for `mwaa-local load-image`.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not show the build log.")
@click.pass_obj
@changes_environment("build-image")
def build_image_command(
    project: Project,
    airflow_version: str | None,
    base_image: str | None,
    ca_bundle: Path | None,
    platform: str | None,
    save_to: Path | None,
    quiet: bool,
) -> None:
    """Build the MWAA-shaped Airflow image for one Airflow version (under the host runtime: its
    virtual environment)."""
    environment = project.environment
    version = versions.airflow_version(airflow_version) if airflow_version else None
    version = version or environment.airflow_version
    runtime = open_runtime(environment)
    if save_to is not None:
        runtime.require_images("build-image --save")  # before a build it could not save
    build_for(project, version, base_image, ca_bundle, quiet, platform, runtime)
    if save_to is not None:
        with status(f"Saving {runtime.build_label(version)} to {save_to} ..."):
            saved = runtime.save_image(version, save_to)
        out.print(saved, markup=False)


@click.command("load-image")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def load_image_command(project: Project, archive: Path) -> None:
    """Load an image a teammate built and saved with `build-image --save FILE`."""
    runtime = open_runtime(project.environment)
    with status(f"Loading {archive} ..."):
        tags = runtime.load_image(archive)
    out.print(f"Loaded {', '.join(tags)}.")


def build_for(
    project: Project,
    version: versions.AirflowVersion,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    quiet: bool = False,
    platform: str | None = None,
    runtime: Runtime | None = None,
) -> None:
    """Build what runs `version` with the project's settings (the image, or the host runtime's
    virtual environment), showing the build log."""
    runtime = runtime or open_runtime(project.environment)
    err.print(runtime.build_description(version, base_image, ca_bundle))
    options = {"base_image": base_image, "ca_bundle": ca_bundle, "platform": platform}
    if quiet:
        summary = runtime.build(version, project.cache_dir, **options)
    elif not interactive():
        # No live display where nobody watches a terminal (CI): the build's steps, one a line.
        started = time.monotonic()
        label = runtime.build_label(version)

        def step(line: str) -> None:
            if line.startswith(("Step ", "Pulling ")):
                elapsed = time.monotonic() - started
                progress(f"{elapsed:7.1f} s  build   {label}: {line[:120]}")

        summary = runtime.build(version, project.cache_dir, step, **options)
    else:
        with Live(Text(""), console=err, transient=True, refresh_per_second=8) as live:
            summary = runtime.build(
                version, project.cache_dir, lambda line: live.update(Text(line[-160:])), **options
            )
    out.print(summary, markup=False)


def ensure_runtime(
    project: Project,
    runtime: Runtime,
    version: versions.AirflowVersion | None = None,
    quiet: bool = False,
) -> None:
    """Build what runs `version` (default: the settings') unless it was built from the same
    inputs: an image from another Dockerfile, package, base or constraints, or a virtual
    environment from other packages or constraints, counts as missing."""
    version = version or project.environment.airflow_version
    if not runtime.prepared(version, project.cache_dir):
        build_for(project, version, quiet=quiet, runtime=runtime)


def ensure_image(
    project: Project,
    version: versions.AirflowVersion,
    client: "docker.DockerClient",
    quiet: bool = False,
) -> None:
    """The image for `version` on this Docker engine, whatever the environment's runtime: for
    what runs in Docker only (serverless workflows' one-off containers)."""
    runtime = DockerRuntime(project.environment, client, "")
    ensure_runtime(project, runtime, version, quiet)


COMMANDS = [build_image_command, load_image_command]
