"""The control-plane API against boto3's real mwaa client (host prefix injection off), the
server checking every answer against botocore's output shapes."""

import datetime
import http.client
import json

import pytest
from botocore import UNSIGNED

from tests.unit.api_fakes import (
    ACCESS_KEY,
    FakeBackend,
    arn,
    environment,
    mwaa_client,
)


def test_get_environment_round_trips_every_member(mwaa, api_backend):
    env = mwaa.get_environment(Name="MyAirflow3")["Environment"]

    assert env["Name"] == "MyAirflow3"
    assert env["Arn"] == arn("MyAirflow3")
    assert env["Status"] == "AVAILABLE"
    assert env["CreatedAt"] == datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC)
    assert env["LastUpdate"]["CreatedAt"] == datetime.datetime(
        2026, 3, 1, 13, 30, tzinfo=datetime.UTC
    )
    assert env["NetworkConfiguration"]["SubnetIds"] == ["subnet-local-a", "subnet-local-b"]
    assert env["LoggingConfiguration"]["WorkerLogs"] == {"Enabled": False, "LogLevel": "WARNING"}
    assert env["AirflowConfigurationOptions"] == {"core.lazy_load_plugins": "False"}
    assert env["Tags"] == {"team": "data"}


def test_timestamps_travel_as_epoch_seconds(api_server):
    connection = http.client.HTTPConnection(api_server.address, timeout=5)
    connection.request("GET", "/environments/MyAirflow3", headers={"Authorization": _signed()})
    answer = connection.getresponse()
    body = json.loads(answer.read())

    assert answer.status == 200
    created = datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.UTC).timestamp()
    assert body["Environment"]["CreatedAt"] == created


def test_unknown_environment_raises_resource_not_found(mwaa):
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException) as caught:
        mwaa.get_environment(Name="Nope")

    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Nope" in caught.value.response["Error"]["Message"]


def test_list_environments_pages_with_the_paginator(api_server, api_backend):
    for index in range(7):
        name = f"Env{index}"
        api_backend.environments[name] = environment(name)
        api_backend.tags[arn(name)] = {}
    mwaa = mwaa_client(api_server)

    pages = list(mwaa.get_paginator("list_environments").paginate(PaginationConfig={"PageSize": 3}))

    names = [name for page in pages for name in page["Environments"]]
    assert names == sorted(api_backend.environments)
    assert [len(p["Environments"]) for p in pages] == [3, 3, 3]
    assert "NextToken" not in pages[-1]
    assert mwaa.list_environments()["Environments"] == sorted(api_backend.environments)


def test_max_results_outside_1_to_25_is_a_validation_error(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException) as caught:
        # botocore does not check MaxResults' range client-side: the server must.
        mwaa.list_environments(MaxResults=26)

    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "'MaxResults'" in message
    assert "less than or equal to 25" in message


def test_a_bad_next_token_is_a_validation_error(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException):
        mwaa.list_environments(NextToken="not base64!")


def test_update_environment_reaches_the_backend_and_returns_the_arn(mwaa, api_backend):
    answer = mwaa.update_environment(
        Name="MyAirflow2",
        MaxWorkers=5,
        AirflowConfigurationOptions={"core.parallelism": "64"},
        RequirementsS3ObjectVersion="4",
    )

    assert answer["Arn"] == arn("MyAirflow2")
    assert api_backend.updates == [
        (
            "MyAirflow2",
            {
                "MaxWorkers": 5,
                "AirflowConfigurationOptions": {"core.parallelism": "64"},
                "RequirementsS3ObjectVersion": "4",
            },
        )
    ]
    assert mwaa.get_environment(Name="MyAirflow2")["Environment"]["Status"] == "UPDATING"


def test_update_input_is_checked_against_the_input_shape(api_server):
    # botocore validates client-side; a client with validation off shows the server's check.
    loose = mwaa_client(api_server, parameter_validation=False)

    with pytest.raises(loose.exceptions.ValidationException) as caught:
        loose.update_environment(
            Name="MyAirflow3",
            MinWorkers=0,
            WebserverAccessMode="EVERYWHERE",
            AirflowConfigurationOptions={"Core.Bad": "x"},
            WeeklyMaintenanceWindowStart="SUN:03:15",
        )

    message = caught.value.response["Error"]["Message"]
    assert message.startswith("4 validation errors detected: ")
    assert "'MinWorkers' failed to satisfy constraint: Member must have value greater" in message
    assert "Member must satisfy enum value set: [PRIVATE_ONLY, PUBLIC_ONLY" in message
    assert "'AirflowConfigurationOptions.Core.Bad.key'" in message
    assert "'WeeklyMaintenanceWindowStart'" in message


def test_create_and_delete_say_what_to_run_instead(mwaa):
    with pytest.raises(mwaa.exceptions.ValidationException) as created:
        mwaa.create_environment(
            Name="New",
            ExecutionRoleArn=f"arn:aws:iam::{'1' * 12}:role/r",
            SourceBucketArn="arn:aws:s3:::b",
            DagS3Path="dags",
            NetworkConfiguration={"SubnetIds": ["subnet-a", "subnet-b"]},
        )
    with pytest.raises(mwaa.exceptions.ValidationException) as deleted:
        mwaa.delete_environment(Name="MyAirflow3")

    assert "mwaa-local init" in created.value.response["Error"]["Message"]
    assert "mwaa-local down" in deleted.value.response["Error"]["Message"]


def test_tags_are_kept_by_the_backend(mwaa):
    resource = arn("MyAirflow3")

    mwaa.tag_resource(ResourceArn=resource, Tags={"owner": "me", "cost-center": "42"})
    mwaa.untag_resource(ResourceArn=resource, tagKeys=["team", "cost-center"])

    assert mwaa.list_tags_for_resource(ResourceArn=resource)["Tags"] == {"owner": "me"}
    mwaa.untag_resource(ResourceArn=resource, tagKeys=["owner"])
    assert mwaa.list_tags_for_resource(ResourceArn=resource)["Tags"] == {}
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException):
        mwaa.list_tags_for_resource(ResourceArn=arn("Other"))


def test_invoke_rest_api_answers_airflows_status_and_body(mwaa, api_backend):
    answer = mwaa.invoke_rest_api(
        Name="MyAirflow3", Method="GET", Path="/dags", QueryParameters={"limit": 1}
    )

    assert answer["RestApiStatusCode"] == 200
    assert answer["RestApiResponse"] == {"dags": [{"dag_id": "example", "is_paused": False}]}
    assert api_backend.rest_calls == [("MyAirflow3", "GET", "/dags", {"limit": 1}, None)]
    deleted = mwaa.invoke_rest_api(Name="MyAirflow3", Method="DELETE", Path="/variables/k")
    assert deleted["RestApiStatusCode"] == 204
    assert "RestApiResponse" not in deleted


def test_invoke_rest_api_4xx_raises_rest_api_client_exception(mwaa):
    with pytest.raises(mwaa.exceptions.RestApiClientException) as caught:
        mwaa.invoke_rest_api(Name="MyAirflow3", Method="GET", Path="/dags/missing")

    assert caught.value.response["RestApiStatusCode"] == 404
    assert caught.value.response["RestApiResponse"]["title"] == "DAG not found"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_invoke_rest_api_5xx_raises_rest_api_server_exception(mwaa):
    with pytest.raises(mwaa.exceptions.RestApiServerException) as caught:
        mwaa.invoke_rest_api(Name="MyAirflow3", Method="POST", Path="/other", Body={"a": 1})

    assert caught.value.response["RestApiStatusCode"] == 500


def test_create_cli_token_names_this_server(mwaa, api_server):
    answer = mwaa.create_cli_token(Name="MyAirflow3")

    assert answer["WebServerHostname"] == api_server.address
    assert len(answer["CliToken"]) >= 32
    with pytest.raises(mwaa.exceptions.ResourceNotFoundException):
        mwaa.create_cli_token(Name="Nope")


def test_create_web_login_token_names_both_identities(mwaa, api_server):
    answer = mwaa.create_web_login_token(Name="MyAirflow3")

    assert answer["WebServerHostname"] == api_server.address
    assert answer["AirflowIdentity"] == "admin"
    assert answer["IamIdentity"] == f"user/{ACCESS_KEY}"


def test_a_backend_failure_is_an_internal_server_exception(mwaa, api_backend):
    def broken(*args):
        raise RuntimeError("compose is gone")

    api_backend.rest_handler = broken

    with pytest.raises(mwaa.exceptions.InternalServerException) as caught:
        mwaa.invoke_rest_api(Name="MyAirflow3", Method="GET", Path="/dags")

    assert "compose is gone" in caught.value.response["Error"]["Message"]


def _signed() -> str:
    scope = f"{ACCESS_KEY}/20260301/us-east-1/airflow/aws4_request"
    return f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={'0' * 64}"


def _raw(api_server, method: str, path: str, headers: dict[str, str]):
    connection = http.client.HTTPConnection(api_server.address, timeout=5)
    connection.request(method, path, headers=headers)
    answer = connection.getresponse()
    return answer.status, answer.getheader("x-amzn-ErrorType"), json.loads(answer.read())


def test_a_request_without_sigv4_is_refused_as_access_denied(api_server):
    status, code, body = _raw(api_server, "GET", "/environments", {})

    assert (status, code) == (403, "AccessDeniedException")
    assert "Missing Authentication Token" in body["Message"]


def test_a_non_sigv4_authorization_is_refused(api_server):
    status, code, _ = _raw(api_server, "GET", "/environments", {"Authorization": "Bearer abc"})
    wrong_service = _signed().replace("/airflow/", "/s3/")
    status2, _, body2 = _raw(api_server, "GET", "/environments", {"Authorization": wrong_service})

    assert (status, code, status2) == (403, "AccessDeniedException", 403)
    assert "'airflow'" in body2["Message"]


def test_botocore_raises_access_denied_for_an_unsigned_request(api_server):
    anonymous = mwaa_client(api_server, signature_version=UNSIGNED)

    with pytest.raises(anonymous.exceptions.AccessDeniedException):
        anonymous.list_environments()


def test_the_host_header_is_ignored(api_server):
    """A client with host prefix injection on sends Host: api.<host>; routing is by path."""
    status, _, body = _raw_ok(
        api_server, {"Host": "api.localhost:1234", "Authorization": _signed()}
    )

    assert status == 200
    assert sorted(body["Environments"]) == ["MyAirflow2", "MyAirflow3"]


def _raw_ok(api_server, headers):
    connection = http.client.HTTPConnection(api_server.address, timeout=5)
    connection.putrequest("GET", "/environments", skip_host=True)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    answer = connection.getresponse()
    return answer.status, dict(answer.getheaders()), json.loads(answer.read())


def test_an_unknown_path_is_an_unknown_operation(api_server):
    status, code, _ = _raw(api_server, "GET", "/nothing/here", {"Authorization": _signed()})

    assert (status, code) == (404, "UnknownOperationException")


def test_a_response_that_breaks_its_shape_becomes_an_internal_error(mwaa, api_server, api_backend):
    api_backend.environments["MyAirflow3"]["Statuss"] = "AVAILABLE"  # a renamed member
    api_backend.environments["MyAirflow3"]["MaxWorkers"] = "10"  # a mistyped one

    with pytest.raises(mwaa.exceptions.InternalServerException) as caught:
        mwaa.get_environment(Name="MyAirflow3")

    message = caught.value.response["Error"]["Message"]
    assert "'Environment.Statuss' failed to satisfy constraint: Member is not a member" in message
    assert (
        "'Environment.MaxWorkers' failed to satisfy constraint: Member must be of type" in message
    )
    assert len(api_server.shape_errors) == 1
    api_server.shape_errors.clear()  # seen; the fixture asserts none is left


def test_every_model_operation_has_a_handler():
    from mwaa_local.api.model import service_model
    from mwaa_local.api.operations import HANDLERS

    assert set(service_model().operation_names) <= set(HANDLERS)


def test_fake_backend_answers_match_the_model(api_backend: FakeBackend):
    """The fake's own environment is valid, so a failure above is the server's."""
    from mwaa_local.api import model

    operation = model.service_model().operation_model("GetEnvironment")
    wire = model.serialize_output(
        operation, {"Environment": api_backend.get_environment("MyAirflow3")}
    )

    assert model.output_problems(operation, wire) == []
