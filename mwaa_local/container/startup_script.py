"""Sourcing the startup script in the container, as MWAA does (mwaa-behaviour.md 1;
anchor-amazon-mwaa-docker-images.md 3.4-3.5): bash sources it under the wrapper with a hard cap,
then the exported environment is read back and sorted by MWAA's rules
(mwaa_local/mwaa/startup_script.py).
"""

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from mwaa_local.container.processes import run_capped
from mwaa_local.mwaa.startup_script import (
    CRLF_EXPLANATION,
    DEFAULT_TIMEOUT_SECONDS,
    WRAPPER,
    StartupScriptResult,
    exec_warning,
    lost_environment_warning,
    read_env_dump,
    read_status,
    sort_exports,
)


def run_startup_script(
    script: Path,
    environ: Mapping[str, str],
    airflow_version: str,
    option_keys: frozenset[str] = frozenset(),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    on_line: Callable[[str], None] = lambda line: None,
    on_warning: Callable[[str], None] = lambda line: None,
) -> StartupScriptResult:
    """Source `script` with `environ`; report what it exported and which exports were dropped:
    reserved variables (restored) and AirflowConfigurationOptions keys (options win, 1.4)."""
    result = StartupScriptResult(path=str(script), timeout=timeout)
    if not script.is_file():
        return result
    result.ran = True
    result.crlf = b"\r\n" in script.read_bytes()
    if result.crlf:
        on_warning(CRLF_EXPLANATION)
    with tempfile.TemporaryDirectory(prefix="mwaa-local-startup-") as tmp:
        dump, status = Path(tmp) / "env", Path(tmp) / "status"
        # Made here, so a script's `umask 777` cannot make them unreadable to us.
        dump.touch()
        status.touch()
        env = {
            **environ,
            "MWAA_LOCAL_STARTUP_SCRIPT": str(script),
            "MWAA_LOCAL_STARTUP_ENV_DUMP": str(dump),
            "MWAA_LOCAL_STARTUP_STATUS": str(status),
        }
        started = time.monotonic()
        on_line("Executing customer startup script")
        finished = run_capped(["bash", "-c", WRAPPER], env, timeout, on_line)
        result.duration = time.monotonic() - started
        result.timed_out = finished.timed_out
        if result.timed_out:
            return result
        result.exit_status, result.ended_by_exec = read_status(
            status.read_text(), finished.returncode, script.read_text(errors="replace")
        )
        after = read_env_dump(dump)
    if result.ended_by_exec:
        on_warning(exec_warning(result.ended_by_exec))
    if not after:
        result.environment_lost = True
        on_warning(lost_environment_warning(result.exit_status))
        after = dict(environ)
    on_line(f"Finished running startup script. Execution time: {result.duration:.3f}s.")
    sort_exports(result, environ, after, airflow_version, option_keys, on_warning)
    return result
