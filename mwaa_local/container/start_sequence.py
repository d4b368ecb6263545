"""MWAA's start sequence in one place (mwaa-behaviour.md 1.2, 2.1, 2.5): unpack plugins.zip into
$AIRFLOW_HOME/plugins, source the startup script, install requirements, then the component
starts. The container entrypoint and the `test-requirements` / `test-startup-script` commands
all run this code, so what a user tests is what starts.

Runs inside the container: standard library only.
"""

import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mwaa_local.container import paths
from mwaa_local.container.applied_objects import applied_exists, copy_applied
from mwaa_local.container.requirements_install import run_install
from mwaa_local.container.startup_script import run_startup_script
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa import log_streams, plugins, requirements
from mwaa_local.mwaa.startup_script import StartupScriptResult

REQUIREMENTS_MARKER = ".mwaa-local-requirements-key"


@dataclass(frozen=True)
class SequenceSettings:
    """What the sequence needs, read from the variables `mwaa-local start` sets."""

    component: str
    environment_name: str
    airflow_version: str
    python_version: str
    airflow_home: Path
    bucket: Path
    dag_path: str
    # The applied object versions' files (mwaa_local/bucket/versions.py), and their labels
    # (key@version) for reports; None when the environment has no such object.
    plugins_file: Path | None
    startup_script_file: Path | None
    requirements_file: Path | None
    labels: dict[str, str]
    startup_script_timeout: float
    requirements_timeout: float
    option_keys: frozenset[str]
    installer: str = requirements.DEFAULT_INSTALLER  # Local.Installer: uv or pip

    @classmethod
    def from_environ(cls, component: str, environ: Mapping[str, str]) -> "SequenceSettings":
        def path(name: str) -> Path | None:
            return Path(environ[name]) if environ.get(name) else None

        kinds = ("PLUGINS", "STARTUP_SCRIPT", "REQUIREMENTS")

        return cls(
            component=component,
            environment_name=environ.get("MWAA_LOCAL_ENVIRONMENT_NAME", "mwaa-local"),
            airflow_version=environ.get("AIRFLOW_VERSION", "0.0.0"),
            python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
            airflow_home=Path(environ.get("AIRFLOW_HOME", str(paths.AIRFLOW_HOME))),
            bucket=Path(environ.get("MWAA_LOCAL_BUCKET_MOUNT", str(paths.BUCKET_MOUNT))),
            dag_path=environ.get("MWAA_LOCAL_DAG_S3_PATH", "dags"),
            plugins_file=path("MWAA_LOCAL_PLUGINS_FILE"),
            startup_script_file=path("MWAA_LOCAL_STARTUP_SCRIPT_FILE"),
            requirements_file=path("MWAA_LOCAL_REQUIREMENTS_FILE"),
            labels={k.lower(): environ.get(f"MWAA_LOCAL_{k}_FILE_LABEL", "") for k in kinds},
            startup_script_timeout=float(environ.get("MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT", 300)),
            requirements_timeout=float(environ.get("MWAA_LOCAL_REQUIREMENTS_TIMEOUT", 600)),
            option_keys=frozenset(
                k for k in environ.get("MWAA_LOCAL_CONFIG_OPTION_KEYS", "").split(",") if k
            ),
            installer=environ.get("MWAA_LOCAL_INSTALLER") or requirements.DEFAULT_INSTALLER,
        )

    @property
    def requirements_name(self) -> str:
        """The user's name for the requirements file (RequirementsS3Path), from its label."""
        label = self.labels.get("requirements", "")
        return label.rpartition("@")[0] or label or "requirements.txt"


@dataclass
class SequenceOutcome:
    env: dict[str, str]
    plugins: dict[str, Any] = field(default_factory=dict)
    startup_script: StartupScriptResult | None = None
    requirements: dict[str, Any] = field(default_factory=dict)
    fatal: str | None = None


def _log(message: str) -> None:
    print(f"[mwaa-local] {message}", file=sys.stderr, flush=True)


def _timed(label: str):
    started = time.monotonic()
    return lambda: _log(f"{label} took {time.monotonic() - started:.2f} s")


def open_stream(
    settings: SequenceSettings, streams_root: Path | None, name: str
) -> log_streams.Stream:
    """The component's CloudWatch-shaped stream `name`; stderr only when streams_root is None."""
    path = None
    if streams_root is not None:
        path = log_streams.stream_path(
            streams_root, settings.environment_name, settings.component, name
        )
    return log_streams.Stream(path)


def install_plugins(settings: SequenceSettings) -> dict[str, Any]:
    """Unpack the applied plugins.zip into $AIRFLOW_HOME/plugins (mwaa-behaviour.md 2.5)."""
    source = settings.plugins_file
    if source is None:
        return {"ok": True, "source": None}
    with tempfile.TemporaryDirectory(prefix="mwaa-local-plugins-") as tmp:
        copy = copy_applied(source, Path(tmp) / "plugins.zip")
        result = plugins.unpack_plugins(copy, settings.airflow_home / "plugins")
    for warning in result.warnings:
        _log(f"WARNING plugins: {warning}")
    return {"ok": True, "source": settings.labels["plugins"], "warnings": list(result.warnings)}


def source_startup_script(
    settings: SequenceSettings, env: dict[str, str], streams_root: Path | None
) -> StartupScriptResult:
    """Copy the bucket's startup script to $AIRFLOW_HOME/startup/startup.sh (where MWAA puts it)
    and source it there."""
    script = settings.airflow_home / "startup" / "startup.sh"
    source = settings.startup_script_file
    if source is None:
        script.unlink(missing_ok=True)
        return StartupScriptResult(path=str(script))
    copy_applied(source, script)
    stream = open_stream(settings, streams_root, log_streams.STARTUP_SCRIPT)
    try:
        result = run_startup_script(
            script,
            env,
            settings.airflow_version,
            option_keys=settings.option_keys,
            timeout=settings.startup_script_timeout,
            on_line=stream.info,
            on_warning=stream.warning,
        )
        (stream.error if result.fatal else stream.info)(result.summary())
    finally:
        stream.close()
    return result


def install_requirements(
    settings: SequenceSettings, env: dict[str, str], streams_root: Path | None
) -> dict[str, Any]:
    """Install requirements as MWAA does, skipping an install whose inputs are unchanged."""
    source = settings.requirements_file
    if source is None:
        return {"ok": True, "ran": False, "path": None}
    # Where MWAA puts it (mwaa-behaviour.md 2.1): relative -r/-c/-f paths resolve from there.
    copy = copy_applied(source, settings.airflow_home / "requirements" / "requirements.txt")
    stream = open_stream(settings, streams_root, log_streams.REQUIREMENTS)
    try:
        with tempfile.TemporaryDirectory(prefix="mwaa-local-requirements-") as workdir:
            plan = requirements.plan_install(
                copy,
                env,
                Path(env["AIRFLOW_CONSTRAINTS_FILE"]),
                Path(env["MWAA_ESSENTIAL_CONSTRAINTS_FILE"]),
                Path(workdir),
                settings.airflow_version,
                settings.python_version,
                display_name=settings.requirements_name,
                constraints_dirs=(Path(paths.STAGED_CONSTRAINTS),),
                installer=settings.installer,
            )
            for message in plan.messages:
                level = "WARNING" if message.startswith("WARNING") else "INFO"
                stream.write(message, level)
            comment = plan.constraints_comment
            warning = requirements.comment_note(comment.where) if comment else None
            for note in plan.notes:
                stream.write(f"mwaa-local: {note}", "WARNING" if note == warning else "INFO")
            about = {
                "installer": plan.installer,
                "notes": list(plan.notes),
                "constraints_comment": comment.where if comment else None,
            }
            marker = settings.airflow_home / ".local" / REQUIREMENTS_MARKER
            if marker.is_file() and marker.read_text() == plan.key:
                stream.info("requirements unchanged since the last install here; not reinstalled")
                return {"ok": True, "ran": False, "unchanged": True, "key": plan.key, **about}
            marker.unlink(missing_ok=True)
            result = run_install(
                plan,
                env,
                settings.requirements_timeout,
                on_line=stream.info,
                name=f"{settings.component}_requirements",
            )
            if result.ok:
                marker.write_text(plan.key)
                stream.info(f"requirements installed in {result.duration:.1f} s")
            return {
                "ok": result.ok,
                "ran": True,
                "timed_out": result.timed_out,
                "returncode": result.returncode,
                "duration": round(result.duration, 2),
                "installed": [f"{name}=={version}" for name, version in result.installed],
                "diagnosis": result.diagnosis,
                "added_airflow_constraints": plan.added_airflow_constraints,
                "messages": list(plan.messages),
                "error_tail": [] if result.ok else list(result.output)[-25:],
                "key": plan.key,
                **about,
            }
    finally:
        stream.close()


def missing_objects(settings: SequenceSettings) -> str | None:
    """The applied objects whose files are gone from the version store, named; None if none."""
    files = {
        "plugins": settings.plugins_file,
        "startup_script": settings.startup_script_file,
        "requirements": settings.requirements_file,
    }
    missing = [
        f"{settings.labels.get(kind) or kind} ({path})"
        for kind, path in files.items()
        if path is not None and not applied_exists(path)
    ]
    if not missing:
        return None
    return "the version store has no file for " + ", ".join(missing)


def run_start_sequence(
    settings: SequenceSettings,
    environ: Mapping[str, str],
    streams_root: Path | None = Path(paths.STREAMS_ROOT),
    steps: tuple[str, ...] = ("plugins", "startup_script", "requirements"),
) -> SequenceOutcome:
    """Run MWAA's start sequence; `outcome.env` is what the component starts with."""
    env = dict(environ)
    env["MWAA_AIRFLOW_COMPONENT"] = env.get("MWAA_AIRFLOW_COMPONENT", settings.component)
    outcome = SequenceOutcome(env=env)
    outcome.fatal = missing_objects(settings)
    if outcome.fatal:
        return outcome
    if "plugins" in steps:
        done = _timed("plugins")
        try:
            outcome.plugins = install_plugins(settings)
        except MwaaLocalError as e:
            outcome.plugins = {"ok": False, "error": e.message}
            outcome.fatal = f"plugins.zip: {e.message}"
            log_streams.report_phase("plugins", settings.component, outcome.plugins)
            return outcome
        done()
        log_streams.report_phase("plugins", settings.component, outcome.plugins)
    if "startup_script" in steps:
        done = _timed("startup script")
        result = source_startup_script(settings, env, streams_root)
        done()
        outcome.startup_script = result
        log_streams.report_phase("startup_script", settings.component, startup_report(result))
        if result.fatal:
            outcome.fatal = result.summary()
            return outcome
        env.update(result.exported)
    if "requirements" in steps:
        done = _timed("requirements")
        outcome.requirements = install_requirements(settings, env, streams_root)
        done()
        log_streams.report_phase("requirements", settings.component, outcome.requirements)
    return outcome


def startup_report(result: StartupScriptResult) -> dict[str, Any]:
    return {
        "ok": not result.fatal,
        "ran": result.ran,
        "path": result.path,
        "exit_status": result.exit_status,
        "timed_out": result.timed_out,
        "duration": round(result.duration, 3),
        "exported": sorted(result.exported),
        "restored": result.restored,
        "overridden_by_options": result.overridden_by_options,
        "crlf": result.crlf,
        "ended_by_exec": result.ended_by_exec,
        "environment_lost": result.environment_lost,
        "summary": result.summary(),
    }
