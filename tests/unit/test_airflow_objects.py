"""airflow-objects.yaml and AIRFLOW_CONN_/AIRFLOW_VAR_ env files: parsing, merging, dumping."""

import json
import textwrap

import pytest

from mwaa_local.spec.airflow_objects import (
    MASK,
    AirflowObjects,
    ConnectionSpec,
    ObjectsFileError,
    PoolSpec,
    VariableSpec,
    dump_objects,
    load_objects,
    mask,
    parse_connection_uri,
    parse_env_file,
    parse_objects_yaml,
    sensitive_names,
)

GOOD_YAML = """\
connections:
  my_postgres:
    conn_type: postgres
    host: db.example.com
    port: 5432
    login: me
    password: s3cret-pg
    schema: analytics
    extra: {sslmode: require}
    description: The warehouse
  my_http: "http://user:pa%40ss@host:80/path?x=1"
  json_extra:
    conn_type: aws
    extra: '{"region_name": "eu-west-1"}'
variables:
  env: dev
  config: {a: 1, b: [1, 2]}
  number: 5
  described: {value: x, description: "An x"}
  not_described: {value: x}
pools:
  etl: {slots: 4, description: "ETL jobs", include_deferred: true}
  unlimited: {slots: -1}
"""


def parse(text: str) -> AirflowObjects:
    return parse_objects_yaml(textwrap.dedent(text), "airflow-objects.yaml")


def problems(text: str) -> list[str]:
    with pytest.raises(ObjectsFileError) as caught:
        parse(text)
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_the_documented_schema_parses():
    objects = parse(GOOD_YAML)
    assert objects.connections["my_postgres"] == ConnectionSpec(
        conn_id="my_postgres",
        conn_type="postgres",
        description="The warehouse",
        host="db.example.com",
        login="me",
        password="s3cret-pg",
        schema="analytics",
        port=5432,
        extra={"sslmode": "require"},
    )
    http = objects.connections["my_http"]
    assert (http.conn_type, http.host, http.port, http.login, http.password, http.schema) == (
        "http",
        "host",
        80,
        "user",
        "pa@ss",
        "path",
    )
    assert http.extra == {"x": "1"}
    assert objects.connections["json_extra"].extra == {"region_name": "eu-west-1"}
    assert objects.variables["env"] == VariableSpec("env", "dev")
    assert json.loads(objects.variables["config"].value) == {"a": 1, "b": [1, 2]}
    # Like `airflow variables set --json`: json.dumps(value, indent=2).
    assert objects.variables["config"].value == json.dumps({"a": 1, "b": [1, 2]}, indent=2)
    assert objects.variables["number"].value == "5"
    assert objects.variables["described"] == VariableSpec("described", "x", "An x")
    assert json.loads(objects.variables["not_described"].value) == {"value": "x"}
    assert objects.pools == {
        "etl": PoolSpec("etl", 4, "ETL jobs", True),
        "unlimited": PoolSpec("unlimited", -1, None, False),
    }


def test_an_empty_file_holds_no_objects():
    assert len(parse("")) == 0
    assert len(parse("connections:\nvariables: {}\n")) == 0


def test_spec_reprs_hide_passwords_extras_and_values():
    objects = parse(GOOD_YAML)
    text = repr(objects)
    assert "s3cret-pg" not in text and "pa@ss" not in text and "sslmode" not in text
    assert "dev" not in repr(objects.variables["env"])


# --- connection URIs ----------------------------------------------------------------------------


def test_uri_fields_are_percent_decoded_as_airflow_does():
    fields = parse_connection_uri(
        "my-conn-type://lo%2Fgin:p%40ss%3Aw%2Ford@db.example.com:5433/my%2Fschema?a=1&b=two%20words"
    )
    assert fields == {
        "conn_type": "my_conn_type",
        "host": "db.example.com",
        "login": "lo/gin",
        "password": "p@ss:w/ord",
        "schema": "my/schema",
        "port": 5433,
        "extra": {"a": "1", "b": "two words"},
    }


def test_uri_extra_param_holds_json_extra():
    extra = json.dumps({"nested": {"k": [1, 2]}, "flag": True})
    uri = "aws://?__extra__=" + extra.replace(" ", "%20").replace('"', "%22")
    spec = parse(f"connections:\n  c: '{uri}'\n").connections["c"]
    assert spec.extra == {"nested": {"k": [1, 2]}, "flag": True}
    assert spec.conn_type == "aws" and spec.host is None and spec.login is None


def test_uri_postgresql_becomes_postgres_and_encoded_host_keeps_its_slashes():
    assert parse_connection_uri("postgresql://h/db")["conn_type"] == "postgres"
    fields = parse_connection_uri("spark://spark%3A%2F%2Fmaster.local:7077")
    assert fields["host"] == "spark://master.local" and fields["port"] == 7077


def test_uri_with_a_protocol_in_the_host():
    fields = parse_connection_uri("http://https://example.com:8443/api")
    assert fields["conn_type"] == "http"
    assert fields["host"] == "https://example.com"
    assert fields["port"] == 8443 and fields["schema"] == "api"


def test_bad_uris_are_errors_that_do_not_repeat_the_uri():
    found = problems(
        """\
        connections:
          no_scheme: "just-a-host"
          bad_port: "http://user:hunter2pw@host:99999/x"
          bad_extra: "http://h/?__extra__=%5B1%5D"
        """
    )
    assert any("connections.no_scheme" in p and "not an Airflow connection URI" in p for p in found)
    assert any("connections.bad_port" in p and "port" in p for p in found)
    assert any("connections.bad_extra.extra" in p and "JSON object" in p for p in found)
    assert "hunter2pw" not in "\n".join(found)


# --- YAML errors --------------------------------------------------------------------------------


def test_unknown_keys_wrong_types_and_bad_values_name_file_line_object_and_key(tmp_path):
    path = tmp_path / "airflow-objects.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            connections:
              pg:
                conn_type: postgres
                hots: db
                port: 70000
                password: {nested: topsecretvalue}
              untyped:
                host: h
            variables:
              "": x
              bad: null
            pools:
              p1: {slots: -2}
              p2: {slots: "many", include_deferred: "yes"}
              p3: {slots: true}
              p4: {slots: 1, size: 3}
            secrets: {}
            """
        )
    )
    with pytest.raises(ObjectsFileError) as caught:
        load_objects(path)
    text = str(caught.value)
    found = caught.value.problems
    assert str(path) in text
    assert "line 4: connections.pg.hots: unknown key; did you mean 'host'?" in text
    assert any(p.startswith("line 5: connections.pg.port:") and "70000" in p for p in found)
    assert any(p.startswith("line 6: connections.pg.password:") for p in found)
    assert "topsecretvalue" not in text
    assert any("connections.untyped.conn_type: is missing" in p for p in found)
    assert any("line 10: variables.:" in p for p in found)
    assert any("line 11: variables.bad: has no value" in p for p in found)
    assert any("line 13: pools.p1.slots: -2 is not a whole number >= -1" in p for p in found)
    assert any("pools.p2.slots: 'many'" in p for p in found)
    assert any("pools.p2.include_deferred: 'yes' is not true or false" in p for p in found)
    assert any("pools.p3.slots: True" in p for p in found)
    assert any("line 16: pools.p4.size: unknown key" in p for p in found)
    assert any("line 17: secrets: unknown key" in p for p in found)


def test_invalid_yaml_names_the_line_without_quoting_it():
    found = problems("connections:\n  c: {password: sesame-open\n")
    assert len(found) == 1 and "invalid YAML" in found[0] and "line " in found[0]
    assert "sesame-open" not in found[0]


def test_a_file_that_is_not_a_mapping_is_an_error():
    assert "not a mapping" in problems("- connections\n")[0]
    assert "connections: is a list" in problems("connections: [a, b]\n")[0]


def test_connection_ids_must_be_ones_airflow_accepts():
    found = problems("connections:\n  'has space': {conn_type: http}\n")
    assert "connections.has space: is not a connection id" in found[0]


def test_default_pool_description_cannot_be_set():
    found = problems("pools:\n  default_pool: {slots: 10, description: mine}\n")
    assert "default_pool.description" in found[0]
    assert parse("pools:\n  default_pool: {slots: 10}\n").pools["default_pool"].slots == 10


def test_masked_placeholders_from_an_export_are_refused():
    found = problems(
        """\
        connections:
          c:
            conn_type: http
            password: '***'
            extra: {api_key: '***', region: '***'}
        variables:
          db_password: '***'
          config: {token: '***', name: '***'}
        """
    )
    text = "\n".join(found)
    assert "connections.c.password: is '***'" in text
    assert "connections.c.extra.api_key" in text
    assert "extra.region" not in text  # not a key Airflow masks: '***' is a real value there
    assert "variables.db_password" in text
    assert "variables.config: holds '***' at .token" in text
    assert ".name" not in text


def test_configured_sensitive_names_extend_the_defaults():
    names = sensitive_names(" pin, Hidden ")
    assert "pin" in names and "hidden" in names and "password" in names
    assert mask({"my_pin": "1", "other": "2"}, None, names) == {"my_pin": MASK, "other": "2"}


def test_mask_follows_airflows_redact():
    value = {"password": {"a": "x", "n": 1}, "list": [{"token": "t"}], "ok": "v"}
    assert mask(value) == {"password": {"a": MASK, "n": 1}, "list": [{"token": MASK}], "ok": "v"}
    assert mask("plain", "MY_API_KEY") == MASK
    assert mask("plain", "region") == "plain"


# --- the env file -------------------------------------------------------------------------------

ENV_FILE = """\
# connections and variables for local runs
export AIRFLOW_CONN_MY_DB='postgres://u:p%23w@db:5432/warehouse'
AIRFLOW_CONN_MY_API="{\\"conn_type\\": \\"http-api\\", \\"host\\": \\"api\\", \\"port\\": \\"80\\"}"
AIRFLOW_VAR_ENV=staging   # a comment
AIRFLOW_VAR_QUOTED="two words"
OTHER_SETTING=ignored
AIRFLOW__CORE__LOAD_EXAMPLES=False

not an assignment
"""


def test_env_file_lines_become_lower_case_ids():
    objects = parse_env_file(ENV_FILE, ".env")
    db = objects.connections["my_db"]
    assert (db.conn_type, db.login, db.password, db.host, db.port, db.schema) == (
        "postgres",
        "u",
        "p#w",
        "db",
        5432,
        "warehouse",
    )
    api = objects.connections["my_api"]
    assert (api.conn_type, api.host, api.port) == ("http_api", "api", 80)
    assert objects.variables == {
        "env": VariableSpec("env", "staging"),
        "quoted": VariableSpec("quoted", "two words"),
    }


def test_env_file_errors_carry_line_numbers():
    text = (
        "AIRFLOW_VAR_OK=1\n"
        "AIRFLOW_CONN_BAD=not-a-uri\n"
        "\n"
        "AIRFLOW_CONN_lower=http://h\n"
        "AIRFLOW_VAR_OPEN='never closed\n"
        'AIRFLOW_CONN_JS={"conn_type": "http", "port": "eighty", "password": "pw-in-json"}\n'
    )
    with pytest.raises(ObjectsFileError) as caught:
        parse_env_file(text, "local.env")
    found = caught.value.problems
    assert str(caught.value).startswith("local.env: line 2: AIRFLOW_CONN_BAD:")
    assert any(
        p.startswith("line 4: AIRFLOW_CONN_lower:") and "AIRFLOW_CONN_LOWER" in p for p in found
    )
    assert any(p.startswith("line 5: AIRFLOW_VAR_OPEN:") and "closing" in p for p in found)
    assert any(p.startswith("line 6: AIRFLOW_CONN_JS.port:") for p in found)
    assert "pw-in-json" not in str(caught.value) and "never closed" not in str(caught.value)


def test_the_yaml_file_wins_over_the_env_file(tmp_path):
    env = tmp_path / "local.env"
    env.write_text("AIRFLOW_CONN_SHARED=http://from-env\nAIRFLOW_CONN_ENV_ONLY=http://e\n")
    env.write_text(env.read_text() + "AIRFLOW_VAR_SHARED=env\nAIRFLOW_VAR_ENV_ONLY=e\n")
    objects_file = tmp_path / "airflow-objects.yaml"
    objects_file.write_text(
        "connections:\n  shared: {conn_type: http, host: from-yaml}\nvariables:\n  shared: yaml\n"
    )
    objects = load_objects(objects_file, env)
    assert objects.connections["shared"].host == "from-yaml"
    assert objects.connections["env_only"].host == "e"
    assert objects.variables["shared"].value == "yaml"
    assert objects.variables["env_only"].value == "e"


def test_a_missing_file_is_a_file_error(tmp_path):
    with pytest.raises(ObjectsFileError, match="does not exist"):
        load_objects(tmp_path / "nope.yaml")


# --- dumping ------------------------------------------------------------------------------------


def test_dump_then_parse_gives_the_same_objects_without_passwords():
    objects = parse(GOOD_YAML)
    text = dump_objects(objects)
    assert text.startswith("#") and "passwords are not exported" in text.lower()
    assert "s3cret-pg" not in text and "pa@ss" not in text
    again = parse_objects_yaml(text, "export.yaml")
    assert again.variables == objects.variables
    assert again.pools == objects.pools
    for conn_id, spec in objects.connections.items():
        assert again.connections[conn_id] == ConnectionSpec(**{**spec.__dict__, "password": None})


def test_dump_keeps_strings_that_look_like_json_scalars_as_strings():
    objects = AirflowObjects(
        variables={
            "n": VariableSpec("n", "5"),
            "t": VariableSpec("t", "true"),
            "obj": VariableSpec("obj", '{"value": 1, "description": "looks described"}'),
            "d": VariableSpec("d", "[1, 2]", "listed"),
        }
    )
    again = parse_objects_yaml(dump_objects(objects), "x")
    assert again.variables["n"].value == "5" and again.variables["t"].value == "true"
    assert json.loads(again.variables["obj"].value) == {
        "value": 1,
        "description": "looks described",
    }
    assert again.variables["obj"].description is None
    assert json.loads(again.variables["d"].value) == [1, 2]
    assert again.variables["d"].description == "listed"


def test_dump_of_nothing_parses_to_nothing():
    assert len(parse_objects_yaml(dump_objects(AirflowObjects()), "x")) == 0
