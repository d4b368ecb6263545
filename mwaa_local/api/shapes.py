"""Values checked against botocore shapes: required members, types, enums, lengths, ranges and
patterns. One checker serves both directions: request input (a ValidationException lists the
problems) and response output (a renamed or mistyped field is a problem, not a silent pass).

Values are checked in their wire form (parsed JSON): timestamps are numbers, blobs are strings.
"""

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape

# The model's patterns are Java regular expressions matched against the whole value (AWS's
# ValidationException says "Member must satisfy regular expression pattern: ..." for a partial
# match); `\d` and `\w` are ASCII there. Python's `re` has no `\p{..}` classes, so a pattern that
# uses them (the tag key and value) is matched on a copy of the value in which every character of
# such a Unicode category stands as one private-use character that the pattern uses instead.
_CATEGORY_STAND_INS = {"L": "\ue000", "N": "\ue001", "Z": "\ue002", "P": "\ue003", "S": "\ue004"}
_UNICODE_CLASS = re.compile(r"\\p\{(\w+)\}")

# Where mwaa-local deliberately answers outside the model's pattern, keyed by shape name, with the
# wider pattern it checks instead:
# - Hostname (CreateCliToken/CreateWebLoginToken.WebServerHostname): the local server listens on a
#   port, so the hostname carries ":port"; clients build "https://{WebServerHostname}/..." from it.
# - WebserverUrl: the real service answers a bare host name although the model says https://...
#   (mwaa-behaviour.md 6.2), so a bare host[:port] passes as well as an https:// URL.
_LABEL = r"([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])"
_HOST = rf"({_LABEL}\.)*{_LABEL}"
PATTERN_ALLOWANCES = {
    "Hostname": rf"{_HOST}(:\d{{1,5}})?",
    "WebserverUrl": rf"https?://.+|{_HOST}(:\d{{1,5}})?",
}
# Shapes answered empty although the model says min 1: an environment without tags answers
# {"Tags": {}} so that `response["Tags"]` works, as AWS services answer empty tag maps.
EMPTY_ALLOWED = {"TagMap"}


@dataclass(frozen=True)
class Problem:
    """One value that breaks one rule: `path` names the member ("Environment.Status")."""

    path: str
    rule: str
    value: Any = None
    sensitive: bool = False

    def __str__(self) -> str:
        if self.value is None:
            shown = "null"
        elif self.sensitive:
            shown = "'***'"
        else:
            text = str(self.value)
            shown = "'" + (text if len(text) <= 100 else text[:97] + "...") + "'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.rule}"


def describe(problems: list[Problem]) -> str:
    """AWS's wording for a ValidationException that lists every problem."""
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(str(p) for p in problems)


@cache
def pattern_matcher(pattern: str) -> Callable[[str], bool]:
    """A whole-value matcher for one of the model's patterns."""
    categories = _UNICODE_CLASS.findall(pattern)
    if not categories:
        compiled = re.compile(pattern, re.ASCII)
        return lambda value: compiled.fullmatch(value) is not None
    unknown = [c for c in categories if c not in _CATEGORY_STAND_INS]
    if unknown:
        raise ValueError(f"pattern {pattern!r} uses Unicode classes {unknown} this checker lacks")
    used = {c: _CATEGORY_STAND_INS[c] for c in categories}
    literals = _UNICODE_CLASS.sub("", pattern)
    if any(unicodedata.category(ch)[0] in used for ch in re.sub(r"\\.", "", literals)):
        raise ValueError(f"pattern {pattern!r} mixes Unicode classes with literal characters")
    compiled = re.compile(_UNICODE_CLASS.sub(lambda m: used[m.group(1)], pattern))

    def matches(value: str) -> bool:
        stand_in = "".join(used.get(unicodedata.category(ch)[0], ch) for ch in value)
        return compiled.fullmatch(stand_in) is not None

    return matches


def check(shape: Shape, value: Any, path: str, *, strict: bool) -> list[Problem]:
    """Every problem of `value` against `shape`. `strict`: members the shape does not name are
    problems (responses); otherwise the caller drops them (requests from newer clients)."""
    problems: list[Problem] = []
    _check(shape, value, path, strict, problems)
    return problems


def _check(shape: Shape, value: Any, path: str, strict: bool, out: list[Problem]) -> None:
    sensitive = bool(shape.metadata.get("sensitive"))
    kind = shape.type_name
    if shape.metadata.get("document"):
        return
    checker = _CHECKERS.get(kind)
    if checker is None:
        out.append(Problem(path, f"Member has type {kind}, which mwaa-local cannot check"))
        return
    checker(shape, value, path, strict, out, sensitive)


def _type_problem(path: str, kind: str, value: Any, sensitive: bool) -> Problem:
    return Problem(path, f"Member must be of type {kind}", value, sensitive)


def _check_string(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, str):
        out.append(_type_problem(path, "string", value, sensitive))
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        out.append(
            Problem(path, "Member must satisfy enum value set: [" + ", ".join(enum) + "]", value)
        )
    _check_length(shape, len(value), value, path, out, sensitive)
    pattern = PATTERN_ALLOWANCES.get(shape.name, shape.metadata.get("pattern"))
    if pattern is not None and not pattern_matcher(pattern)(value):
        out.append(
            Problem(
                path,
                f"Member must satisfy regular expression pattern: {pattern}",
                value,
                sensitive,
            )
        )


def _check_length(shape, length, value, path, out, sensitive) -> None:
    _check_bounds(shape, length, "length", value, path, out, sensitive)


def _check_integer(shape, value, path, strict, out, sensitive) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        out.append(_type_problem(path, shape.type_name, value, sensitive))
        return
    _check_range(shape, value, path, out, sensitive)


def _check_number(shape, value, path, strict, out, sensitive) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        out.append(_type_problem(path, shape.type_name, value, sensitive))
        return
    _check_range(shape, value, path, out, sensitive)


def _check_range(shape, value, path, out, sensitive) -> None:
    _check_bounds(shape, value, "value", value, path, out, sensitive)


def _check_bounds(shape, measured, what, value, path, out, sensitive) -> None:
    """The model's min/max on a member's length or value, in AWS's validation wording."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measured < low:
        message = f"Member must have {what} greater than or equal to {low}"
        out.append(Problem(path, message, value, sensitive))
    if high is not None and measured > high:
        message = f"Member must have {what} less than or equal to {high}"
        out.append(Problem(path, message, value, sensitive))


def _check_boolean(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, bool):
        out.append(_type_problem(path, "boolean", value, sensitive))


def _check_timestamp(shape, value, path, strict, out, sensitive) -> None:
    # rest-json sends timestamps as epoch seconds unless the shape names another format.
    if shape.serialization.get("timestampFormat", "unixTimestamp") == "unixTimestamp":
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(_type_problem(path, "timestamp (epoch seconds)", value, sensitive))
    elif not isinstance(value, str):
        out.append(_type_problem(path, "timestamp (string)", value, sensitive))


def _check_blob(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, str):
        out.append(_type_problem(path, "blob (base64 string)", value, sensitive))


def _check_list(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, list):
        out.append(_type_problem(path, "list", value, sensitive))
        return
    _check_length(shape, len(value), value, path, out, sensitive)
    for index, item in enumerate(value):
        _check(shape.member, item, f"{path}.{index + 1}.member", strict, out)


def _check_map(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, dict):
        out.append(_type_problem(path, "map", value, sensitive))
        return
    if strict and not value and shape.name in EMPTY_ALLOWED:
        return
    _check_length(shape, len(value), value, path, out, sensitive)
    for key, item in value.items():
        _check(shape.key, key, f"{path}.{key}.key", strict, out)
        _check(shape.value, item, f"{path}.{key}.value", strict, out)


def _check_structure(shape, value, path, strict, out, sensitive) -> None:
    if not isinstance(value, dict):
        out.append(_type_problem(path, "structure", value, sensitive))
        return
    prefix = f"{path}." if path else ""
    for name in shape.required_members:
        if value.get(name) is None:
            out.append(Problem(prefix + name, "Member must not be null"))
    members = shape.members
    for name, item in value.items():
        if name not in members:
            if strict:
                out.append(Problem(prefix + name, f"Member is not a member of {shape.name}", item))
            continue
        if item is not None:
            _check(members[name], item, prefix + name, strict, out)


_CHECKERS = {
    "string": _check_string,
    "integer": _check_integer,
    "long": _check_integer,
    "float": _check_number,
    "double": _check_number,
    "boolean": _check_boolean,
    "timestamp": _check_timestamp,
    "blob": _check_blob,
    "list": _check_list,
    "map": _check_map,
    "structure": _check_structure,
}
