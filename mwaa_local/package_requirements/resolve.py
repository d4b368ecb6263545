"""Resolving the user's requirements for MWAA's platform and Python: with `uv pip compile` when
uv is there (every package at once, sdists too), else with pip's dry-run report, which only sees
wheels and stops at the first package without one."""

import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from mwaa_local.errors import MwaaLocalError
from mwaa_local.package_requirements.tools import (
    NO_DISTRIBUTION,
    Downloader,
    Pin,
    network_error,
    pip_downloader,
    run_tool,
    tail,
)
from mwaa_local.package_requirements.wheels import PLATFORM_LABEL, UV_PLATFORM, pip_target_flags

CANNOT_INSTALL = re.compile(r"Cannot install (.+?) because these package versions have conflicting")
CONSTRAINT_CAUSE = re.compile(r"The user requested \(constraint\) (\S+)")
NAME_AT_START = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass
class Resolution:
    pins: list[Pin] = field(default_factory=list)
    # Requirements for which no wheel exists (a resolver that only sees wheels reports them here).
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# resolve(requirements file, constraint files, MWAA's Python) -> Resolution
Resolver = Callable[[Path, Sequence[Path], str], Resolution]


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
        done = run_tool(cmd, env)
        if done.returncode != 0:
            output = done.stderr + done.stdout
            raise network_error("uv", output) or _resolution_error(output, python)
        return Resolution(_parse_pins(done.stdout))

    resolve.tool = "uv"  # type: ignore[attr-defined]
    return resolve


def _resolution_error(output: str, python: str) -> MwaaLocalError:
    return MwaaLocalError(
        f"The requirements cannot be resolved for MWAA (Python {python}, {PLATFORM_LABEL}) under "
        f"Airflow's constraints and MWAA's essential pins:\n{tail(output)}",
        hint="A pin conflicts with the constraints MWAA installs with (mwaa-behaviour.md 9 row 8): "
        "loosen or drop it; MWAA would fail the same way.",
    )


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
            while any(line_name(line) for line in lines):
                req = Path(tmp) / "requirements.txt"
                req.write_text("\n".join(lines) + "\n")
                report = Path(tmp) / "report.json"
                cmd = [*pip, "install", "--dry-run", "--ignore-installed", "--progress-bar", "off"]
                cmd += ["--report", str(report), "--target", str(Path(tmp) / "target")]
                cmd += pip_target_flags(python) + ["-r", str(req)]
                for path in constraints:
                    cmd += ["-c", str(path)]
                if ca_bundle:
                    cmd += ["--cert", str(ca_bundle)]
                done = run_tool(cmd)
                if done.returncode == 0:
                    return Resolution(_report_pins(report), missing)
                output = done.stderr + done.stdout
                network = network_error("pip", output)
                if network:
                    raise network
                without = _without_wheels(output, Path(tmp) / "probe", python, probe)
                if not without:
                    raise _resolution_error(output, python)
                missing += without
                keys = {canonicalize_name(NAME_AT_START.match(spec)[1]) for spec in without}
                remaining = [line for line in lines if line_name(line) not in keys]
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
    unique = {canonicalize_name(NAME_AT_START.match(spec)[1]): spec for spec in reversed(specs)}
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


def line_name(line: str) -> str | None:
    stripped = line.split("#", 1)[0].strip()
    if not stripped or stripped.startswith("-"):
        return None
    match = NAME_AT_START.match(stripped)
    return canonicalize_name(match[1]) if match else None


def _report_pins(report: Path) -> list[Pin]:
    data = json.loads(report.read_text())
    pins = []
    for item in data.get("install", []):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        pins.append(Pin(name, version, f"{name}=={version}"))
    return pins
