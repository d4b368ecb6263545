"""Connections, variables and pools upserted into (and exported from) a running environment through
Airflow's REST API: /api/v1 on Airflow 2, /api/v2 on Airflow 3.

Each object is read first: 404 -> POST (created); a visible field differs -> PATCH (updated);
otherwise unchanged. Results name the object and the action, never a value.

Where the two APIs differ (apache/airflow: airflow/api_connexion/openapi/v1.yaml and
endpoints/*_endpoint.py for v1; airflow-core/src/airflow/api_fastapi/core_api/routes/public/ and
datamodels/ for v2):
- update_mask is one comma-separated parameter on v1 (style: form, explode: false), a repeated
  parameter on v2 (FastAPI `list[str] = Query(None)`).
- A v2 connection PATCH body is a full ConnectionBody (connection_id and conn_type required), and
  without an update_mask it sets the password to whatever the body holds, None included; so every
  PATCH here names its fields in update_mask.
- A v2 pool PATCH body (PoolPatchBody) names the pool `pool`, not `name`, and forbids unknown
  members; v1 reads `name`. Both only let default_pool change slots and include_deferred.
- v1's connection and variable lists leave out extra and value ("only available when retrieving a
  single object"), so export reads each one; v2's lists hold them.
- v1 returns variable values as stored; v2 masks them by key (secrets_masker.redact) and re-dumps
  JSON values with json.dumps. Both mask connection extras by key and never return a password
  (v1: writeOnly; v2: '***').
- A v1 variable's description may not be null (marshmallow String), so None is sent as "".
"""

import json
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from mwaa_local.objects.rest_client import AirflowApi, AirflowApiError
from mwaa_local.spec.airflow_objects import (
    DEFAULT_POOL,
    DEFAULT_POOL_SLOTS,
    MASK,
    SENSITIVE_FIELDS,
    AirflowObjects,
    ConnectionSpec,
    PoolSpec,
    VariableSpec,
    is_sensitive,
    mask,
    secret_strings,
)

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
PAGE_SIZE = 100  # v1's default maximum_page_limit
CONNECTION_FIELDS = ("conn_type", "description", "host", "login", "schema", "port", "extra")
POOL_FIELDS = ("slots", "description", "include_deferred")
DEFAULT_POOL_FIELDS = ("slots", "include_deferred")


@dataclass(frozen=True)
class Outcome:
    kind: str  # connection, variable or pool
    name: str
    action: str  # created, updated or unchanged


# --- requests -----------------------------------------------------------------------------------


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _get(api: AirflowApi, path: str) -> dict | None:
    try:
        return api.request("GET", path)
    except AirflowApiError as e:
        if e.status == 404:
            return None
        raise


def _write(
    api: AirflowApi, method: str, path: str, body: dict, secrets: set[str], **query: Any
) -> None:
    """POST or PATCH; an error message never repeats a secret the body carried."""
    try:
        api.request(method, path, body, **query)
    except AirflowApiError as e:
        raise AirflowApiError(_scrub(e.message, secrets), e.status, e.hint) from None


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        for form in {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret, safe="")}:
            text = text.replace(form, MASK)
    return text


def _update_mask(api: AirflowApi, fields: Iterable[str]) -> dict[str, Any]:
    fields = list(fields)
    return {"update_mask": fields if api.major >= 3 else ",".join(fields)}


def _pages(api: AirflowApi, path: str, member: str) -> Iterator[dict]:
    offset = 0
    while True:
        page = api.request("GET", path, limit=PAGE_SIZE, offset=offset)
        items = page.get(member) or []
        yield from items
        offset += len(items)
        if not items or offset >= page.get("total_entries", offset + 1):
            return


def _same(a: Any, b: Any) -> bool:
    """Equal once "" and None (both "not set" to Airflow) are made one."""
    return (None if a == "" else a) == (None if b == "" else b)


# --- apply --------------------------------------------------------------------------------------


def apply_objects(
    api: AirflowApi, objects: AirflowObjects, names: Iterable[str] = SENSITIVE_FIELDS
) -> list[Outcome]:
    """Upsert every object; `names` are the key parts Airflow masks (sensitive_var_conn_names)."""
    names = frozenset(names)
    outcomes = [upsert_connection(api, c, names) for c in objects.connections.values()]
    outcomes += [upsert_variable(api, v, names) for v in objects.variables.values()]
    outcomes += [upsert_pool(api, p) for p in objects.pools.values()]
    return outcomes


def upsert_connection(
    api: AirflowApi, spec: ConnectionSpec, names: Iterable[str] = SENSITIVE_FIELDS
) -> Outcome:
    """Create or update one connection.

    The API never returns a password and masks secret-looking extra values, so those cannot be
    compared. A given password (and an extra that matches only once masked) is therefore sent
    again on every apply, but the connection counts as `updated` only when a field the API shows
    differs, so applying an unchanged file reports `unchanged`. A connection without `password:`
    keeps its stored password (an export has none to give)."""
    path = f"/connections/{_quote(spec.conn_id)}"
    secrets = _connection_secrets(spec, names)
    remote = _get(api, path)
    if remote is None:
        body = _connection_body(spec, (*CONNECTION_FIELDS, "password"), keep_none=False)
        _write(api, "POST", "/connections", body, secrets)
        return Outcome("connection", spec.conn_id, CREATED)
    differ, hidden = _connection_changes(spec, remote, names)
    fields = differ + hidden
    if fields:
        body = _connection_body(spec, fields, keep_none=True)
        _write(api, "PATCH", path, body, secrets, **_update_mask(api, fields))
    return Outcome("connection", spec.conn_id, UPDATED if differ else UNCHANGED)


def _connection_secrets(spec: ConnectionSpec, names: Iterable[str]) -> set[str]:
    secrets = secret_strings(spec.extra or {}, None, names)
    return secrets | {spec.password} if spec.password else secrets


def _connection_body(
    spec: ConnectionSpec, fields: Iterable[str], keep_none: bool
) -> dict[str, Any]:
    """connection_id and conn_type (v2 requires both, even in a PATCH) plus `fields`; a PATCH
    keeps None values, since every field its update_mask names must be in the body."""
    body: dict[str, Any] = {"connection_id": spec.conn_id, "conn_type": spec.conn_type}
    for name in fields:
        if name == "extra":
            body["extra"] = json.dumps(spec.extra) if spec.extra else None
        else:
            body[name] = getattr(spec, name)
    return {k: v for k, v in body.items() if keep_none or v is not None}


def _connection_changes(
    spec: ConnectionSpec, remote: dict, names: Iterable[str]
) -> tuple[list[str], list[str]]:
    """(fields that visibly differ, fields to send again because they cannot be compared)."""
    differ = [f for f in CONNECTION_FIELDS[:-1] if not _same(getattr(spec, f), remote.get(f))]
    hidden = ["password"] if spec.password else []
    stored = _extra_of(remote.get("extra"))
    if stored != spec.extra:
        if spec.extra and stored == mask(spec.extra, None, names):
            hidden.append("extra")
        else:
            differ.append("extra")
    return differ, hidden


def _extra_of(text: Any) -> Any:
    if not text:
        return None
    try:
        return json.loads(text) or None
    except (TypeError, ValueError):
        return text  # not JSON: never equal to a mapping, so it gets replaced


def upsert_variable(
    api: AirflowApi, spec: VariableSpec, names: Iterable[str] = SENSITIVE_FIELDS
) -> Outcome:
    """Create or update one variable. A value Airflow masks (its key looks secret) is sent again on
    every apply and, like a connection password, does not by itself count as `updated`."""
    path = f"/variables/{_quote(spec.key)}"
    secrets = _variable_secrets(spec, names)
    remote = _get(api, path)
    body = {"key": spec.key, "value": spec.value, "description": spec.description}
    if remote is None:
        body = {k: v for k, v in body.items() if v is not None}
        _write(api, "POST", "/variables", body, secrets)
        return Outcome("variable", spec.key, CREATED)
    differ, hidden = _variable_changes(spec, remote, names)
    fields = differ + hidden
    if fields:
        if api.major < 3 and body["description"] is None:
            body["description"] = ""
        # Airflow 2 loads `value` as `val` before reading update_mask, so a mask naming it is
        # refused ("'value' is unknown or cannot be updated"): it gets the whole variable.
        query = _update_mask(api, fields) if api.major >= 3 else {}
        _write(api, "PATCH", path, body, secrets, **query)
    return Outcome("variable", spec.key, UPDATED if differ else UNCHANGED)


def _variable_secrets(spec: VariableSpec, names: Iterable[str]) -> set[str]:
    secrets = secret_strings(_json_or_text(spec.value), spec.key, names)
    return secrets | {spec.value} if is_sensitive(spec.key, names) else secrets


def _variable_changes(
    spec: VariableSpec, remote: dict, names: Iterable[str]
) -> tuple[list[str], list[str]]:
    differ: list[str] = []
    hidden: list[str] = []
    stored = _comparable(_json_or_text(remote.get("value")))
    wanted = _json_or_text(spec.value)
    if stored != _comparable(wanted):
        if stored == _comparable(mask(wanted, spec.key, names)):
            hidden.append("value")
        else:
            differ.append("value")
    if not _same(spec.description, remote.get("description")):
        differ.append("description")
    return differ, hidden


def _json_or_text(text: Any) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


def _comparable(value: Any) -> str:
    # v2 answers json.dumps(json.loads(stored)): compare canonical JSON text, which also keeps
    # true, 1 and 1.0 apart.
    return json.dumps(value, sort_keys=True)


def upsert_pool(api: AirflowApi, spec: PoolSpec) -> Outcome:
    path = f"/pools/{_quote(spec.name)}"
    remote = _get(api, path)
    if remote is None:
        body = {"name": spec.name, "slots": spec.slots, "include_deferred": spec.include_deferred}
        if spec.description is not None:
            body["description"] = spec.description
        _write(api, "POST", "/pools", body, set())
        return Outcome("pool", spec.name, CREATED)
    fields = DEFAULT_POOL_FIELDS if spec.name == DEFAULT_POOL else POOL_FIELDS
    differ = [f for f in fields if not _same(getattr(spec, f), remote.get(f))]
    if differ:
        _write(
            api, "PATCH", path, _pool_patch(api, spec, fields), set(), **_update_mask(api, differ)
        )
    return Outcome("pool", spec.name, UPDATED if differ else UNCHANGED)


def _pool_patch(api: AirflowApi, spec: PoolSpec, fields: Iterable[str]) -> dict[str, Any]:
    body = {f: getattr(spec, f) for f in fields}
    if api.major < 3:
        body["name"] = spec.name
        if "description" in body and body["description"] is None:
            body["description"] = ""
    return body


# --- export -------------------------------------------------------------------------------------


def export_objects(api: AirflowApi, names: Iterable[str] = SENSITIVE_FIELDS) -> AirflowObjects:
    """Every connection, variable and pool, secrets masked as Airflow 3 masks them (Airflow 2 does
    not mask variables); default_pool only when it differs from Airflow's 128 slots."""
    names = frozenset(names)
    objects = AirflowObjects()
    for item in _pages(api, "/connections", "connections"):
        if api.major < 3:
            item = api.request("GET", f"/connections/{_quote(item['connection_id'])}")
        spec = _exported_connection(item, names)
        objects.connections[spec.conn_id] = spec
    for item in _pages(api, "/variables", "variables"):
        if "value" not in item:
            item = api.request("GET", f"/variables/{_quote(item['key'])}")
        variable = _exported_variable(item, names)
        objects.variables[variable.key] = variable
    for item in _pages(api, "/pools", "pools"):
        pool = _exported_pool(item)
        default = pool.name == DEFAULT_POOL
        if not default or pool.slots != DEFAULT_POOL_SLOTS or pool.include_deferred:
            objects.pools[pool.name] = pool
    return objects


def _exported_connection(item: dict, names: Iterable[str]) -> ConnectionSpec:
    extra = _extra_of(item.get("extra"))
    return ConnectionSpec(
        conn_id=item["connection_id"],
        conn_type=item.get("conn_type") or "",
        description=item.get("description") or None,
        host=item.get("host") or None,
        login=item.get("login") or None,
        schema=item.get("schema") or None,
        port=item.get("port"),
        extra=mask(extra, None, names) if isinstance(extra, dict) else None,
    )


def _exported_variable(item: dict, names: Iterable[str]) -> VariableSpec:
    key, text = item["key"], item.get("value") or ""
    value = _json_or_text(text)
    masked = mask(value, key, names)
    if masked != value:
        text = masked if isinstance(masked, str) else json.dumps(masked)
    return VariableSpec(key=key, value=text, description=item.get("description") or None)


def _exported_pool(item: dict) -> PoolSpec:
    return PoolSpec(
        name=item["name"],
        slots=item["slots"],
        description=item.get("description") or None,
        include_deferred=bool(item.get("include_deferred")),
    )
