"""A test that cannot run skips locally and fails under CI (tests/required.py)."""

import pytest

from tests.required import require


@pytest.mark.parametrize("ci", [None, "false", ""])
def test_a_missing_piece_skips_a_test_locally(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="../shared/constraints is missing"):
        require(False, "../shared/constraints is missing")


@pytest.mark.parametrize("ci", ["true", "True", "1"])
def test_a_missing_piece_fails_a_test_under_ci(monkeypatch, ci):
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="missing; under CI=true a test that cannot"):
        require(False, "../shared/constraints is missing")


def test_a_present_piece_lets_the_test_run(monkeypatch):
    monkeypatch.setenv("CI", "true")
    require(True, "never shown")
