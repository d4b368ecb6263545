"""Running the requirements install in the container: the uv command MWAA's pip command becomes
(or, with `Local.Installer: pip`, MWAA's pip command itself), streamed to the component's log
under a hard cap, then MWAA's failure message and our diagnosis (mwaa-behaviour.md 2.1-2.4;
anchor-amazon-mwaa-docker-images.md 3.6). The rules (constraints, variables, the plan, the
diagnosis) are in mwaa_local/mwaa/requirements.py.
"""

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mwaa_local.container import paths
from mwaa_local.container.processes import run_capped
from mwaa_local.mwaa.requirements import (
    MWAA_FAILURE_MESSAGE,
    MWAA_TIMEOUT_MESSAGE,
    InstallPlan,
    diagnose,
)

DEFAULT_PYTHON = "python3"
# The host runtime installs into its virtual environment instead of the airflow user's site.
DEFAULT_PREFIX = os.environ.get("MWAA_LOCAL_INSTALL_PREFIX") or str(paths.USER_SITE)
_INSTALLED_RE = re.compile(r"^\s*([+~-])\s+([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")
_PIP_INSTALLED_RE = re.compile(r"^Successfully installed (.+)$")
# pip as MWAA runs it, minus what a container log cannot use: no prompt, no progress bars, no
# version check against PyPI. A Debian system Python is marked externally managed (PEP 668);
# MWAA's own Python is not, so its user-site install is allowed here too.
PIP_ENV = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_NO_INPUT": "1",
    "PIP_PROGRESS_BAR": "off",
    "PIP_BREAK_SYSTEM_PACKAGES": "1",
}


@dataclass
class InstallResult:
    ok: bool
    returncode: int | None  # None on time-out
    timed_out: bool
    duration: float
    output: list[str] = field(default_factory=list)  # uv's lines, merged stdout and stderr
    installed: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    removed: list[tuple[str, str]] = field(default_factory=list)  # replaced versions
    diagnosis: str = ""  # one line
    report: list[str] = field(default_factory=list)  # failure report, MWAA's message first


def install_command(
    plan: InstallPlan, python: str = DEFAULT_PYTHON, prefix: str = DEFAULT_PREFIX
) -> list[str]:
    """The installer's command for `plan`: uv's, or with `Local.Installer: pip` MWAA's."""
    if plan.installer == "pip":
        return pip_command(plan, pip_launcher(python))
    return uv_command(plan, python, prefix)


def pip_command(plan: InstallPlan, pip: list[str]) -> list[str]:
    """MWAA's command, word for word (anchor 3.6 item 6): `pip3 install --constraint
    $MWAA_ESSENTIAL_CONSTRAINTS_FILE -r <file> [-c $AIRFLOW_CONSTRAINTS_FILE]`. Run as the
    airflow user, pip installs into the user site (/usr/local/airflow/.local), as on MWAA."""
    command = [*pip, "install", "--constraint", str(plan.essential_constraints)]
    command += ["-r", str(plan.processed)]
    for path in plan.constraints[1:]:
        command += ["-c", str(path)]
    return command


def pip_launcher(python: str = DEFAULT_PYTHON) -> list[str]:
    """pip for `python`: its own when it has one (MWAA's image, an Amazon Linux base); else the
    pip of the image's tools venv, which has the same Python version, run against `python`
    with pip's `--python` option."""
    try:
        own = subprocess.run([python, "-c", "import pip"], capture_output=True).returncode == 0
    except OSError:
        own = False
    venv_pip = Path(paths.TOOLS_VENV) / "bin" / "pip"
    if own or not venv_pip.exists():
        return [python, "-m", "pip"]
    # pip's --python takes a path, not a command name
    return [str(venv_pip), "--python", shutil.which(python) or python]


def uv_command(
    plan: InstallPlan, python: str = DEFAULT_PYTHON, prefix: str = DEFAULT_PREFIX
) -> list[str]:
    """`uv pip install` into the prefix that holds Airflow (MWAA installs user-level into
    /usr/local/airflow/.local, mwaa-behaviour.md 2.1): uv sees what is installed and only adds
    what is missing. The cache is the caller's choice, through UV_CACHE_DIR in the environment
    (the image sets UV_NO_CACHE=1; unset it or set it to 0 for a cache to be used)."""
    command = [
        "uv",
        "pip",
        "install",
        "--python",
        python,
        "--prefix",
        prefix,
        # pip (what MWAA runs) considers every index for every package; uv's default stops at
        # the first index that has the name (mwaa-behaviour.md 2.2: --extra-index-url setups).
        "--index-strategy",
        "unsafe-best-match",
        "--no-progress",
        "-r",
        str(plan.processed),
    ]
    for path in plan.constraints:
        command += ["--constraint", str(path)]
    return command


def run_install(
    plan: InstallPlan,
    environ: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None],
    *,
    python: str = DEFAULT_PYTHON,
    prefix: str = DEFAULT_PREFIX,
    name: str = "requirements",
) -> InstallResult:
    """Run the install with a hard cap of `timeout` seconds, passing every output line to
    `on_line` (in this thread) and keeping them. On a time-out the whole process group is
    killed. On failure MWAA's message and the diagnosis follow the output, also via `on_line`.

    The caller logs `plan.messages` first; `name` is MWAA's friendly name in the time-out line
    (MWAA uses "<command>_requirements", anchor 3.6 item 8).
    """
    command = install_command(plan, python=python, prefix=prefix)
    start = time.monotonic()
    lines: list[str] = []

    def keep(line: str) -> None:
        lines.append(line)
        on_line(line)

    if plan.installer == "pip":
        environ = {**PIP_ENV, **environ}
    try:
        finished = run_capped(command, environ, timeout, keep)
    except OSError as error:
        keep(f"error: could not run {command[0]}: {error}")
        result = InstallResult(False, 127, False, time.monotonic() - start, lines)
        return _finish(result, plan, timeout, on_line)
    if finished.timed_out:
        on_line(
            MWAA_TIMEOUT_MESSAGE.format(
                name=name,
                pid=finished.pid,
                elapsed=finished.seconds * 1000,
                limit=timeout * 1000,
            )
        )
    result = InstallResult(
        ok=finished.returncode == 0,
        returncode=finished.returncode,
        timed_out=finished.timed_out,
        duration=time.monotonic() - start,
        output=lines,
    )
    return _finish(result, plan, timeout, on_line)


def _finish(
    result: InstallResult, plan: InstallPlan, timeout: float, on_line: Callable[[str], None]
) -> InstallResult:
    for line in result.output:
        match = _INSTALLED_RE.match(line)
        if match:
            entry = (match.group(2), match.group(3))
            (result.removed if match.group(1) == "-" else result.installed).append(entry)
        match = _PIP_INSTALLED_RE.match(line.strip())
        if match:  # pip: "Successfully installed a-1.0 b-c-2.0"
            for item in match.group(1).split():
                name, _, version = item.rpartition("-")
                result.installed.append((name, version))
    if result.ok:
        result.diagnosis = _success_summary(result)
        return result
    result.diagnosis = diagnose("\n".join(result.output), plan, result.timed_out, timeout=timeout)
    result.report = [MWAA_FAILURE_MESSAGE, f"Diagnosis: {result.diagnosis}"]
    for line in result.report:
        on_line(line)
    return result


def _success_summary(result: InstallResult) -> str:
    if not result.installed:
        return "Nothing to install: every requirement is already satisfied."
    count = len(result.installed)
    return f"Installed {count} package{'s' if count != 1 else ''} in {result.duration:.1f}s."
