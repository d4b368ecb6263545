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

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa import plugins
from mwaa_local.mwaa.constraints import essential_constraints
from mwaa_local.runtime.image import airflow_packages
from mwaa_local.spec import versions
from mwaa_local.spec.settings import Environment

OUTPUT_DIR_NAME = "mwaa-package"
PLUGINS_ZIP = "plugins.zip"
REQUIREMENTS_TXT = "requirements.txt"
# mwaa-behaviour.md 2.2: the two lines that make MWAA's pip install from plugins.zip's wheels.
OFFLINE_HEADER = (f"--find-links {paths.PLUGINS_DIR}", "--no-index")

# MWAA runs on x86_64 Amazon Linux 2023 for Airflow >= 2.7 (mwaa-behaviour.md 2.1), whose glibc
# is 2.34: manylinux wheels up to manylinux_2_34 install there, newer ones do not.
GLIBC = (2, 34)
UV_PLATFORM = f"x86_64-manylinux_{GLIBC[0]}_{GLIBC[1]}"
PIP_PLATFORMS = (
    "manylinux2014_x86_64",  # pip adds manylinux2010 and manylinux1 to this one itself
    *(f"manylinux_2_{minor}_x86_64" for minor in range(17, GLIBC[1] + 1)),
    "linux_x86_64",
    "any",
)
PLATFORM_LABEL = f"Linux x86_64 (manylinux up to glibc {GLIBC[0]}.{GLIBC[1]})"
DOWNLOAD_JOBS = 4
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
CANNOT_INSTALL = re.compile(r"Cannot install (.+?) because these package versions have conflicting")
CONSTRAINT_CAUSE = re.compile(r"The user requested \(constraint\) (\S+)")
NAME_AT_START = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
CONSTRAINT_LINE = re.compile(r"^\s*(?:-c|--constraint)(?:\s*=\s*|\s+)(?P<value>\S.*?)\s*$")
INCLUDE_LINE = re.compile(r"^\s*(?:-r|--requirement)(?:\s*=\s*|\s+)(?P<value>\S.*?)\s*$")
FIND_LINKS_LINE = re.compile(r"^\s*(?:-f|--find-links)(?:\s*=\s*|\s+)(?P<value>\S.*?)\s*$")
OFFICIAL_CONSTRAINTS = re.compile(r"constraints-([0-9][^/]*)/constraints-([0-9.]+)\.txt$")


def canonical_name(name: str) -> str:
    """PEP 503 normalised project name: `Flask_AppBuilder` -> `flask-appbuilder`."""
    return re.sub(r"[-_.]+", "-", name).lower()


# --- what is resolved and downloaded ------------------------------------------------------------


@dataclass(frozen=True)
class Pin:
    """One resolved package: `name==version`, or a direct reference (`name @ url`)."""

    name: str
    version: str | None
    requirement: str

    @property
    def key(self) -> str:
        return canonical_name(self.name)

    def __str__(self) -> str:
        return self.requirement


@dataclass
class Resolution:
    pins: list[Pin] = field(default_factory=list)
    # Requirements for which no wheel exists (a resolver that only sees wheels reports them here).
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# resolve(requirements file, constraint files, MWAA's Python) -> Resolution
Resolver = Callable[[Path, Sequence[Path], str], Resolution]
# download(pin, destination folder, MWAA's Python) -> the wheel, or None when none fits MWAA
Downloader = Callable[[Pin, Path, str], Path | None]


@dataclass(frozen=True)
class PackagedWheel:
    name: str
    version: str | None
    wheel: str
    source: str  # "index" (downloaded) or "plugins" (already in the project's plugins)


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


# --- wheel tags ---------------------------------------------------------------------------------


def wheel_name_version(filename: str) -> tuple[str, str] | None:
    parts = filename[: -len(".whl")].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        return None
    return canonical_name(parts[0]), parts[1]


def _platform_fits(tag: str) -> bool:
    if tag in ("any", "linux_x86_64", "manylinux1_x86_64", "manylinux2010_x86_64"):
        return True
    if tag == "manylinux2014_x86_64":
        return True
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", tag)
    return bool(match) and (int(match[1]), int(match[2])) <= GLIBC


def wheel_fits_mwaa(filename: str, python: str) -> bool:
    """Whether MWAA's pip (x86_64 Linux, CPython `python`) can install this wheel."""
    parts = filename[: -len(".whl")].split("-") if filename.endswith(".whl") else []
    if len(parts) not in (5, 6):
        return False
    major, minor = (int(p) for p in python.split(".")[:2])
    cp = f"cp{major}{minor}"
    generic = {f"py{major}", f"py{major}{minor}", cp}
    py_tags, abi_tags, plat_tags = (t.split(".") for t in parts[-3:])
    for py_tag, abi, plat in product(py_tags, abi_tags, plat_tags):
        if not _platform_fits(plat):
            continue
        if abi == "none" and py_tag in generic:
            return True
        if abi == cp and py_tag == cp:
            return True
        stable = re.fullmatch(rf"cp{major}(\d+)", py_tag)
        if abi == "abi3" and stable and int(stable[1]) <= minor:
            return True
    return False


# --- running pip and uv -------------------------------------------------------------------------


def _run(cmd: Sequence[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
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


def _tail(text: str, lines: int = 15) -> str:
    kept = [line for line in text.strip().splitlines() if "is ignored: it is neither" not in line]
    return "\n".join(kept[-lines:])


def _network_error(tool: str, output: str) -> MwaaLocalError | None:
    if not any(sign in output for sign in NETWORK_SIGNS):
        return None
    return MwaaLocalError(
        f"{tool} could not reach the package index:\n{_tail(output, 8)}",
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


def _parse_pins(text: str) -> list[Pin]:
    pins = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        if " @ " in line:
            name = line.split(" @ ", 1)[0].strip()
            pins.append(Pin(name.split("[")[0], None, line))
        elif "==" in line:
            name, version = (p.strip() for p in line.split("==", 1))
            version = version.split(";")[0].strip()
            name = name.split("[")[0]
            pins.append(Pin(name, version, f"{name}=={version}"))
    return pins


def uv_resolver(uv: Sequence[str], ca_bundle: Path | None = None) -> Resolver:
    """Resolve with `uv pip compile` for MWAA's Python and platform (every package, sdists too)."""

    def resolve(requirements: Path, constraints: Sequence[Path], python: str) -> Resolution:
        cmd = [*uv, "pip", "compile", str(requirements)]
        for path in constraints:
            cmd += ["--constraint", str(path)]
        cmd += ["--python-version", python, "--python-platform", UV_PLATFORM]
        cmd += ["--no-header", "--no-annotate", "--quiet", "--color", "never"]
        env = dict(os.environ)
        if ca_bundle:
            env["SSL_CERT_FILE"] = str(ca_bundle)
        done = _run(cmd, env)
        if done.returncode != 0:
            output = done.stderr + done.stdout
            raise _network_error("uv", output) or _resolution_error(output, python)
        return Resolution(_parse_pins(done.stdout))

    resolve.tool = "uv"  # type: ignore[attr-defined]
    return resolve


def _resolution_error(output: str, python: str) -> MwaaLocalError:
    return MwaaLocalError(
        f"The requirements cannot be resolved for MWAA (Python {python}, {PLATFORM_LABEL}) under "
        f"Airflow's constraints and MWAA's essential pins:\n{_tail(output)}",
        hint="A pin conflicts with the constraints MWAA installs with (mwaa-behaviour.md 9 row 8): "
        "loosen or drop it; MWAA would fail the same way.",
    )


def _pip_target_flags(python: str) -> list[str]:
    flags = ["--only-binary=:all:"]
    for platform in PIP_PLATFORMS:
        flags += ["--platform", platform]
    return flags + ["--python-version", python, "--implementation", "cp"]


def pip_resolver(pip: Sequence[str], ca_bundle: Path | None = None) -> Resolver:
    """Resolve with pip alone (no uv): `pip install --dry-run --report` for MWAA's platform.

    pip resolves for another platform only from wheels, and stops at the first package without
    one. Such a package, if it is a top-level requirement, is set aside and the rest resolved
    again, so all top-level ones are listed; one needed by another package ends the search.
    """
    probe = pip_downloader(pip, ca_bundle)

    def resolve(requirements: Path, constraints: Sequence[Path], python: str) -> Resolution:
        lines = requirements.read_text().splitlines()
        missing: list[str] = []
        with tempfile.TemporaryDirectory(prefix="mwaa-local-pip-") as tmp:
            while any(_line_name(line) for line in lines):
                req = Path(tmp) / "requirements.txt"
                req.write_text("\n".join(lines) + "\n")
                report = Path(tmp) / "report.json"
                cmd = [*pip, "install", "--dry-run", "--ignore-installed", "--progress-bar", "off"]
                cmd += ["--report", str(report), "--target", str(Path(tmp) / "target")]
                cmd += _pip_target_flags(python) + ["-r", str(req)]
                for path in constraints:
                    cmd += ["-c", str(path)]
                if ca_bundle:
                    cmd += ["--cert", str(ca_bundle)]
                done = _run(cmd)
                if done.returncode == 0:
                    return Resolution(_report_pins(report), missing)
                output = done.stderr + done.stdout
                network = _network_error("pip", output)
                if network:
                    raise network
                without = _without_wheels(output, Path(tmp) / "probe", python, probe)
                if not without:
                    raise _resolution_error(output, python)
                missing += without
                keys = {canonical_name(NAME_AT_START.match(spec)[1]) for spec in without}
                remaining = [line for line in lines if _line_name(line) not in keys]
                if remaining == lines:
                    note = (
                        f"pip stopped at {', '.join(without)}, which another package needs; "
                        "packages after it were not checked. With uv installed (pip install uv), "
                        "mwaa-local lists every package without a wheel at once."
                    )
                    return Resolution([], missing, [note])
                lines = remaining
        return Resolution([], missing)

    resolve.tool = "pip"  # type: ignore[attr-defined]
    return resolve


def _without_wheels(output: str, probe_dir: Path, python: str, probe: Downloader) -> list[str]:
    """The requirements pip failed on for want of a wheel for MWAA's platform.

    pip says "No matching distribution found for X"; or, when a constraint pins X, "Cannot install
    Y because these package versions have conflicting dependencies" with "The user requested
    (constraint) X==1" among the causes. That is also how a real conflict reads, so each package
    named there is checked with a download.
    """
    found = NO_DISTRIBUTION.search(output)
    if found:
        return [found[1]]
    conflict = CANNOT_INSTALL.search(output)
    if not conflict:
        return []
    specs = CONSTRAINT_CAUSE.findall(output) + _split_specs(conflict[1])
    unique = {canonical_name(NAME_AT_START.match(spec)[1]): spec for spec in reversed(specs)}
    without = []
    for index, spec in enumerate(reversed(unique.values())):
        name = NAME_AT_START.match(spec)[1]
        version = spec.split("==", 1)[1] if "==" in spec else None
        if probe(Pin(name, version, spec), probe_dir / str(index), python) is None:
            without.append(spec)
    return without


def _split_specs(text: str) -> list[str]:
    """`a==1, b[x,y]==2 and c` -> ['a==1', 'b[x,y]==2', 'c'] (commas inside extras kept)."""
    specs, current, depth = [], "", 0
    for char in text.replace(" and ", ", "):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            specs.append(current.strip())
            current = ""
        else:
            current += char
    specs.append(current.strip())
    return [spec for spec in specs if NAME_AT_START.match(spec)]


def _line_name(line: str) -> str | None:
    stripped = line.split("#", 1)[0].strip()
    if not stripped or stripped.startswith("-"):
        return None
    match = NAME_AT_START.match(stripped)
    return canonical_name(match[1]) if match else None


def _report_pins(report: Path) -> list[Pin]:
    data = json.loads(report.read_text())
    pins = []
    for item in data.get("install", []):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        pins.append(Pin(name, version, f"{name}=={version}"))
    return pins


def pip_downloader(pip: Sequence[str], ca_bundle: Path | None = None) -> Downloader:
    """`pip download --no-deps --only-binary=:all:` of one pin for MWAA's platform and Python."""

    def download(pin: Pin, dest: Path, python: str) -> Path | None:
        dest.mkdir(parents=True, exist_ok=True)
        cmd = [*pip, "download", "--no-deps", "--quiet", *_pip_target_flags(python)]
        cmd += ["--dest", str(dest), pin.requirement]
        if ca_bundle:
            cmd += ["--cert", str(ca_bundle)]
        done = _run(cmd)
        output = done.stderr + done.stdout
        if done.returncode == 0:
            wheels = sorted(dest.glob("*.whl"))
            named = [w for w in wheels if (wheel_name_version(w.name) or ("",))[0] == pin.key]
            return (named or wheels or [None])[0]
        network = _network_error("pip", output)
        if network:
            raise network
        if NO_DISTRIBUTION.search(output) or "Could not find a version" in output:
            return None
        raise MwaaLocalError(f"pip download {pin} failed:\n{_tail(output)}")

    return download


# --- the user's requirements file ---------------------------------------------------------------


def _unquote(value: str) -> str:
    try:
        parts = shlex.split(value)
    except ValueError:
        return value
    return parts[0] if parts else value


def _is_url(value: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*://", value) is not None


def is_offline_header(line: str) -> bool:
    """`--no-index`, or --find-links to MWAA's plugins folder (mwaa-behaviour.md 2.2)."""
    stripped = line.strip()
    if stripped == "--no-index":
        return True
    match = FIND_LINKS_LINE.match(stripped)
    return bool(match) and _unquote(match["value"]).rstrip("/") == str(paths.PLUGINS_DIR)


def render_requirements(user_lines: Iterable[str]) -> str:
    """MWAA's offline requirements.txt: the two --find-links/--no-index lines, then the user's
    lines as they are, constraint lines included (mwaa-behaviour.md 2.2; MWAA adds its own
    constraints when there is none, 2.1)."""
    kept = [line.rstrip() for line in user_lines if not is_offline_header(line)]
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join([*OFFLINE_HEADER, *kept]) + "\n"


@dataclass
class _Prepared:
    """The user's requirements rewritten for resolving on this host."""

    lines: list[str]
    constraints: list[Path]
    warnings: list[str]


def _prepare(
    user_lines: list[str], base_dir: Path, official: Path, essential: Path, airflow: str
) -> _Prepared:
    lines, user_constraints, warnings = [], [], []
    for line in user_lines:
        if is_offline_header(line):
            continue
        constraint = CONSTRAINT_LINE.match(line)
        if constraint:
            value = _unquote(constraint["value"])
            user_constraints.append(_constraint_file(value, base_dir, official, airflow, warnings))
            continue
        include = INCLUDE_LINE.match(line)
        if include:
            value = _unquote(include["value"])
            path = value if _is_url(value) else str((base_dir / value).resolve())
            lines.append(f"-r {path}")
            warnings.append(
                f"requirements.txt includes {value} (-r); MWAA receives requirements.txt alone, "
                "so put those lines in it."
            )
            continue
        lines.append(line)
    # mwaa-behaviour.md 2.1: MWAA adds the official constraints only when the file has none, and
    # always installs under its essential pins.
    constraints = [essential, *(user_constraints or [official])]
    return _Prepared(lines, constraints, warnings)


def _constraint_file(
    value: str, base_dir: Path, official: Path, airflow: str, warnings: list[str]
) -> Path:
    match = OFFICIAL_CONSTRAINTS.search(value)
    if _is_url(value):
        warnings.append(
            f"requirements.txt keeps the constraint {value}; MWAA downloads it while installing, "
            "so an environment without internet access cannot. Remove the line to have MWAA use "
            "its own copy of the same constraints (mwaa-behaviour.md 2.1, 2.2)."
        )
        if match and match[1] != airflow:
            warnings.append(
                f"The constraint {value} is for Airflow {match[1]}, but the environment runs "
                f"Airflow {airflow}; resolving against Airflow {airflow}'s constraints."
            )
        if match:
            return official
        raise MwaaLocalError(
            f"requirements.txt constrains against {value}, which mwaa-local cannot read.",
            hint="Use the official constraints URL for the environment's Airflow version, or a "
            "constraints file next to requirements.txt.",
        )
    path = Path(value) if Path(value).is_absolute() else base_dir / value
    if not path.is_file():
        raise MwaaLocalError(
            f"requirements.txt constrains against {value}, which does not exist ({path}).",
            hint="Fix the --constraint line; MWAA would fail to install as well.",
        )
    warnings.append(
        f"requirements.txt constrains against the file {value}; MWAA receives requirements.txt "
        "alone, so the line fails there. Inline the pins or remove the line."
    )
    return path


# --- the project's plugins ----------------------------------------------------------------------


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
class _Plugins:
    members: list[plugins.ZipMember]
    root_wheels: dict[str, plugins.ZipMember]
    warnings: list[str]


def _read_plugins(source: Path | None, exclude: Iterable[Path], stack: ExitStack) -> _Plugins:
    if source is None:
        return _Plugins([], {}, [])
    if source.is_dir():
        members = plugins.folder_members(source, exclude)
        warnings, _ = plugins.diagnose_layout(m.name for m in members)
    else:
        warnings = plugins.check_plugins_zip(source).warnings
        archive = stack.enter_context(zipfile.ZipFile(source))
        members = plugins.zip_members(archive)
    wheels = {m.name: m for m in members if "/" not in m.name and m.name.endswith(".whl")}
    return _Plugins(members, wheels, warnings)


# --- what to leave out, and the wheels -----------------------------------------------------------


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
        name = _line_name(line)
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


def _matching_wheel(pin: Pin, wheels: dict[str, Any], python: str) -> str | None:
    for name in sorted(wheels):
        parsed = wheel_name_version(name)
        matches = parsed and parsed[0] == pin.key and parsed[1] == pin.version
        if matches and wheel_fits_mwaa(name, python):
            return name
    return None


def _unfit_wheel_warnings(wheels: Iterable[str], python: str) -> list[str]:
    return [
        f"plugins wheel {name} is not for MWAA's platform ({PLATFORM_LABEL}, CPython {python}); "
        "pip on MWAA will not use it (mwaa-behaviour.md 9 row 10)."
        for name in sorted(wheels)
        if not wheel_fits_mwaa(name, python)
    ]


def _collect_wheels(
    pins: list[Pin],
    project_wheels: dict[str, Any],
    download: Downloader,
    wheels_dir: Path,
    python: str,
    say: Callable[[str], None],
) -> tuple[list[PackagedWheel], list[str]]:
    """(a wheel per pin, pins with no wheel for MWAA); every pin is tried, none stops the rest."""
    wheels: list[PackagedWheel] = []
    to_download: list[Pin] = []
    for pin in pins:
        found = _matching_wheel(pin, project_wheels, python)
        if found:
            wheels.append(PackagedWheel(pin.name, pin.version, found, "plugins"))
        else:
            to_download.append(pin)
    wheels_dir.mkdir(parents=True, exist_ok=True)

    def fetch(index: int, pin: Pin) -> tuple[Pin, Path | None]:
        say(f"Downloading {pin}")
        return pin, download(pin, wheels_dir / f"{index:05d}", python)

    missing: list[str] = []
    with ThreadPoolExecutor(max_workers=DOWNLOAD_JOBS) as pool:
        futures = [pool.submit(fetch, i, pin) for i, pin in enumerate(to_download)]
        for future in futures:
            pin, path = future.result()
            if path is None or not wheel_fits_mwaa(path.name, python):
                missing.append(pin.requirement)
                continue
            final = wheels_dir / path.name
            if not final.exists():
                shutil.move(path, final)
            wheels.append(PackagedWheel(pin.name, pin.version, path.name, "index"))
    return wheels, missing


# --- the command --------------------------------------------------------------------------------

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
        source = _read_plugins(plugins_source, targets, stack)
        result.warnings += source.warnings
        result.warnings += _unfit_wheel_warnings(source.root_wheels, python)

        official = tmp / "constraints.txt"
        official.write_text(constraints_text)
        essential = tmp / "mwaa-essential-constraints.txt"
        essential.write_text(essential_constraints(version))
        prepared = _prepare(user_lines, requirements.parent, official, essential, version.airflow)
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
        wheels, missing = _collect_wheels(
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
