"""Running pip and uv for package-requirements: one pinned package, the tools' output read for
network failures, and one wheel downloaded for MWAA's platform."""

import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from mwaa_local.errors import MwaaLocalError
from mwaa_local.package_requirements.wheels import pip_target_flags, wheel_name_version

PIP_TIMEOUT_SECONDS = 900
# Signs in pip's or uv's output that the index could not be reached at all.
NETWORK_SIGNS = (
    "NewConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "ProxyError",
    "SSLError",
    "CERTIFICATE_VERIFY_FAILED",
    "Max retries exceeded",
    "Could not fetch URL",
    "Temporary failure in name resolution",
    "Name or service not known",
    "dns error",
    "error sending request",
    "invalid peer certificate",
    "UnknownIssuer",
)
NO_DISTRIBUTION = re.compile(r"No matching distribution found for (\S+)")


@dataclass(frozen=True)
class Pin:
    """One resolved package: `name==version`, or a direct reference (`name @ url`)."""

    name: str
    version: str | None
    requirement: str

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    def __str__(self) -> str:
        return self.requirement


# download(pin, destination folder, MWAA's Python) -> the wheel, or None when none fits MWAA
Downloader = Callable[[Pin, Path, str], Path | None]


def run_tool(cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_SECONDS,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError as exc:
        raise MwaaLocalError(f"Cannot run {cmd[0]}: {exc.strerror}.") from exc
    except subprocess.TimeoutExpired as exc:
        raise MwaaLocalError(
            f"{' '.join(cmd[:4])} ... did not finish within {PIP_TIMEOUT_SECONDS} s.",
            hint="Check the network path to the package index (proxy, PIP_INDEX_URL).",
        ) from exc


def tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if "is ignored: it is neither" not in line]
    return "\n".join(kept[-lines:])


def network_error(tool: str, output: str) -> MwaaLocalError | None:
    if not any(sign in output for sign in NETWORK_SIGNS):
        return None
    return MwaaLocalError(
        f"{tool} could not reach the package index:\n{tail(output, 8)}",
        hint="Check the network and proxy; behind a TLS-inspecting proxy set SSL_CERT_FILE and "
        "PIP_CERT (or Local.CaBundle) to its CA bundle; for a private index set PIP_INDEX_URL.",
    )


def find_uv() -> list[str] | None:
    """The uv command: on PATH, else from the `uv` Python package; None when neither."""
    found = shutil.which("uv")
    if found:
        return [found]
    try:
        import uv  # type: ignore[import-not-found]

        return [uv.find_uv_bin()]
    except (ImportError, FileNotFoundError, AttributeError):
        return None


def pip_downloader(pip: Sequence[str], ca_bundle: Path | None = None) -> Downloader:
    """`pip download --no-deps --only-binary=:all:` of one pin for MWAA's platform and Python."""

    def download(pin: Pin, dest: Path, python: str) -> Path | None:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [*pip, "download", "--no-deps", "--quiet", *pip_target_flags(python)]
        cmd += ["--dest", str(dest), pin.requirement]
        if ca_bundle:
            cmd += ["--cert", str(ca_bundle)]
        done = run_tool(cmd)
        output = done.stderr + done.stdout
        if done.returncode == 0:
            wheels = sorted(dest.glob("*.whl"))
            named = [w for w in wheels if (wheel_name_version(w.name) or ("",))[0] == pin.key]
            return (named or wheels or [None])[0]
        network = network_error("pip", output)
        if network:
            raise network
        if NO_DISTRIBUTION.search(output) or "Could not find a version" in output:
            return None
        raise MwaaLocalError(f"pip download {pin} failed:\n{tail(output)}")

    return download
