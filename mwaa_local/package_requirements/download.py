"""Downloading one wheel per pin for MWAA's platform, several at a time; every pin is tried, and
each without a wheel is reported."""

import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mwaa_local.package_requirements.tools import Downloader, Pin
from mwaa_local.package_requirements.wheels import matching_wheel, wheel_fits_mwaa

DOWNLOAD_JOBS = 4


@dataclass(frozen=True)
class PackagedWheel:
    name: str
    version: str | None
    wheel: str
    source: str  # "index" (downloaded) or "plugins" (already in the project's plugins)


def collect_wheels(
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
        found = matching_wheel(pin.key, pin.version, project_wheels, python)
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
