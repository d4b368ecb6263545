"""What some tests need from the machine beyond the package: ../shared/constraints beside the
checkout, the ruff binary. Locally a missing piece skips the tests that need it, saying what is
missing; under CI (CI=true, as `.ci/run` runs the suite) it fails them, so a green CI run never
hides a test that did not run."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_CONSTRAINTS = REPO.parent / "shared" / "constraints"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(present: bool, missing: str) -> None:
    """Go on when `present`; else skip, or under CI fail, naming what is `missing`."""
    if present:
        return
    if in_ci():
        pytest.fail(f"{missing}; under CI=true a test that cannot run fails", pytrace=False)
    pytest.skip(missing)
