"""The user's requirements.txt as package-requirements reads and writes it: rewritten for resolving
on this host (constraints, includes), and rendered as MWAA's offline requirements.txt
(mwaa-behaviour.md 2.1, 2.2)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mwaa_local.container import paths
from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.requirements import FileOption, file_option

# mwaa-behaviour.md 2.2: the two lines that make MWAA's pip install from plugins.zip's wheels.
OFFLINE_HEADER = (f"--find-links {paths.PLUGINS_DIR}", "--no-index")
OFFICIAL_CONSTRAINTS = re.compile(r"constraints-([0-9][^/]*)/constraints-([0-9.]+)\.txt$")


def is_offline_header(line: str) -> bool:
    """`--no-index`, or --find-links to MWAA's plugins folder (mwaa-behaviour.md 2.2)."""
    stripped = line.strip()
    if stripped == "--no-index":
        return True
    option = file_option(stripped)
    return (
        bool(option) and option.kind == "-f" and option.value.rstrip("/") == str(paths.PLUGINS_DIR)
    )


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
class Prepared:
    """The user's requirements rewritten for resolving on this host."""

    lines: list[str]
    constraints: list[Path]
    warnings: list[str]


def prepare(
    user_lines: list[str], base_dir: Path, official: Path, essential: Path, airflow: str
) -> Prepared:
    lines, user_constraints, warnings = [], [], []
    for line in user_lines:
        if is_offline_header(line):
            continue
        option = file_option(line)
        if option and option.kind == "-c":
            user_constraints.append(_constraint_file(option, base_dir, official, airflow, warnings))
            continue
        if option and option.kind == "-r":
            value = option.value
            path = value if option.is_url else str((base_dir / value).resolve())
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
    return Prepared(lines, constraints, warnings)


def _constraint_file(
    option: FileOption, base_dir: Path, official: Path, airflow: str, warnings: list[str]
) -> Path:
    value = option.value
    match = OFFICIAL_CONSTRAINTS.search(value)
    if option.is_url:
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
