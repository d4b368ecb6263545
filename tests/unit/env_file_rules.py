"""How the two compose tools read an env file, to test mwaa-local's encoding against both.

docker-compose v1 (1.29) reads env files with python-dotenv (`dotenv_values(..., interpolate=True)`
in compose/config/environment.py), so v1's rules are python-dotenv itself. compose v2 reads them
with compose-go's dotenv package; `compose_v2_values` is a port of its parser (dotenv/parser.go:
extractVarValue, expandEscapes) and of its `$` interpolation, checked against the examples of
Docker's documented syntax (docs.docker.com/compose/env-file/) in the tests.
"""

import io
import re

import dotenv


def compose_v1_values(text: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """What docker-compose v1 reads from an env file (python-dotenv, interpolation on)."""
    # python-dotenv looks variables up in os.environ; the file's own come first here.
    return dict(dotenv.dotenv_values(stream=io.StringIO(text), interpolate=True))


_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0\d{0,3})")
_SIMPLE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<name>[A-Za-z_][A-Za-z0-9_]*))")


def _expand_escapes(value: str) -> str:
    def one(match: re.Match) -> str:
        c = match.group(0)[1:]
        if c == "$":
            return "$$"  # compose-go: `\$` is the template's escaped `$`
        if c.startswith("0"):
            return chr(int(c, 8)) if len(c) > 1 else "\0"
        return _SIMPLE.get(c, c)  # `\"` and `\\` give the character itself

    return _ESCAPE.sub(one, value)


def _interpolate(value: str, found: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        braced = match.group("braced")
        if braced is None:
            return found.get(match.group("name"), "")
        for separator in (":-", "-"):
            if separator in braced:
                name, default = braced.split(separator, 1)
                value = found.get(name)
                return (
                    (value or default)
                    if separator == ":-"
                    else (value if value is not None else default)
                )
        return found.get(braced, "")

    return _VARIABLE.sub(one, value)


def compose_v2_values(text: str) -> dict[str, str]:
    """What compose v2 (compose-go) reads from an env file."""
    found: dict[str, str] = {}
    rest = text
    while rest.strip():
        rest = rest.lstrip()
        if rest.startswith("#"):
            rest = rest.partition("\n")[2]
            continue
        key, _, rest = rest.partition("=")
        key = key.strip().removeprefix("export ").strip()
        rest = rest.lstrip(" \t")
        quote = rest[:1]
        if quote not in ("'", '"'):
            line, _, rest = rest.partition("\n")
            found[key] = _interpolate(line.split(" #")[0].rstrip(), found)
            continue
        chars, escaped, i = [], False, 1
        while True:
            if i >= len(rest):
                raise ValueError(f"unterminated quoted value for {key}")
            char = rest[i]
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                else:
                    chars.append(("\\" if escaped else "") + char)
                    escaped = False
            elif escaped:
                chars.append(char)
                escaped = False
            else:
                break
            i += 1
        value = "".join(chars)
        if quote == '"':
            value = _interpolate(_expand_escapes(value), found)
        found[key] = value
        rest = rest[i + 1 :].partition("\n")[2]
    return found
