"""The shape checker against botocore's MWAA model: it must catch what a renamed or mistyped
member looks like, and accept what the model allows."""

import pytest

from mwaa_local.api import model, shapes
from tests.unit.api_fakes import environment


def _shape(name: str):
    return model.service_model().shape_for(name)


def _problems(name: str, value, strict: bool = True) -> list[str]:
    return [str(p) for p in shapes.check(_shape(name), value, "", strict=strict)]


def test_every_pattern_in_the_model_compiles():
    service = model.service_model()
    patterns = {
        service.shape_for(n).metadata["pattern"]
        for n in service.shape_names
        if "pattern" in service.shape_for(n).metadata
    }

    assert len(patterns) > 10
    for pattern in patterns:
        shapes.pattern_matcher(pattern)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("team", True), ("Ünïcødé 42", True), ("a:b/c=d+e-f@g_h.i", True), ("no#hash", False)],
)
def test_unicode_class_patterns_follow_java(value, ok):
    assert (_problems("TagKey", value) == []) is ok


def test_patterns_match_the_whole_value():
    assert _problems("EnvironmentName", "MyEnv_1-a") == []
    assert _problems("EnvironmentName", "1Env") != []
    assert _problems("EnvironmentName", "Env name") != []  # a prefix match is not enough


def test_a_valid_environment_has_no_problems():
    wire = model.serialize_output(
        model.service_model().operation_model("GetEnvironment"),
        {"Environment": environment("E")},
    )

    assert _problems("GetEnvironmentOutput", wire) == []


def test_renamed_mistyped_and_out_of_range_members_are_caught():
    env = model.serialize_output(
        model.service_model().operation_model("GetEnvironment"),
        {"Environment": environment("E")},
    )["Environment"]
    env["Satus"] = env.pop("Status")
    env["MaxWorkers"] = "10"
    env["CreatedAt"] = "2026-03-01T12:30:00Z"  # rest-json wants epoch seconds
    env["WebserverAccessMode"] = "PUBLIC"
    env["NetworkConfiguration"]["SubnetIds"] = ["subnet-a"]
    env["LoggingConfiguration"]["TaskLogs"]["Enabled"] = "true"

    problems = _problems("Environment", env)

    assert problems == [
        "Value '2026-03-01T12:30:00Z' at 'CreatedAt' failed to satisfy constraint: "
        "Member must be of type timestamp (epoch seconds)",
        "Value '10' at 'MaxWorkers' failed to satisfy constraint: Member must be of type integer",
        "Value '['subnet-a']' at 'NetworkConfiguration.SubnetIds' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2",
        "Value 'true' at 'LoggingConfiguration.TaskLogs.Enabled' failed to satisfy constraint: "
        "Member must be of type boolean",
        "Value 'PUBLIC' at 'WebserverAccessMode' failed to satisfy constraint: "
        "Member must satisfy enum value set: [PRIVATE_ONLY, PUBLIC_ONLY, PUBLIC_AND_PRIVATE]",
        "Value 'AVAILABLE' at 'Satus' failed to satisfy constraint: "
        "Member is not a member of Environment",
    ]


def test_required_members_and_lengths():
    assert _problems("ListEnvironmentsOutput", {}) == [
        "Value null at 'Environments' failed to satisfy constraint: Member must not be null"
    ]
    assert _problems("Environment", {"Name": "x" * 81}) == [
        f"Value '{'x' * 81}' at 'Name' failed to satisfy constraint: "
        "Member must have length less than or equal to 80"
    ]


def test_sensitive_values_are_not_echoed():
    problems = _problems("Environment", {"AirflowConfigurationOptions": {"core.x": "\n"}})

    assert problems == [
        "Value '***' at 'AirflowConfigurationOptions.core.x.value' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [ -~]+"
    ]


def test_the_local_hostname_allowances():
    assert _problems("CreateCliTokenResponse", {"WebServerHostname": "127.0.0.1:8080"}) == []
    assert _problems("CreateCliTokenResponse", {"WebServerHostname": "http://x"}) != []
    assert _problems("Environment", {"WebserverUrl": "localhost:8080"}) == []
    assert _problems("Environment", {"WebserverUrl": "https://x.example"}) == []


def test_an_empty_tag_map_is_allowed_in_answers_only():
    assert _problems("ListTagsForResourceOutput", {"Tags": {}}) == []
    assert _problems("TagResourceInput", {"ResourceArn": "x", "Tags": {}}, strict=False) != []


def test_requests_drop_members_the_model_does_not_name():
    operation = model.service_model().operation_model("UpdateEnvironment")

    params = model.parse_request(
        operation, {"Name": "E"}, {}, b'{"MaxWorkers": 3, "FutureMember": {"x": 1}}'
    )

    assert params == {"Name": "E", "MaxWorkers": 3}
