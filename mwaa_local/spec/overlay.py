"""Settings changed through the MWAA API (UpdateEnvironment), kept apart from the user's file.

mwaa-local never rewrites `mwaa-local.yaml`. A change that comes through the API is written to
`.mwaa-local/<Name>/api-settings.yaml` instead, in the same names as the settings file, and
loading the settings applies it on top of the file, key by key (a key there replaces the file's
key whole). `status` names the keys it holds; deleting the file (then `mwaa-local update`) goes
back to the settings file alone.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from mwaa_local.errors import SettingsError
from mwaa_local.runtime.state import StateDir, write_private
from mwaa_local.spec.validation import yaml_problem

OVERLAY_FILE_NAME = "api-settings.yaml"

# What UpdateEnvironment may change locally: the keys a restart of the components applies (object
# paths and versions, options, class, DAG folder), and the ones mwaa-local only records and
# reports (counts: the local stack runs one of each component; logging; the maintenance window).
OVERLAY_KEYS: tuple[str, ...] = (
    "AirflowConfigurationOptions",
    "EnvironmentClass",
    "MinWorkers",
    "MaxWorkers",
    "Schedulers",
    "MinWebservers",
    "MaxWebservers",
    "DagS3Path",
    "PluginsS3Path",
    "PluginsS3ObjectVersion",
    "RequirementsS3Path",
    "RequirementsS3ObjectVersion",
    "StartupScriptS3Path",
    "StartupScriptS3ObjectVersion",
    "LoggingConfiguration",
    "WeeklyMaintenanceWindowStart",
)

_HEADER = """\
# Settings changed through the MWAA API (UpdateEnvironment), applied on top of mwaa-local.yaml,
# which mwaa-local never rewrites. Delete this file (then `mwaa-local update`) to go back to
# mwaa-local.yaml alone; copy a key into mwaa-local.yaml to keep it there.
"""


def overlay_path(project_dir: Path, name: str) -> Path:
    return StateDir.for_environment(Path(project_dir), name).path / OVERLAY_FILE_NAME


def read_overlay(path: Path) -> dict[str, Any]:
    """The overlay's settings ({} when there is none); a key it may not hold is a problem."""
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SettingsError([yaml_problem(exc)], source=str(path), hint=removal_hint(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError([f"cannot read it: {exc}"], source=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(["it is not a mapping of settings"], str(path), removal_hint(path))
    unknown = [key for key in data if key not in OVERLAY_KEYS]
    if unknown:
        problems = [f"{key}: is not a setting the API may change" for key in unknown]
        raise SettingsError(problems, source=str(path), hint=removal_hint(path))
    return data


def write_overlay(path: Path, values: Mapping[str, Any]) -> None:
    """Write the overlay (owner-only: AirflowConfigurationOptions may hold secrets); no values
    removes the file."""
    if not values:
        path.unlink(missing_ok=True)
        return
    ordered = {key: values[key] for key in OVERLAY_KEYS if key in values}
    write_private(path, _HEADER + yaml.safe_dump(ordered, sort_keys=False))


def removal_hint(path: Path) -> str:
    return f"Delete {path} to drop the settings the MWAA API changed, then `mwaa-local update`."
