"""Upserts and export against a small fake Airflow REST API speaking v1 (Airflow 2) and v2
(Airflow 3), with the shapes of apache/airflow's v1.yaml and api_fastapi routes."""

import base64
import io
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from mwaa_local.cli import commands_objects
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.main import Group
from mwaa_local.objects.apply import apply_objects, export_objects
from mwaa_local.objects.rest_client import AirflowApi, AirflowApiError, error_detail
from mwaa_local.runtime.stack import Stack as StackClass
from mwaa_local.spec.airflow_objects import parse_objects_yaml

USER, PASSWORD, TOKEN = "admin", "admin-pw", "jwt-token"
# What the fake masks, written out independently of the code under test.
MASKED_KEYS = ("password", "secret", "token", "api_key", "apikey", "passwd", "private_key")
CONNECTION_FIELDS = ("conn_type", "description", "host", "login", "schema", "port", "password")


def hidden(key: Any) -> bool:
    return isinstance(key, str) and any(k in key.lower() for k in MASKED_KEYS)


def redact(value: Any, key: Any = None) -> Any:
    if hidden(key):
        if isinstance(value, dict):
            return {k: redact(v, "password") for k, v in value.items()}
        return "***" if isinstance(value, str) else value
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class FakeAirflow:
    """Connections, variables and pools behind /api/v1 (basic auth) or /api/v2 (bearer token)."""

    def __init__(self, major: int, page_cap: int = 3) -> None:
        self.major = major
        self.page_cap = page_cap
        self.connections: dict[str, dict] = {}
        self.variables: dict[str, dict] = {}
        self.pools = {
            "default_pool": {"slots": 128, "description": "Default pool", "include_deferred": False}
        }
        self.log: list[tuple[str, str, dict]] = []  # method, path, query
        self.reject: dict[tuple[str, str], int] = {}  # (method, path) -> status, echoing the body

    # --- transport ---

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> tuple[int, Any]:
        parts = urllib.parse.urlsplit(raw_path)
        path = urllib.parse.unquote(parts.path)
        query = urllib.parse.parse_qs(parts.query)
        body = json.loads(raw_body) if raw_body else None
        if self.major >= 3 and path == "/auth/token" and method == "POST":
            if body == {"username": USER, "password": PASSWORD}:
                return 201, {"access_token": TOKEN}
            return 401, {"detail": "Invalid credentials"}
        if headers.get("Authorization") != self.expected_authorization():
            return 401, {"detail": "Not authenticated", "title": "Unauthorized"}
        prefix = "/api/v2" if self.major >= 3 else "/api/v1"
        if not path.startswith(prefix + "/"):
            return 404, {"detail": "Not Found"}
        path = path[len(prefix) :]
        self.log.append((method, path, query))
        if (method, path) in self.reject:
            return self.rejection(self.reject[(method, path)], body)
        kind, _, name = path.lstrip("/").partition("/")
        handler = getattr(self, f"{method.lower()}_{kind}", None)
        if handler is None:
            return 405, {"detail": "Method Not Allowed"}
        return handler(name, query, body)

    def expected_authorization(self) -> str:
        if self.major >= 3:
            return f"Bearer {TOKEN}"
        return "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    def rejection(self, status: int, body: Any) -> tuple[int, Any]:
        if self.major >= 3:  # FastAPI's 422: `input` echoes the request body
            return status, {"detail": [{"type": "missing", "msg": "bad", "input": body}]}
        # connexion / marshmallow: a detail that quotes the offending values
        return status, {"title": "Bad Request", "status": status, "detail": f"bad body {body!r}"}

    def not_found(self, what: str) -> tuple[int, Any]:
        if self.major >= 3:
            return 404, {"detail": f"The {what} was not found"}
        return 404, {"title": "Not found", "status": 404, "detail": f"{what} does not exist"}

    def update_mask(self, query: dict) -> list[str] | None:
        values = query.get("update_mask")
        if not values:
            return None
        if self.major >= 3:  # FastAPI list[str] Query: one parameter per field
            return values
        if len(values) > 1:  # v1: one comma-separated parameter (style: form, explode: false)
            raise ValueError("update_mask given more than once")
        return [v.strip() for v in values[0].split(",")]

    def page(self, items: list[dict], query: dict, member: str) -> tuple[int, Any]:
        limit = min(int(query.get("limit", ["100"])[0]), self.page_cap)
        offset = int(query.get("offset", ["0"])[0])
        return 200, {member: items[offset : offset + limit], "total_entries": len(items)}

    # --- connections ---

    def connection_response(self, conn_id: str, full: bool) -> dict:
        stored = self.connections[conn_id]
        item = {"connection_id": conn_id, **{f: stored.get(f) for f in CONNECTION_FIELDS[:-1]}}
        if not full:  # v1 ConnectionCollectionItem: no password, no extra
            return item
        extra = stored.get("extra")
        item["extra"] = json.dumps(redact(json.loads(extra))) if extra else extra
        if self.major >= 3:
            item["password"] = "***" if stored.get("password") else None
        return item

    def get_connections(self, name: str, query: dict, body: Any) -> tuple[int, Any]:
        if not name:
            items = [self.connection_response(c, self.major >= 3) for c in sorted(self.connections)]
            return self.page(items, query, "connections")
        if name not in self.connections:
            return self.not_found(f"Connection with connection_id: `{name}`")
        return 200, self.connection_response(name, True)

    def check_connection_body(self, body: dict) -> tuple[int, Any] | None:
        allowed = {"connection_id", *CONNECTION_FIELDS, "extra"}
        if set(body) - allowed or not body.get("connection_id") or not body.get("conn_type"):
            return 422, {"detail": [{"msg": "invalid ConnectionBody", "input": body}]}
        extra = body.get("extra")
        if extra is not None and not isinstance(json.loads(extra), dict):
            return 422, {"detail": [{"msg": "extra must be a JSON object", "input": body}]}
        return None

    def post_connections(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        problem = self.check_connection_body(body)
        if problem:
            return problem
        conn_id = body["connection_id"]
        if conn_id in self.connections:
            return 409, {"detail": f"Connection already exist. ID: {conn_id}"}
        self.connections[conn_id] = {f: body.get(f) for f in (*CONNECTION_FIELDS, "extra")}
        return 201, self.connection_response(conn_id, True)

    def patch_connections(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        if self.major >= 3:
            problem = self.check_connection_body(body)
            if problem:
                return problem
        if name not in self.connections:
            return self.not_found(f"Connection with connection_id: `{name}`")
        if body.get("connection_id", name) != name:
            return 400, {"detail": "The connection_id cannot be updated."}
        try:
            mask = self.update_mask(query)
        except ValueError as e:
            return 400, {"detail": str(e)}
        fields = set(CONNECTION_FIELDS) | {"extra"}
        if mask is None:
            # v2 without a mask sets every field, password included (None clears it); v1 sets
            # the fields the body holds.
            targets = fields if self.major >= 3 else set(body) & fields
        else:
            if set(mask) - fields or set(mask) - set(body):
                return 400, {"detail": f"{sorted(set(mask) - fields)} unknown or not in the body"}
            targets = set(mask)
        for field in targets:
            self.connections[name][field] = body.get(field)
        return 200, self.connection_response(name, True)

    # --- variables ---

    def variable_response(self, key: str, with_value: bool = True) -> dict:
        stored = self.variables[key]
        item = {"key": key, "description": stored.get("description")}
        if not with_value:  # v1 VariableCollectionItem: no value
            return item
        value = stored["value"]
        if self.major >= 3:  # VariableResponse.redact_val
            try:
                value = json.dumps(redact(json.loads(value), key))
            except ValueError:
                value = redact(value, key)
            item["is_encrypted"] = True
        return {**item, "value": value}

    def get_variables(self, name: str, query: dict, body: Any) -> tuple[int, Any]:
        if not name:
            keys = sorted(self.variables)
            items = [self.variable_response(k, with_value=self.major >= 3) for k in keys]
            return self.page(items, query, "variables")
        if name not in self.variables:
            return self.not_found(f"Variable with key: `{name}`")
        return 200, self.variable_response(name)

    def check_variable_body(self, body: dict) -> tuple[int, Any] | None:
        if set(body) - {"key", "value", "description"} or "key" not in body or "value" not in body:
            return 422, {"detail": [{"msg": "invalid VariableBody", "input": body}]}
        if self.major < 3 and ("description" in body and body["description"] is None):
            return 400, {"detail": "{'description': ['Field may not be null.']}"}
        if self.major < 3 and not isinstance(body["value"], str):
            return 400, {"detail": "{'value': ['Not a valid string.']}"}
        return None

    def stored_variable(self, body: dict) -> dict:
        # Airflow 3's Variable.set stores str(value) for a non-string JSON value.
        return {"value": str(body["value"]), "description": body.get("description")}

    def post_variables(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        problem = self.check_variable_body(body)
        if problem:
            return problem
        if body["key"] in self.variables:
            return 409, {"detail": f"The Variable with key: `{body['key']}` already exists"}
        self.variables[body["key"]] = self.stored_variable(body)
        return 201, self.variable_response(body["key"])

    def patch_variables(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        problem = self.check_variable_body(body)
        if problem:
            return problem
        if body["key"] != name:
            return 400, {"detail": "key from request body doesn't match uri parameter"}
        if name not in self.variables:
            return self.not_found(f"Variable with key: `{name}`")
        mask = self.update_mask(query)
        # v1 (Airflow 2's variable_endpoint.patch_variable) checks the mask against the body as
        # its schema loaded it, where `value` became `val`.
        known = {"value", "description"} if self.major >= 3 else {"description"}
        if mask is None:
            mask = ["value", "description"]
        elif set(mask) - known:
            field = sorted(set(mask) - known)[0]
            return 400, {"detail": f"'{field}' is unknown or cannot be updated."}
        new = self.stored_variable(body)
        for field in mask:
            self.variables[name][field] = new[field]
        return 200, self.variable_response(name)

    # --- pools ---

    def pool_response(self, name: str) -> dict:
        return {"name": name, **self.pools[name], "occupied_slots": 0, "open_slots": 1}

    def get_pools(self, name: str, query: dict, body: Any) -> tuple[int, Any]:
        if not name:
            items = [self.pool_response(p) for p in sorted(self.pools)]
            return self.page(items, query, "pools")
        if name not in self.pools:
            return self.not_found(f"Pool with name: `{name}`")
        return 200, self.pool_response(name)

    def post_pools(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        if set(body) - {"name", "slots", "description", "include_deferred"} or "slots" not in body:
            return 422, {"detail": [{"msg": "invalid PoolBody", "input": body}]}
        if body["name"] in self.pools:
            return 409, {"detail": f"Pool: {body['name']} already exists"}
        self.pools[body["name"]] = {
            "slots": body["slots"],
            "description": body.get("description"),
            "include_deferred": body.get("include_deferred", False),
        }
        return 201, self.pool_response(body["name"])

    def patch_pools(self, name: str, query: dict, body: dict) -> tuple[int, Any]:
        # v2 PoolPatchBody calls the name `pool` and forbids other members; v1 reads `name`.
        allowed = {
            "slots",
            "description",
            "include_deferred",
            "pool" if self.major >= 3 else "name",
        }
        if set(body) - allowed:
            return 422, {"detail": [{"msg": "Extra inputs are not permitted", "input": body}]}
        if name not in self.pools:
            return self.not_found(f"Pool with name: `{name}`")
        try:
            mask = self.update_mask(query)
        except ValueError as e:
            return 400, {"detail": str(e)}
        if name == "default_pool" and (not mask or set(mask) - {"slots", "include_deferred"}):
            return 400, {
                "detail": "Only slots and include_deferred can be modified on Default Pool"
            }
        if mask is None and self.major < 3 and {"name", "slots"} - set(body):
            return 400, {"detail": "Missing required property(ies): ['name', 'slots']"}
        for field in mask or (set(body) & {"slots", "description", "include_deferred"}):
            if field not in body:
                return 400, {"detail": f"Invalid field: {field} in update mask"}
            self.pools[name][field] = body[field]
        return 200, self.pool_response(name)


def make_handler(fake: FakeAirflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload = fake.handle(
                self.command, self.path, self.headers, self.rfile.read(length)
            )
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = answer

    return Handler


@pytest.fixture(params=[2, 3], ids=["airflow2-v1", "airflow3-v2"])
def server(request):
    fake = FakeAirflow(request.param)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    api = AirflowApi(f"http://127.0.0.1:{httpd.server_address[1]}", USER, PASSWORD, fake.major)
    yield fake, api
    httpd.shutdown()
    httpd.server_close()


OBJECTS_YAML = """\
connections:
  warehouse:
    conn_type: postgres
    host: db.example.com
    port: 5432
    login: etl
    password: pg-Secret-1
    schema: analytics
    extra: {sslmode: require, api_key: extra-Secret-2}
  public_api: "http://api.example.com/v1?timeout=30"
variables:
  env: dev
  config: {retries: 3, targets: [a, b]}
  db_password: var-Secret-3
  described: {value: x, description: An x}
pools:
  etl: {slots: 4, description: ETL jobs}
  default_pool: {slots: 10}
"""
SECRETS = ("pg-Secret-1", "extra-Secret-2", "var-Secret-3")


def objects_from(text: str = OBJECTS_YAML):
    return parse_objects_yaml(text, "airflow-objects.yaml")


def actions(outcomes) -> dict[str, str]:
    return {f"{o.kind}:{o.name}": o.action for o in outcomes}


def writes(fake: FakeAirflow) -> list[tuple[str, str, dict]]:
    return [entry for entry in fake.log if entry[0] != "GET"]


def test_apply_creates_then_a_second_apply_changes_nothing(server):
    fake, api = server
    first = actions(apply_objects(api, objects_from()))
    assert first == {
        "connection:warehouse": "created",
        "connection:public_api": "created",
        "variable:env": "created",
        "variable:config": "created",
        "variable:db_password": "created",
        "variable:described": "created",
        "pool:etl": "created",
        "pool:default_pool": "updated",
    }
    warehouse = fake.connections["warehouse"]
    assert warehouse["password"] == "pg-Secret-1"
    assert json.loads(warehouse["extra"]) == {"sslmode": "require", "api_key": "extra-Secret-2"}
    assert json.loads(fake.connections["public_api"]["extra"]) == {"timeout": "30"}
    assert json.loads(fake.variables["config"]["value"]) == {"retries": 3, "targets": ["a", "b"]}
    assert fake.variables["described"] == {"value": "x", "description": "An x"}
    assert fake.pools["etl"]["slots"] == 4 and fake.pools["default_pool"]["slots"] == 10
    stored = json.dumps([fake.connections, fake.variables, fake.pools], sort_keys=True)

    fake.log.clear()
    second = actions(apply_objects(api, objects_from()))
    assert set(second.values()) == {"unchanged"}
    assert json.dumps([fake.connections, fake.variables, fake.pools], sort_keys=True) == stored
    # Only what the API cannot show is sent again: the password, the masked extra and, on
    # Airflow 3 (which masks variables), the secret variable.
    resent = {(method, path) for method, path, _ in writes(fake)}
    expected = {("PATCH", "/connections/warehouse")}
    if fake.major >= 3:
        expected.add(("PATCH", "/variables/db_password"))
    assert resent == expected
    masks = [q["update_mask"] for _, path, q in writes(fake) if path == "/connections/warehouse"]
    assert masks == ([["password", "extra"]] if fake.major >= 3 else [["password,extra"]])


def test_changed_fields_are_updated_and_a_missing_password_is_kept(server):
    fake, api = server
    apply_objects(api, objects_from())
    changed = (
        OBJECTS_YAML.replace("host: db.example.com", "host: db2.example.com")
        .replace("    password: pg-Secret-1\n", "")
        .replace("env: dev", "env: prod")
        .replace("description: ETL jobs", "description: Nightly")
        .replace("{value: x, description: An x}", "x")
        .replace("default_pool: {slots: 10}", "default_pool: {slots: 10, include_deferred: true}")
    )
    outcomes = actions(apply_objects(api, objects_from(changed)))
    assert outcomes == {
        "connection:warehouse": "updated",
        "connection:public_api": "unchanged",
        "variable:env": "updated",
        "variable:config": "unchanged",
        "variable:db_password": "unchanged",
        "variable:described": "updated",
        "pool:etl": "updated",
        "pool:default_pool": "updated",
    }
    assert fake.connections["warehouse"]["host"] == "db2.example.com"
    assert fake.connections["warehouse"]["password"] == "pg-Secret-1"
    assert fake.variables["env"]["value"] == "prod"
    assert fake.variables["described"]["description"] in (None, "")
    assert fake.pools["etl"]["description"] == "Nightly"
    assert fake.pools["default_pool"] == {
        "slots": 10,
        "description": "Default pool",
        "include_deferred": True,
    }
    assert set(actions(apply_objects(api, objects_from(changed))).values()) == {"unchanged"}


def test_a_new_password_alone_is_written_but_reported_unchanged(server):
    fake, api = server
    apply_objects(api, objects_from())
    rotated = OBJECTS_YAML.replace("pg-Secret-1", "pg-Secret-rotated")
    outcomes = actions(apply_objects(api, objects_from(rotated)))
    assert outcomes["connection:warehouse"] == "unchanged"
    assert fake.connections["warehouse"]["password"] == "pg-Secret-rotated"


def test_a_visible_change_to_a_masked_extra_is_an_update(server):
    fake, api = server
    apply_objects(api, objects_from())
    changed = OBJECTS_YAML.replace("sslmode: require", "sslmode: disable")
    assert actions(apply_objects(api, objects_from(changed)))["connection:warehouse"] == "updated"
    extra = json.loads(fake.connections["warehouse"]["extra"])
    assert extra == {"sslmode": "disable", "api_key": "extra-Secret-2"}


def test_export_reads_every_page_masks_secrets_and_skips_the_default_pool(server):
    fake, api = server
    apply_objects(api, objects_from())
    for n in range(4):  # more than one page of each kind (the fake's pages hold 3)
        fake.connections[f"extra_{n}"] = {"conn_type": "http", "host": f"h{n}", "port": 80 + n}
        fake.variables[f"plain_{n}"] = {"value": str(n), "description": None}
        fake.pools[f"pool_{n}"] = {"slots": n, "description": None, "include_deferred": False}
    fake.pools["default_pool"]["slots"] = 128

    exported = export_objects(api)
    assert set(exported.connections) == {"warehouse", "public_api"} | {
        f"extra_{n}" for n in range(4)
    }
    assert set(exported.variables) == {"env", "config", "db_password", "described"} | {
        f"plain_{n}" for n in range(4)
    }
    assert "default_pool" not in exported.pools and len(exported.pools) == 5
    warehouse = exported.connections["warehouse"]
    assert warehouse.password is None
    assert warehouse.extra == {"sslmode": "require", "api_key": "***"}
    assert (warehouse.host, warehouse.port, warehouse.login) == ("db.example.com", 5432, "etl")
    assert exported.variables["db_password"].value == "***"  # masked on Airflow 2 too
    assert json.loads(exported.variables["config"].value) == {"retries": 3, "targets": ["a", "b"]}
    assert exported.variables["described"].description == "An x"
    assert exported.connections["extra_2"].port == 82
    assert "Secret" not in repr(exported)

    fake.pools["default_pool"]["slots"] = 64
    assert export_objects(api).pools["default_pool"].slots == 64


def test_applying_an_export_without_secrets_changes_nothing(server):
    fake, api = server
    apply_objects(api, objects_from(OBJECTS_YAML.replace("api_key", "region")))
    exported = export_objects(api)
    exported.variables.pop("db_password")
    fake.log.clear()
    assert set(actions(apply_objects(api, exported)).values()) == {"unchanged"}
    assert writes(fake) == []


@pytest.mark.parametrize("method, path", [("POST", "/connections"), ("POST", "/variables")])
def test_api_errors_never_repeat_the_secrets_sent(server, method, path):
    fake, api = server
    fake.reject[(method, path)] = 422 if fake.major >= 3 else 400
    with pytest.raises(AirflowApiError) as caught:
        apply_objects(api, objects_from())
    message = str(caught.value)
    assert caught.value.status in (400, 422) and path in message
    for secret in SECRETS:
        assert secret not in message


def test_wrong_credentials_are_refused(server):
    fake, api = server
    api.password = "wrong"
    with pytest.raises(AirflowApiError) as caught:
        apply_objects(api, objects_from())
    assert caught.value.status == 401


# --- the CLI ------------------------------------------------------------------------------------


class FakeStack:
    def __init__(self, api, environment=None, running: bool = True) -> None:
        self.running = running
        self._api = api
        self.environment = environment

    def api(self):
        return self._api

    def require_running(self) -> None:
        if not self.running:
            from mwaa_local.errors import MwaaLocalError

            raise MwaaLocalError("Environment is not running.")


@pytest.fixture
def cli(server, monkeypatch, tmp_path):
    fake, api = server
    monkeypatch.setattr(
        commands_objects, "open_runtime", lambda environment: FakeStack(api, environment)
    )
    root = Group("mwaa-local")
    root.add_command(commands_objects.objects)

    def invoke(*args: str):
        return CliRunner().invoke(root, list(args), obj=Project(tmp_path, None))

    return fake, tmp_path, invoke


def test_cli_apply_prints_ids_and_actions_but_no_values(cli):
    fake, project_dir, invoke = cli
    (project_dir / "airflow-objects.yaml").write_text(OBJECTS_YAML)
    result = invoke("objects", "apply")
    assert result.exit_code == 0, result.output
    assert "warehouse" in result.output and "created" in result.output
    assert "7 created, 1 updated, 0 unchanged" in result.output
    for secret in (*SECRETS, "db.example.com", "dev", "ETL jobs"):
        assert secret not in result.output
    again = invoke("objects", "apply")
    assert "0 created, 0 updated, 8 unchanged" in again.output


def test_cli_apply_exits_2_on_a_bad_file_before_touching_the_stack(cli):
    fake, project_dir, invoke = cli
    bad = project_dir / "mine.yaml"
    bad.write_text(
        "pools:\n  etl: {slots: -5}\nconnections:\n  c: {conn_type: x, password: [p1x]}\n"
    )
    result = invoke("objects", "apply", "--file", str(bad))
    assert result.exit_code == 2
    assert "pools.etl.slots" in result.output and "p1x" not in result.output
    assert fake.log == []


def test_cli_apply_reads_an_env_file_and_the_yaml_file_wins(cli):
    fake, project_dir, invoke = cli
    env = project_dir / "local.env"
    env.write_text("AIRFLOW_VAR_ENV=from-env\nAIRFLOW_CONN_EXTRA_DB=postgres://u:pw@h/db\n")
    (project_dir / "airflow-objects.yaml").write_text(OBJECTS_YAML)
    result = invoke("objects", "apply", "--env-file", str(env))
    assert result.exit_code == 0, result.output
    assert fake.variables["env"]["value"] == "dev"
    assert fake.connections["extra_db"]["password"] == "pw"


def test_cli_apply_without_a_file_says_what_to_do(cli):
    fake, project_dir, invoke = cli
    result = invoke("objects", "apply")
    assert result.exit_code == 1 and "airflow-objects.yaml" in result.output


def test_cli_export_prints_yaml_without_secrets_and_never_overwrites_silently(cli):
    fake, project_dir, invoke = cli
    (project_dir / "airflow-objects.yaml").write_text(OBJECTS_YAML)
    invoke("objects", "apply")
    result = invoke("objects", "export")
    assert result.exit_code == 0, result.output
    assert "warehouse:" in result.output and "db_password: '***'" in result.output
    for secret in SECRETS:
        assert secret not in result.output

    target = project_dir / "exported.yaml"
    target.write_text("mine\n")
    refused = invoke("objects", "export", "--output", str(target))
    assert refused.exit_code == 1 and "--force" in refused.output
    assert target.read_text() == "mine\n"
    forced = invoke("objects", "export", "--output", str(target), "--force")
    assert forced.exit_code == 0 and "connections:" in target.read_text()


def test_project_objects_print_a_table_and_a_project_without_a_file_has_none(server, tmp_path):
    fake, api = server
    project = Project(tmp_path, None)
    console = Console(file=io.StringIO(), width=120)
    assert commands_objects.project_objects(project.environment) is None

    (tmp_path / "airflow-objects.yaml").write_text(OBJECTS_YAML)
    loaded = commands_objects.project_objects(project.environment)
    stack = FakeStack(api, project.environment)
    commands_objects.apply_loaded(stack, loaded, console)
    printed = console.file.getvalue()
    assert "public_api" in printed and "created" in printed
    for secret in SECRETS:
        assert secret not in printed


def test_json_values_compare_by_meaning_not_by_spelling(server):
    fake, api = server
    fake.variables["config"] = {"value": '{"b":1,"a":[true]}', "description": None}
    fake.variables["flag"] = {"value": "1", "description": None}
    wanted = objects_from("variables:\n  config: {a: [true], b: 1}\n  flag: 'true'\n")
    assert actions(apply_objects(api, wanted)) == {
        "variable:config": "unchanged",
        "variable:flag": "updated",
    }
    assert fake.variables["flag"]["value"] == "true"


def test_error_details_drop_the_request_body_fastapi_echoes():
    body = {"detail": [{"loc": ["body", "port"], "msg": "bad", "input": {"password": "pw-9"}}]}
    detail = error_detail(json.dumps(body))
    assert "pw-9" not in detail and "input" not in detail and '"msg": "bad"' in detail
    assert error_detail("x" * 600) == "x" * 500


def test_the_stack_api_reaches_the_published_port_as_the_admin(tmp_path, monkeypatch):
    monkeypatch.setenv("MWAA_LOCAL_BIND_ADDRESS", "0.0.0.0")
    monkeypatch.setenv("MWAA_LOCAL_WEBSERVER_PORT", "8099")
    environment = Project(tmp_path, None).environment
    stack = StackClass(environment, None)
    monkeypatch.setattr(stack, "admin_credentials", lambda: ("admin", "pw"))
    api = stack.api()
    assert api.base_url == "http://127.0.0.1:8099"
    assert (api.username, api.password) == ("admin", "pw")
    assert api.major == environment.airflow_version.major
