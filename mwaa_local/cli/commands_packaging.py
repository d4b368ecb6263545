"""`mwaa-local package-requirements`: wheels in plugins.zip for an MWAA without internet access."""

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import out, print_json, print_table, status, styled, warn
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.constraints import official_constraints
from mwaa_local.package_requirements.archive import default_requirements_file
from mwaa_local.package_requirements.package import (
    OUTPUT_DIR_NAME,
    PackageResult,
    package_requirements,
)
from mwaa_local.package_requirements.wheels import PLATFORM_LABEL


@click.command("package-requirements")
@click.option(
    "--requirements",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The requirements file (default: the bucket folder's RequirementsS3Path).",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write plugins.zip and requirements.txt "
    f"(default: PROJECT_DIR/{OUTPUT_DIR_NAME}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def package_requirements_command(
    project: Project, requirements: Path | None, output_dir: Path | None, as_json: bool
) -> None:
    """Bundle requirements as Linux x86_64 wheels in plugins.zip, for MWAA without internet."""
    environment = project.environment
    version = environment.airflow_version
    requirements = requirements or default_requirements_file(environment)
    output_dir = output_dir or environment.project_dir / OUTPUT_DIR_NAME
    constraints = official_constraints(
        version,
        environment.local.constraints_mirror,
        project.cache_dir / "constraints",
        environment.local.ca_bundle,
    )
    with status("Resolving") as spinner:
        result = package_requirements(
            environment,
            requirements,
            output_dir,
            constraints,
            progress=lambda message: spinner.update(Text(message)),
        )
    if as_json:
        print_json(result.to_json())
    else:
        _print_summary(result)
    if result.missing_wheels:
        raise MwaaLocalError(
            f"No wheel for MWAA's platform ({PLATFORM_LABEL}, CPython {result.python_version}) "
            f"exists for {len(result.missing_wheels)} package(s): "
            + ", ".join(result.missing_wheels)
            + "; nothing was written.",
            hint="MWAA installs with --no-index, so each needs a wheel: build one on Linux x86_64 "
            f"with Python {result.python_version} (pip wheel NAME==VERSION) and put it in your "
            "plugins, or drop the package.",
        )


def _print_summary(result: PackageResult) -> None:
    for message in result.warnings:
        warn(message)
    title = (
        f"Wheels for Airflow {result.airflow_version}, CPython {result.python_version}, "
        f"{PLATFORM_LABEL} (resolved with {result.resolver})"
    )
    table = Table("Package", "Version", title=title)
    table.add_column("Wheel", overflow="fold")
    for wheel in result.wheels:
        origin = "" if wheel.source == "index" else f" (from {wheel.source})"
        table.add_row(wheel.name, wheel.version or "", wheel.wheel + origin)
    for name in result.missing_wheels:
        table.add_row(name, "", styled("no wheel for MWAA's platform", "red"))
    if result.wheels or result.missing_wheels:
        print_table(table)
    if result.excluded:
        names = ", ".join(f"{e.name}=={e.version}" for e in result.excluded[:8])
        more = f" and {len(result.excluded) - 8} more" if len(result.excluded) > 8 else ""
        out.print(
            f"Left out {len(result.excluded)} package(s) MWAA's image already has "
            f"(Airflow, MWAA's essential pins, the base providers): {names}{more}."
        )
    if result.plugins_zip and result.requirements_txt:
        source = f" with the plugins from {result.plugins_source}" if result.plugins_source else ""
        out.print(f"Wrote {result.plugins_zip}{source}")
        out.print(f"Wrote {result.requirements_txt}")
        out.print(
            "Upload both to the bucket and set them as PluginsS3Path and RequirementsS3Path "
            "(with their object versions)."
        )


COMMANDS = [package_requirements_command]
