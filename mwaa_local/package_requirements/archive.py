"""The project's plugins as package-requirements reads them (a plugins.zip or a plugins/ folder),
and the wheels it finds at their root."""

import zipfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa import plugins
from mwaa_local.spec.settings import Environment

PLUGINS_ZIP = "plugins.zip"


def bucket_dir(environment: Environment) -> Path:
    """The local bucket folder (Local.Bucket relative to the project); the project for s3://."""
    return environment.project_dir if environment.bucket_is_s3 else environment.bucket_folder


def default_requirements_file(environment: Environment) -> Path:
    if not environment.requirements_s3_path:
        raise MwaaLocalError(
            "The settings name no requirements file (RequirementsS3Path is empty).",
            hint="Name one with --requirements FILE, or set RequirementsS3Path.",
        )
    return bucket_dir(environment) / environment.requirements_s3_path


def default_plugins_source(environment: Environment) -> Path | None:
    """PluginsS3Path's zip if set and present, else plugins.zip, else a plugins/ folder."""
    roots = list(dict.fromkeys([bucket_dir(environment), environment.project_dir]))
    candidates = []
    if environment.plugins_s3_path:
        candidates.append(roots[0] / environment.plugins_s3_path)
    candidates += [root / PLUGINS_ZIP for root in roots]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    for root in roots:
        if (root / "plugins").is_dir():
            return root / "plugins"
    return None


@dataclass
class ProjectPlugins:
    members: list[plugins.ZipMember]
    root_wheels: dict[str, plugins.ZipMember]
    warnings: list[str]


def read_plugins(source: Path | None, exclude: Iterable[Path], stack: ExitStack) -> ProjectPlugins:
    if source is None:
        return ProjectPlugins([], {}, [])
    if source.is_dir():
        found = plugins.folder_members(source, exclude)
        members = found.members
        warnings, _ = plugins.diagnose_layout(m.name for m in members)
        warnings += [w for w in [found.warning(source)] if w]
    else:
        warnings = plugins.check_plugins_zip(source).warnings
        archive = stack.enter_context(zipfile.ZipFile(source))
        members = plugins.zip_members(archive)
    wheels = {m.name: m for m in members if "/" not in m.name and m.name.endswith(".whl")}
    return ProjectPlugins(members, wheels, warnings)
