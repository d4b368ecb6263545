"""`mwaa-local package-requirements`: wheels in plugins.zip for an MWAA that installs offline.

MWAA's offline-install pattern (mwaa-behaviour.md 2.2): put the wheels in plugins.zip, which MWAA
extracts to /usr/local/airflow/plugins before it runs pip, and begin requirements.txt with
`--find-links /usr/local/airflow/plugins` and `--no-index`. Two failures to prevent:
- wheels for the wrong platform: MWAA runs x86_64 Linux with its own Python (3.11 or 3.12), so a
  laptop's arm64 or cp313 wheels are not found under --no-index (mwaa-behaviour.md 9 row 10);
- a wheel for apache-airflow in plugins.zip, which can replace MWAA's own Airflow
  (mwaa-behaviour.md 9 row 9).
So the pinned set is resolved for MWAA's platform and Python under the constraints MWAA installs
with, the packages MWAA's image already has are left out, and a binary wheel for MWAA's platform is
downloaded for each of the rest; every package without one is reported, not just the first.
"""

import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa import plugins
from mwaa_local.mwaa.constraints import essential_constraints
from mwaa_local.package_requirements.archive import (
    PLUGINS_ZIP,
    default_plugins_source,
    read_plugins,
)
from mwaa_local.package_requirements.download import PackagedWheel, collect_wheels
from mwaa_local.package_requirements.requirements_file import prepare, render_requirements
from mwaa_local.package_requirements.resolve import Resolver, line_name, pip_resolver, uv_resolver
from mwaa_local.package_requirements.tools import Downloader, Pin, find_uv, pip_downloader
from mwaa_local.package_requirements.wheels import PLATFORM_LABEL, unfit_wheel_warnings
from mwaa_local.runtime.image import airflow_packages
from mwaa_local.spec import versions
from mwaa_local.spec.settings import Environment

OUTPUT_DIR_NAME = "mwaa-package"
REQUIREMENTS_TXT = "requirements.txt"


@dataclass(frozen=True)
class ExcludedPackage:
    name: str
    version: str | None
    reason: str


@dataclass
class PackageResult:
    airflow_version: str
    python_version: str
    resolver: str
    wheels: list[PackagedWheel] = field(default_factory=list)
    excluded: list[ExcludedPackage] = field(default_factory=list)
    missing_wheels: list[str] = field(default_factory=list)
    plugins_source: Path | None = None
    plugins_zip: Path | None = None
    requirements_txt: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing_wheels

    def to_json(self) -> dict[str, Any]:
        return {
            "AirflowVersion": self.airflow_version,
            "PythonVersion": self.python_version,
            "Platform": PLATFORM_LABEL,
            "Resolver": self.resolver,
            "Wheels": [
                {"Name": w.name, "Version": w.version, "Wheel": w.wheel, "Source": w.source}
                for w in self.wheels
            ],
            "Excluded": [
                {"Name": e.name, "Version": e.version, "Reason": e.reason} for e in self.excluded
            ],
            "MissingWheels": self.missing_wheels,
            "PluginsSource": str(self.plugins_source) if self.plugins_source else None,
            "PluginsZip": str(self.plugins_zip) if self.plugins_zip else None,
            "RequirementsTxt": str(self.requirements_txt) if self.requirements_txt else None,
            "Warnings": self.warnings,
        }


def _base_image(
    resolve: Resolver,
    tmp: Path,
    official: Path,
    essential: Path,
    python: str,
    result: PackageResult,
) -> dict[str, str]:
    """name -> version of what MWAA's image installs: Airflow and its base providers."""
    version = versions.airflow_version(result.airflow_version)
    base = tmp / "mwaa-base.txt"
    base.write_text("\n".join(airflow_packages(version)) + "\n")
    try:
        resolution = resolve(base, [essential, official], python)
    except MwaaLocalError as exc:
        result.warnings.append(
            f"Could not work out what MWAA's image installs ({exc.message.splitlines()[0]}); "
            "only Airflow and MWAA's essential pins are left out of plugins.zip."
        )
        return {}
    if resolution.missing:
        result.warnings.append(
            f"Could not work out what MWAA's image installs (pip found no wheel for "
            f"{', '.join(resolution.missing)}); only Airflow and MWAA's essential pins are left "
            "out of plugins.zip. Install uv (pip install uv) for a complete resolution."
        )
        return {}
    return {pin.key: pin.version or "" for pin in resolution.pins}


def essential_names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        name = line_name(line)
        if name:
            names.add(name)
    return names


def exclude_preinstalled(
    pins: Iterable[Pin], essential_text: str, base: dict[str, str]
) -> tuple[list[Pin], list[ExcludedPackage], list[str]]:
    """(pins to package, pins left out with the reason, warnings).

    Left out: apache-airflow itself (a wheel for it in plugins.zip can replace MWAA's Airflow,
    mwaa-behaviour.md 9 row 9), every package MWAA's essential constraints pin (installed in the
    image and never overridden, 2.1), and every package the image has at the resolved version.
    """
    essential = essential_names(essential_text)
    kept, excluded, warnings = [], [], []
    for pin in pins:
        if pin.key == "apache-airflow":
            reason = (
                "Airflow itself: MWAA's image has it (a wheel for it can replace MWAA's Airflow)"
            )
        elif pin.key in essential:
            reason = "pinned by MWAA's essential constraints: already in MWAA's image"
        elif pin.key in base and base[pin.key] == pin.version:
            reason = "already in MWAA's image (Airflow and its base providers)"
        else:
            if pin.key in base:
                warnings.append(
                    f"{pin} replaces the {pin.name} {base[pin.key]} in MWAA's image; MWAA's pip "
                    "installs it over the image's copy."
                )
            kept.append(pin)
            continue
        excluded.append(ExcludedPackage(pin.name, pin.version, reason))
    return kept, excluded, warnings


_AUTO = Path("<auto>")


def package_requirements(
    environment: Environment,
    requirements: Path,
    output_dir: Path,
    constraints_text: str,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
    *,
    plugins_source: Path | None = _AUTO,
    resolve: Resolver | None = None,
    download: Downloader | None = None,
    progress: Callable[[str], None] | None = None,
) -> PackageResult:
    """Package `requirements` for an MWAA without internet access (mwaa-behaviour.md 2.2).

    Writes `output_dir`/plugins.zip (the project's plugins plus one wheel per package MWAA's image
    does not already have) and `output_dir`/requirements.txt (--find-links, --no-index, then the
    user's lines). When a package has no wheel for MWAA's platform it writes nothing and lists
    every such package in `missing_wheels`. `resolve` and `download` default to uv (pip when uv
    is not installed) and `pip download`.
    """
    say = progress or (lambda _message: None)
    version = environment.airflow_version
    python = version.python
    requirements, output_dir = Path(requirements), Path(output_dir)
    if not requirements.is_file():
        raise MwaaLocalError(
            f"The requirements file {requirements} does not exist.",
            hint="Name it with --requirements FILE, or set RequirementsS3Path in the settings.",
        )
    targets = (output_dir / PLUGINS_ZIP, output_dir / REQUIREMENTS_TXT)
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise MwaaLocalError(
            f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
            "mwaa-local never rewrites your files.",
            hint="Move them away, or name another folder with --output-dir.",
        )
    if plugins_source == _AUTO:
        plugins_source = default_plugins_source(environment)
    try:
        user_lines = requirements.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MwaaLocalError(f"Cannot read {requirements}: {exc}") from exc
    if resolve is None:
        uv = find_uv()
        ca_bundle = environment.local.ca_bundle
        resolve = uv_resolver(uv, ca_bundle) if uv else pip_resolver(pip, ca_bundle)
    resolver_name = getattr(resolve, "tool", "custom")
    download = download or pip_downloader(pip, environment.local.ca_bundle)
    result = PackageResult(version.airflow, python, resolver_name, plugins_source=plugins_source)

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mwaa-local-pkg-")))
        source = read_plugins(plugins_source, targets, stack)
        result.warnings += source.warnings
        result.warnings += unfit_wheel_warnings(source.root_wheels, python)

        official = tmp / "constraints.txt"
        official.write_text(constraints_text)
        essential = tmp / "mwaa-essential-constraints.txt"
        essential.write_text(essential_constraints(version))
        prepared = prepare(user_lines, requirements.parent, official, essential, version.airflow)
        result.warnings += prepared.warnings
        resolvable = tmp / "requirements.txt"
        resolvable.write_text("\n".join(prepared.lines) + "\n")

        say(f"Resolving {requirements.name} for Python {python} on {PLATFORM_LABEL}")
        resolution = resolve(resolvable, prepared.constraints, python)
        result.warnings += resolution.notes
        result.missing_wheels += resolution.missing
        base = {}
        if resolution.pins:
            say("Resolving what MWAA's image already has")
            base = _base_image(resolve, tmp, official, essential, python, result)
        kept, result.excluded, warnings = exclude_preinstalled(
            resolution.pins, essential.read_text(), base
        )
        result.warnings += warnings

        wheels_dir = tmp / "wheels"
        wheels, missing = collect_wheels(
            kept, source.root_wheels, download, wheels_dir, python, say
        )
        result.missing_wheels = sorted(set(result.missing_wheels + missing), key=str.lower)
        result.wheels = sorted(wheels, key=lambda w: w.name.lower())
        if result.missing_wheels:
            return result

        say(f"Writing {targets[0]}")
        members = list(source.members)
        for wheel in result.wheels:
            if wheel.source == "index" and wheel.wheel not in source.root_wheels:
                members.append(plugins.file_member(wheels_dir / wheel.wheel))
        output_dir.mkdir(parents=True, exist_ok=True)
        plugins.write_zip(targets[0], members)
        targets[1].write_text(render_requirements(user_lines))
    result.plugins_zip, result.requirements_txt = targets
    size = targets[0].stat().st_size
    if size > plugins.MAX_UNCOMPRESSED_BYTES:
        result.warnings.append(
            f"plugins.zip is {size / 2**30:.2f} GiB; MWAA recommends under 1 GB and must install "
            "it within ten minutes (mwaa-behaviour.md 2.3)."
        )
    return result
