"""The host runtime's image: a virtual environment with Airflow and MWAA's base providers for one
Airflow version, under the official constraints and MWAA's essential pins, on the Python version
MWAA uses for it, built with uv. One per environment and Airflow version, under the state folder;
uv's cache (shared by every environment and project) makes a rebuild take seconds.
"""

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.constraints import essential_constraints, official_constraints
from mwaa_local.package_requirements.tools import find_uv
from mwaa_local.runtime.image import airflow_packages, find_ca_bundle
from mwaa_local.spec.settings import LocalSettings
from mwaa_local.spec.versions import AirflowVersion

# What a venv was built from, in the venv: a digest of its packages, constraints and Python.
MARKER = ".mwaa-local-venv"
# Bump when the way the venv is built changes, so existing ones are rebuilt.
VENV_FORMAT = "1"
BUILD_TIMEOUT_SECONDS = 1800


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mwaa-local"


def uv_command() -> list[str]:
    uv = find_uv()
    if uv is None:
        raise MwaaLocalError(
            "The host runtime needs uv, which is not installed.",
            hint="Install it: `pip install uv` (mwaa-local's own dependencies include it), or "
            "see https://docs.astral.sh/uv/; or choose another runtime: Local.Runtime: docker | "
            "podman (MWAA_LOCAL_RUNTIME).",
        )
    return uv


def _python_version(python: str) -> str | None:
    try:
        done = subprocess.run(
            [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version_key(path: Path) -> tuple[int, ...]:
    parts = path.name.split(".")
    return tuple(int(p) if p.isdigit() else -1 for p in parts)


def find_python(version: str, uv: list[str] | None = None) -> str | None:
    """An interpreter of Python `version` (e.g. "3.12") on this machine: `python3.12` on PATH
    (when it runs: a pyenv shim may not), pyenv's newest 3.12.x, or one uv manages."""
    candidates = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        found = sorted(pyenv.glob(f"{version}.*"), key=_version_key, reverse=True)
        candidates += [str(p / "bin" / f"python{version}") for p in found]
    for candidate in candidates:
        if Path(candidate).exists() and _python_version(candidate) == version:
            return candidate
    if uv:
        try:
            done = subprocess.run(
                [*uv, "python", "find", "--no-project", version],
                capture_output=True,
                text=True,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        found_path = done.stdout.strip()
        if done.returncode == 0 and found_path and _python_version(found_path) == version:
            return found_path
    return None


@dataclass(frozen=True)
class HostVenv:
    """The virtual environment at `path` for `version`."""

    path: Path
    version: AirflowVersion

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def etc(self) -> Path:
        return self.path / "etc" / "mwaa-local"

    @property
    def constraints_file(self) -> Path:
        return self.etc / "constraints.txt"

    @property
    def essential_constraints_file(self) -> Path:
        return self.etc / "mwaa-essential-constraints.txt"

    @property
    def marker(self) -> Path:
        return self.path / MARKER

    def digest(self, constraints: str) -> str:
        digest = hashlib.sha256(f"format {VENV_FORMAT}\0".encode())
        digest.update(f"python {self.version.python}\0".encode())
        for package in airflow_packages(self.version):
            digest.update(f"package {package}\0".encode())
        digest.update(constraints.encode() + b"\0")
        digest.update(essential_constraints(self.version).encode())
        return digest.hexdigest()[:16]

    def is_current(self, constraints: str) -> bool:
        return (
            self.python.exists()
            and self.marker.is_file()
            and self.marker.read_text().strip() == self.digest(constraints)
        )


def venv_constraints(local: LocalSettings, version: AirflowVersion, cache_dir: Path) -> str:
    """The official constraints for `version` (mirror, cache, or downloaded)."""
    ca_bundle = find_ca_bundle(local.ca_bundle)
    mirror = local.constraints_mirror
    return official_constraints(version, mirror, cache_dir / "constraints", ca_bundle)


def uv_environment(local: LocalSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    ca_bundle = find_ca_bundle(local.ca_bundle)
    if ca_bundle is not None:
        env.setdefault("SSL_CERT_FILE", str(ca_bundle))
    return env


def _run(command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> list[str]:
    """Run `command`, each output line to `on_line`; its lines, or an error with their tail."""
    lines: list[str] = []
    try:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as e:
        raise MwaaLocalError(f"Cannot run {command[0]}: {e.strerror}.") from e
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.rstrip("\n")
        lines.append(line)
        on_line(line)
    code = process.wait(timeout=BUILD_TIMEOUT_SECONDS)
    if code != 0:
        tail = "\n".join(lines[-25:])
        hint = None
        if "certificate" in tail.lower() or "UnknownIssuer" in tail:
            hint = "Downloads failed TLS verification: set SSL_CERT_FILE or Local.CaBundle."
        raise MwaaLocalError(f"`{' '.join(command[:4])} ...` failed ({code}):\n{tail}", hint)
    return lines


def build_venv(
    venv: HostVenv,
    local: LocalSettings,
    cache_dir: Path,
    on_line: Callable[[str], None] = lambda line: None,
) -> float:
    """(Re)build `venv` from scratch; the seconds it took. The marker is written last, so an
    interrupted build is rebuilt next time."""
    started = time.monotonic()
    uv = uv_command()
    version = venv.version
    constraints = venv_constraints(local, version, cache_dir)
    python = find_python(version.python, uv)
    env = uv_environment(local)
    if venv.path.exists():
        shutil.rmtree(venv.path)
    on_line(f"Step 1/2 : uv venv --python {python or version.python}")
    try:
        # Without an interpreter of MWAA's version here, uv installs one (python-build-standalone).
        _run([*uv, "venv", "--no-project", "--python", python or version.python, str(venv.path)],
             env, on_line)  # fmt: skip
    except MwaaLocalError as e:
        raise MwaaLocalError(
            f"No Python {version.python} (MWAA's for Airflow {version.airflow}) for the host "
            f"runtime: {e.message}",
            hint=f"Install it (`uv python install {version.python}`, `pyenv install "
            f"{version.python}`, your package manager's python{version.python}), or choose "
            "another runtime: Local.Runtime: docker | podman (MWAA_LOCAL_RUNTIME).",
        ) from e
    venv.etc.mkdir(parents=True, exist_ok=True)
    venv.constraints_file.write_text(constraints)
    venv.essential_constraints_file.write_text(essential_constraints(version))
    on_line(f"Step 2/2 : uv pip install apache-airflow=={version.airflow} with MWAA's constraints")
    _run(
        [*uv, "pip", "install", "--python", str(venv.python), "--no-progress",
         "--constraint", str(venv.constraints_file),
         "--constraint", str(venv.essential_constraints_file),
         *airflow_packages(version)],
        env,
        on_line,
    )  # fmt: skip
    venv.marker.write_text(venv.digest(constraints) + "\n")
    return time.monotonic() - started
