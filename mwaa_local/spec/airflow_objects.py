"""The connections, variables and pools a project's DAGs use: `airflow-objects.yaml` in the project
folder and, optionally, an env file of `AIRFLOW_CONN_<ID>=...` / `AIRFLOW_VAR_<KEY>=...` lines.

Pure parsing, no network. `load_objects()` reports every problem at once, naming the file, the line
where known, the object and the key; it never repeats a password, an extra or a variable value in
a message. `dump_objects()` writes the same schema back (used by `mwaa-local objects export`).
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from mwaa_local.errors import SettingsError
from mwaa_local.spec.validation import (
    Rejected,
    did_you_mean,
    port_number,
    show,
    whole_number,
    yaml_problem,
)

OBJECTS_FILE_NAME = "airflow-objects.yaml"
MASK = "***"
# Airflow's secrets_masker.DEFAULT_SENSITIVE_FIELDS (airflow/utils/log/secrets_masker.py): a key
# containing one of these (case-insensitively) has its value masked by the REST API. The
# `core.sensitive_var_conn_names` option adds more.
SENSITIVE_FIELDS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "authorization",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "secret",
        "token",
        "keyfile_dict",
        "service_account",
    }
)
# secrets_masker.SecretsMasker.MAX_RECURSION_DEPTH
MASK_DEPTH = 5

TOP_LEVEL_KEYS = ("connections", "variables", "pools")
CONNECTION_KEYS = (
    "conn_type",
    "description",
    "host",
    "port",
    "login",
    "password",
    "schema",
    "extra",
)
POOL_KEYS = ("slots", "description", "include_deferred")
VARIABLE_DESCRIBED_KEYS = frozenset({"value", "description"})
# Airflow's ConnectionBody pattern and helpers.validate_key(conn_id, max_length=200).
CONN_ID_PATTERN = re.compile(r"[\w.-]+")
CONN_ID_MAX = 200
VARIABLE_KEY_MAX = 250  # airflow.models.base.ID_LEN
POOL_NAME_MAX = 256
DEFAULT_POOL = "default_pool"
DEFAULT_POOL_SLOTS = 128
# Airflow looks connections and variables up as AIRFLOW_CONN_{CONN_ID.upper()} and
# AIRFLOW_VAR_{KEY.upper()} (airflow/secrets/environment_variables.py).
ENV_PREFIXES = {"AIRFLOW_CONN_": "connections", "AIRFLOW_VAR_": "variables"}
ENV_LINE = re.compile(r"\s*(?:export\s+)?(AIRFLOW_(?:CONN|VAR)_\w*)\s*=(.*)")

EXPORT_HEADER = """\
# Airflow connections, variables and pools, exported by `mwaa-local objects export`.
# Connection passwords are not exported: Airflow's REST API never returns them. Applying this
# file leaves stored passwords as they are; add `password:` to a connection to set one.
# Values Airflow treats as secret (extras and variables whose key contains password, secret,
# token, api_key, ...) are written as '***'; `mwaa-local objects apply` refuses '***' until you
# put the real value back (or remove the key).
"""


class ObjectsFileError(SettingsError):
    """airflow-objects.yaml or the env file holds something Airflow would reject (exit status 2)."""


@dataclass(frozen=True)
class ConnectionSpec:
    conn_id: str
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    extra: dict[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VariableSpec:
    key: str
    value: str = field(repr=False)  # the text Airflow stores; JSON text for non-string values
    description: str | None = None


@dataclass(frozen=True)
class PoolSpec:
    name: str
    slots: int
    description: str | None = None
    include_deferred: bool = False


@dataclass
class AirflowObjects:
    connections: dict[str, ConnectionSpec] = field(default_factory=dict)
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    pools: dict[str, PoolSpec] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.connections) + len(self.variables) + len(self.pools)


# --- what Airflow masks -------------------------------------------------------------------------


def sensitive_names(configured: str | None = None) -> frozenset[str]:
    """Airflow's default names plus a comma-separated `core.sensitive_var_conn_names` value."""
    extra = {name.strip().lower() for name in (configured or "").split(",") if name.strip()}
    return SENSITIVE_FIELDS | extra


def is_sensitive(name: Any, names: Iterable[str] = SENSITIVE_FIELDS) -> bool:
    if not isinstance(name, str):
        return False
    lowered = name.strip().lower()
    return any(s in lowered for s in names)


def mask(
    value: Any, name: str | None = None, names: Iterable[str] = SENSITIVE_FIELDS, depth: int = 0
) -> Any:
    """What Airflow's API shows for `value` stored under `name`: secrets_masker.redact() by key."""
    if depth > MASK_DEPTH:
        return value
    if name and is_sensitive(name, names):
        return _mask_all(value, depth)
    if isinstance(value, dict):
        return {k: mask(v, k, names, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v, None, names, depth + 1) for v in value]
    return value


def _mask_all(value: Any, depth: int) -> Any:
    if depth > MASK_DEPTH or isinstance(value, str):
        return MASK
    if isinstance(value, dict):
        return {k: _mask_all(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_all(v, depth + 1) for v in value]
    return value


def secret_strings(value: Any, name: str | None, names: Iterable[str]) -> set[str]:
    """The strings in `value` that Airflow would mask: never to be shown."""
    found: set[str] = set()
    _collect_secrets(value, mask(_blanked(value), name, names), found)
    return found


def _blanked(value: Any) -> Any:
    """`value` with every string emptied: masking it marks exactly the leaves Airflow masks, even
    where a value is itself '***'."""
    if isinstance(value, str):
        return ""
    if isinstance(value, dict):
        return {k: _blanked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_blanked(v) for v in value]
    return value


def _collect_secrets(value: Any, masked: Any, found: set[str]) -> None:
    if isinstance(value, str):
        if masked == MASK and value:
            found.add(value)
    elif isinstance(value, dict) and isinstance(masked, dict):
        for key, sub in value.items():
            _collect_secrets(sub, masked.get(key), found)
    elif isinstance(value, list | tuple) and isinstance(masked, list):
        for sub, sub_masked in zip(value, masked, strict=False):
            _collect_secrets(sub, sub_masked, found)


def _placeholders(value: Any, name: str | None, names: Iterable[str], path: str = "") -> list[str]:
    """Paths where `value` holds the '***' an export wrote in place of a secret."""
    return _find_placeholders(value, mask(_blanked(value), name, names), path)


def _find_placeholders(value: Any, masked: Any, path: str) -> list[str]:
    if isinstance(value, str):
        return [path] if value == MASK and masked == MASK else []
    found: list[str] = []
    if isinstance(value, dict) and isinstance(masked, dict):
        for key, sub in value.items():
            found += _find_placeholders(sub, masked.get(key), f"{path}.{key}")
    elif isinstance(value, list | tuple) and isinstance(masked, list):
        for index, (sub, sub_masked) in enumerate(zip(value, masked, strict=False)):
            found += _find_placeholders(sub, sub_masked, f"{path}[{index}]")
    return found


# --- connection URIs and JSON -------------------------------------------------------------------


def normalize_conn_type(conn_type: str) -> str:
    # airflow.models.connection.Connection._normalize_conn_type
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def parse_connection_uri(uri: str) -> dict[str, Any]:
    """The fields of an Airflow connection URI, as Connection._parse_from_uri reads them."""
    schemes = uri.count("://")
    if schemes == 0 or schemes > 2:
        raise Rejected("is not an Airflow connection URI (conn-type://login:password@host/...)")
    try:
        return _uri_fields(uri, with_protocol=schemes == 2)
    except ValueError as exc:
        if isinstance(exc, Rejected):
            raise
        # urlsplit's messages (e.g. "Invalid IPv6 URL") never quote the URI.
        raise Rejected(f"is not a valid URI ({exc})") from None


def _uri_fields(uri: str, with_protocol: bool) -> dict[str, Any]:
    scheme = urlsplit(uri).scheme
    if not scheme:
        raise Rejected("has no connection type (the URI scheme)")
    rest = uri.replace(f"{scheme}://", "" if with_protocol else "//")
    if with_protocol and re.search(r"[@:]", rest.split("://", 1)[0]):
        raise Rejected("is not an Airflow connection URI (a protocol in the host part?)")
    parts = urlsplit(rest)
    try:
        port = parts.port
    except ValueError:
        raise Rejected("has a port that is not a number from 0 to 65535") from None
    host = _uri_hostname(parts)
    if host and with_protocol:
        host = f"{parts.scheme}://{host}"
    schema = unquote(parts.path[1:]) if parts.path[1:] else None
    fields: dict[str, Any] = {
        "conn_type": normalize_conn_type(scheme),
        "host": host or None,
        "login": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "schema": schema,
        "port": port,
    }
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        fields["extra"] = query.get("__extra__", query)  # __extra__ holds JSON extra
    return fields


def _uri_hostname(parts: Any) -> str:
    # airflow.models.connection._parse_netloc_to_hostname: urlsplit lower-cases the host, and a
    # percent-encoded '/' in it means the netloc is taken as is.
    hostname = unquote(parts.hostname or "")
    if "/" in hostname:
        hostname = parts.netloc
        if "@" in hostname:
            hostname = hostname.rsplit("@", 1)[1]
        if ":" in hostname:
            hostname = hostname.split(":", 1)[0]
        hostname = unquote(hostname)
    return hostname


# --- problems -----------------------------------------------------------------------------------


class _Problems:
    """One line per problem: `line N: path.to.key: what is wrong`."""

    def __init__(self, lines: Mapping[tuple, int] | None = None) -> None:
        self.items: list[str] = []
        self.lines = lines or {}
        self.current_line: int | None = None  # the env file's line being read

    def add(self, path: tuple, message: str) -> None:
        label = ".".join(str(p) for p in path)
        line = self._line(path)
        self.items.append(f"line {line}: {label}: {message}" if line else f"{label}: {message}")

    def _line(self, path: tuple) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return self.current_line


def _unknown_keys(raw: Mapping, known: Iterable[str], path: tuple, problems: _Problems) -> None:
    known = tuple(known)
    for key in raw:
        if key not in known:
            problems.add(
                (*path, key), f"unknown key{did_you_mean(key, known)} (known: {', '.join(known)})"
            )


# --- connections --------------------------------------------------------------------------------


def _text_field(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Rejected(f"is a {type(value).__name__}, not a string")
    return str(value) or None


def _port(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return port_number(value)
    except Rejected as exc:
        raise Rejected(f"{show(value, 60)} {exc}") from exc


def _extra(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise Rejected("is not JSON; write a mapping or a JSON object") from None
    if not isinstance(value, dict):
        raise Rejected("is not a mapping or a JSON object, as Airflow requires")
    return value or None


CONNECTION_PARSERS: dict[str, Callable[[Any], Any]] = {
    "conn_type": _text_field,
    "description": _text_field,
    "host": _text_field,
    "login": _text_field,
    "password": _text_field,
    "schema": _text_field,
    "port": _port,
    "extra": _extra,
}


def _connection(
    conn_id: Any,
    fields: Mapping[str, Any],
    path: tuple,
    problems: _Problems,
    names: Iterable[str],
) -> ConnectionSpec | None:
    before = len(problems.items)
    if not isinstance(conn_id, str) or not CONN_ID_PATTERN.fullmatch(conn_id):
        problems.add(path, "is not a connection id Airflow accepts (letters, digits, _ . -)")
    elif len(conn_id) > CONN_ID_MAX:
        problems.add(path, f"is longer than Airflow's {CONN_ID_MAX} characters")
    _unknown_keys(fields, CONNECTION_KEYS, path, problems)
    values: dict[str, Any] = {}
    for key, parse in CONNECTION_PARSERS.items():
        try:
            values[key] = parse(fields.get(key))
        except Rejected as exc:
            problems.add((*path, key), str(exc))
    if "conn_type" in values and not values["conn_type"]:
        problems.add((*path, "conn_type"), "is missing; Airflow needs a connection type")
    _check_placeholders(values, path, problems, names)
    if len(problems.items) > before:
        return None
    return ConnectionSpec(conn_id=conn_id, **values)


def _check_placeholders(
    values: Mapping[str, Any], path: tuple, problems: _Problems, names: Iterable[str]
) -> None:
    if values.get("password") == MASK:
        problems.add((*path, "password"), f"is {MASK!r}, not a password; write the real one")
    for where in _placeholders(values.get("extra") or {}, None, names):
        problems.add(
            (*path, f"extra{where}"),
            f"is {MASK!r}, the mask Airflow shows for secrets; write the real value or remove it",
        )


def _connection_from_yaml(
    conn_id: Any, raw: Any, path: tuple, problems: _Problems, names: Iterable[str]
) -> ConnectionSpec | None:
    if isinstance(raw, str):
        return _connection_from_text(conn_id, raw, path, problems, names)
    if not isinstance(raw, Mapping):
        problems.add(path, "is neither a mapping of connection fields nor a connection URI")
        return None
    return _connection(conn_id, raw, path, problems, names)


def _connection_from_text(
    conn_id: Any, text: str, path: tuple, problems: _Problems, names: Iterable[str]
) -> ConnectionSpec | None:
    """A connection URI or, starting with '{', Airflow's JSON connection format."""
    if not text.lstrip().startswith("{"):
        try:
            fields = parse_connection_uri(text)
        except Rejected as exc:
            problems.add(path, f"the URI {exc}")
            return None
        return _connection(conn_id, fields, path, problems, names)
    try:
        fields = json.loads(text)
    except ValueError:
        problems.add(path, "starts with '{' but is not JSON (the JSON connection format)")
        return None
    if not isinstance(fields, dict):
        problems.add(path, "is not a JSON object (the JSON connection format)")
        return None
    # Connection.from_json normalizes conn_type as a URI scheme is.
    if isinstance(fields.get("conn_type"), str):
        fields["conn_type"] = normalize_conn_type(fields["conn_type"])
    return _connection(conn_id, fields, path, problems, names)


# --- variables ----------------------------------------------------------------------------------


def _variable_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise Rejected("has no value")
    try:
        # `airflow variables set --json` / import store non-strings as json.dumps(value, indent=2).
        return json.dumps(value, indent=2)
    except (TypeError, ValueError):
        kind = type(value).__name__
        raise Rejected(f"is a {kind}, not a string or JSON value; quote it") from None


def _variable(
    key: Any, raw: Any, path: tuple, problems: _Problems, names: Iterable[str]
) -> VariableSpec | None:
    before = len(problems.items)
    if not isinstance(key, str) or not key:
        problems.add(path, "is not a variable key (quote it to make it a string)")
    elif len(key) > VARIABLE_KEY_MAX:
        problems.add(path, f"is longer than Airflow's {VARIABLE_KEY_MAX} characters")
    description = None
    if isinstance(raw, Mapping) and set(raw) == VARIABLE_DESCRIBED_KEYS:
        raw, description = raw["value"], raw["description"]
        try:
            description = _text_field(description)
        except Rejected as exc:
            problems.add((*path, "description"), str(exc))
    try:
        text = _variable_text(raw)
    except Rejected as exc:
        problems.add(path, str(exc))
        return None
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        parsed = text
    for where in _placeholders(parsed, key if isinstance(key, str) else None, names):
        problems.add(
            path,
            f"holds {MASK!r}{' at ' + where if where else ''}, the mask Airflow shows for secrets; "
            "write the real value",
        )
    if len(problems.items) > before:
        return None
    return VariableSpec(key=key, value=text, description=description)


# --- pools --------------------------------------------------------------------------------------


def _slots(value: Any) -> int:
    try:
        number = whole_number(value)
    except Rejected:
        number = -2
    if number < -1:
        raise Rejected(f"{show(value, 60)} is not a whole number >= -1 (-1 means unlimited)")
    return number


def _pool(name: Any, raw: Any, path: tuple, problems: _Problems) -> PoolSpec | None:
    before = len(problems.items)
    if not isinstance(name, str) or not name:
        problems.add(path, "is not a pool name (quote it to make it a string)")
    elif len(name) > POOL_NAME_MAX:
        problems.add(path, f"is longer than Airflow's {POOL_NAME_MAX} characters")
    if not isinstance(raw, Mapping):
        problems.add(path, "is not a mapping like {slots: 4, include_deferred: false}")
        return None
    _unknown_keys(raw, POOL_KEYS, path, problems)
    values: dict[str, Any] = {}
    if raw.get("slots") is None:
        problems.add((*path, "slots"), "is missing; Airflow needs the number of slots")
    else:
        _parse_into(values, "slots", raw["slots"], _slots, path, problems)
    _parse_into(values, "description", raw.get("description"), _text_field, path, problems)
    deferred = raw.get("include_deferred", False)
    if isinstance(deferred, bool):
        values["include_deferred"] = deferred
    else:
        problems.add((*path, "include_deferred"), f"{show(deferred, 60)} is not true or false")
    if name == DEFAULT_POOL and values.get("description") is not None:
        problems.add(
            (*path, "description"),
            "cannot be set: Airflow only lets slots and include_deferred change on default_pool",
        )
    if len(problems.items) > before:
        return None
    return PoolSpec(name=name, **values)


def _parse_into(
    values: dict[str, Any],
    key: str,
    raw: Any,
    parse: Callable[[Any], Any],
    path: tuple,
    problems: _Problems,
) -> None:
    try:
        values[key] = parse(raw)
    except Rejected as exc:
        problems.add((*path, key), str(exc))


# --- the YAML file ------------------------------------------------------------------------------


def parse_objects_yaml(
    text: str, source: str, names: Iterable[str] = SENSITIVE_FIELDS
) -> AirflowObjects:
    try:
        data = yaml.safe_load(text)
        lines = _key_lines(yaml.compose(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ObjectsFileError([yaml_problem(exc)], source) from None
    if data is None:
        return AirflowObjects()
    problems = _Problems(lines)
    if not isinstance(data, dict):
        raise ObjectsFileError(
            [f"holds a {type(data).__name__}, not a mapping with {', '.join(TOP_LEVEL_KEYS)}"],
            source,
        )
    _unknown_keys(data, TOP_LEVEL_KEYS, (), problems)
    sections = {key: _section(data, key, problems) for key in TOP_LEVEL_KEYS}
    objects = AirflowObjects()
    for conn_id, raw in sections["connections"].items():
        spec = _connection_from_yaml(conn_id, raw, ("connections", conn_id), problems, names)
        if spec:
            objects.connections[spec.conn_id] = spec
    for key, raw in sections["variables"].items():
        variable = _variable(key, raw, ("variables", key), problems, names)
        if variable:
            objects.variables[variable.key] = variable
    for name, raw in sections["pools"].items():
        pool = _pool(name, raw, ("pools", name), problems)
        if pool:
            objects.pools[pool.name] = pool
    if problems.items:
        raise ObjectsFileError(problems.items, source, hint=_HINT)
    return objects


_HINT = (
    "Fix the keys named above; `mwaa-local objects export` prints a running environment's "
    "objects in this schema."
)


def _section(data: Mapping, key: str, problems: _Problems) -> Mapping:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.add((key,), f"is a {type(value).__name__}, not a mapping of id: definition")
        return {}
    return value


def _key_lines(node: Any, path: tuple = ()) -> dict[tuple, int]:
    """Where each mapping key sits (1-based line), by its path of keys."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = _key_value(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, (*path, key)))
    return lines


def _key_value(node: yaml.ScalarNode) -> Any:
    """The key as safe_load builds it, so `123:` is the int 123 the data holds."""
    try:
        return yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError:  # e.g. the `<<` merge key, which only means something in place
        return node.value


# --- the env file -------------------------------------------------------------------------------


def parse_env_file(
    text: str, source: str, names: Iterable[str] = SENSITIVE_FIELDS
) -> AirflowObjects:
    """AIRFLOW_CONN_<ID>= and AIRFLOW_VAR_<KEY>= lines; everything else is ignored, as are blank
    lines, comments and `export ` prefixes. Values are unquoted the way dotenv does."""
    problems = _Problems()
    objects = AirflowObjects()
    for number, line in enumerate(text.splitlines(), start=1):
        match = ENV_LINE.fullmatch(line)
        if not match:
            continue
        name, raw = match.groups()
        problems.current_line = number
        path = (name,)
        try:
            value = _dotenv_value(raw)
        except Rejected as exc:
            problems.add(path, str(exc))
            continue
        _env_object(name, value, path, objects, problems, names)
    if problems.items:
        raise ObjectsFileError(problems.items, source, hint=_ENV_HINT)
    return objects


_ENV_HINT = "Lines are AIRFLOW_CONN_<ID>=<URI or JSON> and AIRFLOW_VAR_<KEY>=<value>."


def _env_object(
    name: str,
    value: str,
    path: tuple,
    objects: AirflowObjects,
    problems: _Problems,
    names: Iterable[str],
) -> None:
    prefix = next(p for p in ENV_PREFIXES if name.startswith(p))
    suffix = name[len(prefix) :]
    if not suffix or suffix != suffix.upper():
        problems.add(
            path,
            f"Airflow looks this up as {prefix}<ID IN UPPER CASE>; write {prefix}{suffix.upper()}"
            if suffix
            else "has no id after the prefix",
        )
        return
    object_id = suffix.lower()
    if prefix == "AIRFLOW_CONN_":
        spec = _connection_from_text(object_id, value, path, problems, names)
        if spec:
            objects.connections[object_id] = spec
        return
    variable = _variable(object_id, value, path, problems, names)
    if variable:
        objects.variables[object_id] = variable


def _dotenv_value(raw: str) -> str:
    value = raw.strip()
    if value[:1] in ("'", '"'):
        quote = value[0]
        body = r"'([^']*)'" if quote == "'" else r'"((?:[^"\\]|\\.)*)"'
        match = re.fullmatch(body + r"\s*(?:#.*)?", value)
        if not match:
            raise Rejected(f"has an opening {quote} without a closing one")
        text = match.group(1)
        return _double_quoted(text) if quote == '"' else text
    return re.split(r"\s+#", value, maxsplit=1)[0]


def _double_quoted(text: str) -> str:
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "'": "'"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), text)


# --- loading and merging ------------------------------------------------------------------------


def load_objects(
    yaml_path: Path | None,
    env_path: Path | None = None,
    names: Iterable[str] = SENSITIVE_FIELDS,
) -> AirflowObjects:
    """The env file's objects, then the YAML file's: the YAML file wins on the same id."""
    objects = AirflowObjects()
    if env_path is not None:
        objects = parse_env_file(_read(env_path), str(env_path), names)
    if yaml_path is not None:
        objects = merge(objects, parse_objects_yaml(_read(yaml_path), str(yaml_path), names))
    return objects


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ObjectsFileError(["does not exist"], str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ObjectsFileError([f"cannot be read: {exc}"], str(path)) from None


def merge(base: AirflowObjects, override: AirflowObjects) -> AirflowObjects:
    return AirflowObjects(
        connections={**base.connections, **override.connections},
        variables={**base.variables, **override.variables},
        pools={**base.pools, **override.pools},
    )


# --- dumping ------------------------------------------------------------------------------------


def dump_objects(objects: AirflowObjects) -> str:
    """YAML text in the airflow-objects.yaml schema. Passwords are never written."""
    data = {
        "connections": {c.conn_id: _connection_yaml(c) for c in objects.connections.values()},
        "variables": {v.key: _variable_yaml(v) for v in objects.variables.values()},
        "pools": {p.name: _pool_yaml(p) for p in objects.pools.values()},
    }
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return EXPORT_HEADER + body


def _connection_yaml(spec: ConnectionSpec) -> dict[str, Any]:
    fields = {
        "conn_type": spec.conn_type,
        "description": spec.description,
        "host": spec.host,
        "port": spec.port,
        "login": spec.login,
        "schema": spec.schema,
        "extra": spec.extra,
    }
    return {k: v for k, v in fields.items() if v is not None}


def _variable_yaml(spec: VariableSpec) -> Any:
    try:
        parsed = json.loads(spec.value)
    except ValueError:
        parsed = None
    # Only objects and arrays go back as YAML structures: "5" or "true" stay strings.
    value: Any = parsed if isinstance(parsed, dict | list) else spec.value
    if spec.description is not None or (
        isinstance(value, dict) and set(value) == VARIABLE_DESCRIBED_KEYS
    ):
        return {"value": value, "description": spec.description}
    return value


def _pool_yaml(spec: PoolSpec) -> dict[str, Any]:
    fields: dict[str, Any] = {"slots": spec.slots}
    if spec.description is not None:
        fields["description"] = spec.description
    fields["include_deferred"] = spec.include_deferred
    return fields
