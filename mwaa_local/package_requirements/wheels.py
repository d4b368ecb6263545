"""Which wheels MWAA's pip can install: x86_64 Linux (Amazon Linux 2023's glibc) and MWAA's
CPython, decided with `packaging`'s own tag rules, the ones pip uses (mwaa-behaviour.md 2.1,
9 row 10)."""

from collections.abc import Iterable
from functools import cache
from typing import Any

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

# MWAA runs on x86_64 Amazon Linux 2023 for Airflow >= 2.7 (mwaa-behaviour.md 2.1), whose glibc
# is 2.34: manylinux wheels up to manylinux_2_34 install there, newer ones do not.
GLIBC = (2, 34)
UV_PLATFORM = f"x86_64-manylinux_{GLIBC[0]}_{GLIBC[1]}"
# The platform tags pip accepts on such a machine, most specific first; the legacy manylinux
# names are aliases of manylinux_2_5 (manylinux1), _2_12 (2010) and _2_17 (2014).
LINUX_PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(GLIBC[1], 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
)
PIP_PLATFORMS = (
    "manylinux2014_x86_64",  # pip adds manylinux2010 and manylinux1 to this one itself
    *(f"manylinux_2_{minor}_x86_64" for minor in range(17, GLIBC[1] + 1)),
    "linux_x86_64",
    "any",
)
PLATFORM_LABEL = f"Linux x86_64 (manylinux up to glibc {GLIBC[0]}.{GLIBC[1]})"


def wheel_name_version(filename: str) -> tuple[str, str] | None:
    """(normalised project name, version) of a wheel file name; None for anything else."""
    try:
        name, version, _, _ = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    return name, str(version)


@cache
def mwaa_tags(python: str) -> frozenset[Tag]:
    """Every tag CPython `python` on MWAA's x86_64 Linux accepts."""
    version = tuple(int(p) for p in python.split(".")[:2])
    return frozenset(
        [
            *cpython_tags(version, platforms=LINUX_PLATFORMS),
            *compatible_tags(version, f"cp{version[0]}{version[1]}", LINUX_PLATFORMS),
        ]
    )


def wheel_fits_mwaa(filename: str, python: str) -> bool:
    """Whether MWAA's pip (x86_64 Linux, CPython `python`) can install this wheel."""
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return False
    return not tags.isdisjoint(mwaa_tags(python))


def pip_target_flags(python: str) -> list[str]:
    """pip's options to resolve and download for MWAA's platform and Python, wheels only."""
    flags = ["--only-binary=:all:"]
    for platform in PIP_PLATFORMS:
        flags += ["--platform", platform]
    return flags + ["--python-version", python, "--implementation", "cp"]


def matching_wheel(
    key: str, version: str | None, wheels: dict[str, Any], python: str
) -> str | None:
    """The wheel among `wheels` (file names) of project `key` at `version` that fits MWAA."""
    for name in sorted(wheels):
        parsed = wheel_name_version(name)
        matches = parsed and parsed[0] == key and parsed[1] == version
        if matches and wheel_fits_mwaa(name, python):
            return name
    return None


def unfit_wheel_warnings(wheels: Iterable[str], python: str) -> list[str]:
    return [
        f"plugins wheel {name} is not for MWAA's platform ({PLATFORM_LABEL}, CPython {python}); "
        "pip on MWAA will not use it (mwaa-behaviour.md 9 row 10)."
        for name in sorted(wheels)
        if not wheel_fits_mwaa(name, python)
    ]
