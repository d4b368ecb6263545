"""UpdateEnvironment, locally (mwaa-behaviour.md 2.4, 6.3): apply new versions of plugins.zip,
requirements.txt and startup.sh (and changed settings) by restarting the Airflow components one
by one; if one fails to start, roll every component back to the last good versions.

UPDATING -> AVAILABLE, or UPDATING -> ROLLING_BACK -> UPDATE_FAILED with LastUpdate.Error, the
environment still running on the previous versions (or UNAVAILABLE if even that fails).
"""

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwaa_local.bucket.versions import OBJECT_KINDS, Objects, ObjectVersion, now
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.stack import ComponentFailed, Stack
from mwaa_local.runtime.state import write_private
from mwaa_local.spec.settings import Environment

# mwaa-behaviour.md 6.2 documents LastUpdate.Error's shape; MWAA's own codes for these causes
# are not documented (only INCORRECT_CONFIGURATION is), so these name the cause plainly.
REQUIREMENTS_FAILED = "REQUIREMENTS_INSTALL_FAILED"
STARTUP_SCRIPT_FAILED = "STARTUP_SCRIPT_FAILED"
PLUGINS_FAILED = "PLUGINS_INVALID"
COMPONENT_FAILED = "COMPONENT_FAILED"
UPDATE_INTERRUPTED = "UPDATE_INTERRUPTED"
# The env files the components ran with before an update, kept until it ends: a journal from
# which an interrupted update is rolled back by the next command.
JOURNAL_DIR = "update-journal"


def environment_settings(environment: Environment) -> dict[str, Any]:
    """The settings an update applies, as MWAA names them."""
    local = environment.local
    return {
        "AirflowVersion": environment.airflow_version.airflow,
        "EnvironmentClass": environment.environment_class,
        "AirflowConfigurationOptions": dict(environment.airflow_configuration_options),
        "MinWorkers": environment.min_workers,
        "MaxWorkers": environment.max_workers,
        "Schedulers": environment.schedulers,
        "DagS3Path": environment.dag_s3_path,
        "Local.DagSync": local.dag_sync,
        "Local.DagSyncInterval": local.sync_interval,
        "Local.StartupScriptTimeout": local.startup_script_timeout,
        "Local.RequirementsTimeout": local.requirements_timeout,
        "Local.Installer": local.installer,
    }


@dataclass(frozen=True)
class PendingChange:
    what: str  # PluginsS3Path, RequirementsS3Path, StartupScriptS3Path, or a setting's name
    applied: str
    wanted: str


def version_label(version: ObjectVersion | None) -> str:
    return version.label if version else "(none)"


def pending_changes(
    record: EnvironmentRecord, wanted: Objects, settings: dict[str, Any]
) -> list[PendingChange]:
    """What an update would change: object versions, then settings (values of configuration
    options are not shown: they may hold secrets)."""
    changes = []
    applied = record.applied or {}
    for kind, (path_setting, _, _) in OBJECT_KINDS.items():
        before, after = applied.get(kind), wanted.get(kind)
        if (before and before.sha256) != (after and after.sha256):
            changes.append(PendingChange(path_setting, version_label(before), version_label(after)))
    for name, value in settings.items():
        old = record.settings.get(name)
        if old == value:
            continue
        if name == "AirflowConfigurationOptions":
            before = old or {}
            keys = sorted(k for k in {*value, *before} if before.get(k) != value.get(k))
            if keys:
                changes.append(PendingChange(name, "", "changed: " + ", ".join(keys)))
        else:
            changes.append(PendingChange(name, str(old), str(value)))
    return changes


class UpdateFailed(MwaaLocalError):
    def __init__(self, code: str, message: str, rolled_back: bool) -> None:
        self.code = code
        status = "UPDATE_FAILED" if rolled_back else "UNAVAILABLE"
        super().__init__(
            f"{status}: {code}: {message}",
            hint="The environment runs on the previous versions; fix the cause (mwaa-local "
            "test-requirements / test-startup-script), then `mwaa-local update` again."
            if rolled_back
            else "The rollback failed too: see mwaa-local status and mwaa-local logs.",
        )


def start_failure(
    phases: dict[str, Any], service: str, error: ComponentFailed | None
) -> tuple[str, str] | None:
    """Why a component did not start well with the new versions, from its start-sequence
    reports: (ErrorCode, ErrorMessage), or None when it did."""
    requirements = phases.get("requirements", {})
    if error is None:
        # mwaa-behaviour.md 2.4: a failed install leaves a component running, but on update
        # MWAA rolls back to the last stable version.
        if requirements.get("ok") is False:
            return REQUIREMENTS_FAILED, f"{service}: {requirements.get('diagnosis')}"
        return None
    if phases.get("plugins", {}).get("ok") is False:
        return PLUGINS_FAILED, f"{service}: plugins.zip: {phases['plugins'].get('error')}"
    startup = phases.get("startup_script", {})
    if startup.get("ok") is False:
        return STARTUP_SCRIPT_FAILED, f"{service}: {startup.get('summary')}"
    start = phases.get("start", {})
    if start.get("ok") is False:
        return COMPONENT_FAILED, f"{service}: {start.get('error')}"
    last = last_error_line(error.log_lines)
    return COMPONENT_FAILED, f"{error.what}: {last}" if last else error.what


def last_error_line(lines: list[str]) -> str:
    """The log line that most likely says why: the last one naming an error or exception (a
    traceback's last line), else the last line. A restarted component may have logged more
    since."""
    for line in reversed(lines):
        if re.search(r"(Error|Exception|ERROR|error:)", line):
            return line.strip()
    return lines[-1].strip() if lines else ""


def update_environment(
    stack: Stack,
    wanted: Objects,
    timeout: float,
    on_step: Callable[[str], None] = lambda message: None,
    source: str = "mwaa-local update",
    worker_replacement_strategy: str | None = None,
) -> None:
    """Restart the Airflow components one by one on `wanted`; roll back on the first failure.
    `source` and `worker_replacement_strategy` are recorded in LastUpdate."""
    record = stack.record()
    # A rollback restores exactly what the components ran with, objects and settings alike:
    # the env files the last `up` wrote.
    if not all(f.is_file() for f in stack.state.env_files):
        stack.write_env_files()
    previous_env = {f: f.read_text() for f in stack.state.env_files}
    journal = stack.state.path / JOURNAL_DIR
    for path, text in previous_env.items():
        write_private(journal / path.name, text)
    record.begin_update(source, worker_replacement_strategy)
    record.save(stack.record_file)
    stack.write_env_files(wanted)
    restarted: list[str] = []
    failure: tuple[str, str] | None = None
    for service in stack.airflow_components():
        on_step(f"UPDATING: restarting {service} with the new versions")
        restarted.append(service)
        error = None
        try:
            stack.recreate((service,))
            stack.wait_until_ready(timeout, services=(service,))
        except ComponentFailed as e:
            error = e
        except MwaaLocalError as e:  # compose could not replace the container
            failure = COMPONENT_FAILED, f"{service}: {e.message}"
            break
        failure = start_failure(stack.phase_reports().get(service, {}), service, error)
        if failure:
            break
    if failure is None:
        record.applied = wanted
        record.settings = environment_settings(stack.environment)
        record.finish_update()
        record.save(stack.record_file)
        shutil.rmtree(journal, ignore_errors=True)
        return
    record.status = "ROLLING_BACK"
    record.save(stack.record_file)
    on_step(f"ROLLING_BACK: {', '.join(restarted)} to the previous versions")
    rollback_error = roll_back(stack, previous_env, tuple(restarted), timeout)
    code, message = failure
    if rollback_error is not None:
        message = f"{message[:500]}. The rollback failed too: {rollback_error}"
    record.finish_update(code, message, rolled_back=rollback_error is None)
    record.save(stack.record_file)
    shutil.rmtree(journal, ignore_errors=True)
    raise UpdateFailed(code, message, rolled_back=rollback_error is None)


def roll_back(
    stack: Stack, previous_env: dict[Path, str], services: tuple[str, ...], timeout: float
) -> str | None:
    """Restart `services` with the env files they ran with before; why that failed, or None."""
    for path, text in previous_env.items():
        write_private(path, text)
    try:
        stack.recreate(services)
        stack.wait_until_ready(timeout)
    except ComponentFailed as e:
        _, reason = start_failure(stack.phase_reports().get(e.service, {}), e.service, e)
        return reason
    except MwaaLocalError as e:
        return e.message
    return None


def finish_interrupted_update(stack: Stack) -> str | None:
    """Roll back an update whose process is gone (killed, or the machine restarted): restore the
    env files from its journal, recreate the Airflow components if they run, and end LastUpdate
    as FAILED. Returns what was done, or None when no update was interrupted."""
    record = stack.record()
    if not record.interrupted:
        return None
    journal = stack.state.path / JOURNAL_DIR
    for path in stack.state.env_files:
        kept = journal / path.name
        if kept.is_file():
            write_private(path, kept.read_text())
    if stack.is_running():
        stack.recreate(stack.airflow_components())
    if record.last_update is None:
        record.begin_update("mwaa-local update")
    message = (
        f"The update (pid {record.updating_pid}) stopped before it finished; the components "
        "were rolled back to the versions they ran before it."
    )
    record.finish_update(UPDATE_INTERRUPTED, message)
    record.save(stack.record_file)
    shutil.rmtree(journal, ignore_errors=True)
    return message


def record_create(stack: Stack) -> list[PendingChange]:
    """What `start` does with object versions: the first start applies the bucket's current
    (or pinned) versions, as CreateEnvironment does; later starts keep the applied ones and
    return what an update would change. `start` applies the settings as they are."""
    record = stack.record()
    wanted = stack.bucket_objects()
    settings = environment_settings(stack.environment)
    changes = []
    if record.created_at is None:
        record.created_at = now()
    if record.applied is None:
        record.applied = wanted
    else:
        changes = pending_changes(record, wanted, settings)
        changes = [c for c in changes if c.what in PATH_SETTINGS]
    record.settings = settings
    record.save(stack.record_file)
    return changes


PATH_SETTINGS = tuple(path for path, _, _ in OBJECT_KINDS.values())


def shown_status(computed: str, record: EnvironmentRecord) -> str:
    """The status in MWAA's words: an update in progress or failed (and rolled back) shows as
    such while the containers run; after a failed rollback UNAVAILABLE (mwaa-behaviour.md 6.3:
    "did not return to its previous state"), until the containers are all well again; otherwise
    what the containers say."""
    update = record.update_status()
    if update in ("UPDATING", "ROLLING_BACK"):
        return update
    if update in ("UPDATE_FAILED", "UNAVAILABLE") and computed == "AVAILABLE":
        return "UPDATE_FAILED"
    if update == "UNAVAILABLE" and computed != "STOPPED":
        return update
    return computed
