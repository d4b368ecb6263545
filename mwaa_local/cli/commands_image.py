"""`mwaa-local build-image`."""

import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.live import Live
from rich.text import Text

from mwaa_local.cli.commands_settings import Project, changes_environment
from mwaa_local.cli.output import err, interactive, out, progress, status
from mwaa_local.runtime.engine import docker_client
from mwaa_local.runtime.image import (
    PLATFORM_MACHINES,
    build_image,
    find_image,
    image_build,
    image_tag,
    load_image,
    save_image,
)
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
    """Build the MWAA-shaped Airflow image for one Airflow version."""
    environment = project.environment
    version = versions.airflow_version(airflow_version) if airflow_version else None
    version = version or environment.airflow_version
    build_for(project, version, base_image, ca_bundle, quiet, platform)
    if save_to is not None:
        with status(f"Saving {image_tag(version)} to {save_to} ..."):
            size = save_image(docker_client(), image_tag(version), save_to)
        out.print(f"Saved {image_tag(version)} to {save_to} ({size / 2**20:.0f} MiB).")


@click.command("load-image")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
def load_image_command(archive: Path) -> None:
    """Load an image a teammate built and saved with `build-image --save FILE`."""
    with status(f"Loading {archive} ..."):
        tags = load_image(docker_client(), archive)
    out.print(f"Loaded {', '.join(tags)}.")


def build_for(
    project: Project,
    version: versions.AirflowVersion,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    quiet: bool = False,
    platform: str | None = None,
) -> None:
    """Build the image for `version` with the project's settings, showing the build log."""
    build = image_build(project.environment.local, version, base_image, ca_bundle, platform)
    client = docker_client()
    err.print(
        f"Building {build.tag} (Airflow {build.version.airflow}, Python {build.version.python}) "
        f"on {build.base_image}"
    )
    if quiet:
        built = build_image(client, build, project.cache_dir)
    elif not interactive():
        # No live display where nobody watches a terminal (CI): the build's steps, one a line.
        started = time.monotonic()

        def step(line: str) -> None:
            if line.startswith(("Step ", "Pulling ")):
                elapsed = time.monotonic() - started
                progress(f"{elapsed:7.1f} s  build   {build.tag}: {line[:120]}")

        built = build_image(client, build, project.cache_dir, step)
    else:
        with Live(Text(""), console=err, transient=True, refresh_per_second=8) as live:
            built = build_image(
                client, build, project.cache_dir, lambda line: live.update(Text(line[-160:]))
            )
    state = "unchanged (layer cache)" if built.cached else "built"
    out.print(f"{built.tag} {state} in {built.seconds:.1f} s ({built.id[7:19]})")


def ensure_image(
    project: Project,
    version: versions.AirflowVersion,
    client: "docker.DockerClient",
    quiet: bool = False,
) -> None:
    """Build the image for `version` unless it was built from the same context (find_image: an
    image from another Dockerfile, package, base or constraints counts as missing)."""
    build = image_build(project.environment.local, version)
    if find_image(client, build, project.cache_dir) is None:
        build_for(project, version, quiet=quiet)


COMMANDS = [build_image_command, load_image_command]
