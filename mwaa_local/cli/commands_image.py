"""`mwaa-local build-image`."""

from pathlib import Path

import click
from rich.live import Live
from rich.text import Text

from mwaa_local.cli.commands_settings import Project, changes_environment
from mwaa_local.cli.output import err, out
from mwaa_local.runtime.interface import Runtime
from mwaa_local.runtime.select import open_runtime
from mwaa_local.spec import versions


@click.command("build-image")
@click.option("--airflow-version", help="An MWAA Airflow version (default: the settings').")
@click.option("--base-image", help="Base image (default: Amazon Linux 2023, as on MWAA).")
@click.option(
    "--ca-bundle",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM CA bundle for TLS-inspecting networks (default: $SSL_CERT_FILE and friends).",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not show the build log.")
@click.pass_obj
@changes_environment("build-image")
def build_image_command(
    project: Project,
    airflow_version: str | None,
    base_image: str | None,
    ca_bundle: Path | None,
    quiet: bool,
) -> None:
    """Build the MWAA-shaped Airflow image for one Airflow version (under the host runtime: its
    virtual environment)."""
    environment = project.environment
    version = versions.airflow_version(airflow_version) if airflow_version else None
    build_for(project, version or environment.airflow_version, base_image, ca_bundle, quiet)


def build_for(
    project: Project,
    version: versions.AirflowVersion,
    base_image: str | None = None,
    ca_bundle: Path | None = None,
    quiet: bool = False,
    runtime: Runtime | None = None,
) -> None:
    """Build what runs `version` with the project's settings (the image, or the host runtime's
    virtual environment), showing the build log."""
    runtime = runtime or open_runtime(project.environment)
    err.print(runtime.build_description(version, base_image, ca_bundle))
    if quiet:
        summary = runtime.build(
            version, project.cache_dir, base_image=base_image, ca_bundle=ca_bundle
        )
    else:
        with Live(Text(""), console=err, transient=True, refresh_per_second=8) as live:
            summary = runtime.build(
                version,
                project.cache_dir,
                lambda line: live.update(Text(line[-160:])),
                base_image=base_image,
                ca_bundle=ca_bundle,
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


COMMANDS = [build_image_command]
