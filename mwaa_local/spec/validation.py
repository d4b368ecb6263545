"""What the settings file and the objects file share when they check a value: the rejection a
checker raises, how a value and a near-miss key are shown, whole numbers and ports, and how a YAML
syntax error is named without quoting the line (which may hold a password)."""

import difflib
import re
from collections.abc import Iterable
from typing import Any

import yaml


class Rejected(ValueError):
    """A value breaks a rule; the message states the rule, e.g. 'is not a port number (1-65535)'."""


def show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def did_you_mean(key: Any, candidates: Iterable[str]) -> str:
    by_lower = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(str(key).lower(), list(by_lower), n=1, cutoff=0.6)
    return f"; did you mean {by_lower[match[0]]!r}?" if match else ""


def whole_number(value: Any) -> int:
    """An int, or a string holding one; never a bool."""
    if isinstance(value, bool):
        raise Rejected("is not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise Rejected("is not a whole number")


def port_number(value: Any) -> int:
    try:
        number = whole_number(value)
    except Rejected:
        number = 0
    if not 1 <= number <= 65535:
        raise Rejected("is not a port number (1-65535)")
    return number


def yaml_problem(exc: yaml.YAMLError) -> str:
    # `problem` names what is wrong without quoting the line.
    mark = getattr(exc, "problem_mark", None)
    what = getattr(exc, "problem", None) or "invalid YAML"
    if mark is None:
        return f"invalid YAML: {what}"
    return f"line {mark.line + 1}, column {mark.column + 1}: invalid YAML: {what}"
