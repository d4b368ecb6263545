"""`aws mwaa get-environment` output -> a settings file that loads back."""

import json
from pathlib import Path

import pytest
import yaml

from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.from_environment import render_settings_yaml, settings_from_get_environment
from mwaa_local.spec.settings import SETTINGS_KEYS, load_environment

FIXTURE = Path(__file__).parent.parent / "fixtures" / "get-environment.json"


@pytest.fixture
def fixture_text() -> str:
    return FIXTURE.read_text()


def test_keeps_the_create_environment_inputs_in_order(fixture_text: str) -> None:
    settings, _ = settings_from_get_environment(fixture_text)

    assert list(settings) == [
        "Name",
        "AirflowVersion",
        "EnvironmentClass",
        "AirflowConfigurationOptions",
        "MinWorkers",
        "MaxWorkers",
        "Schedulers",
        "MinWebservers",
        "MaxWebservers",
        "DagS3Path",
        "PluginsS3Path",
        "PluginsS3ObjectVersion",
        "RequirementsS3Path",
        "RequirementsS3ObjectVersion",
        "StartupScriptS3Path",
        "StartupScriptS3ObjectVersion",
        "SourceBucketArn",
        "ExecutionRoleArn",
        "WebserverAccessMode",
        "WeeklyMaintenanceWindowStart",
        "EndpointManagement",
        "Tags",
        "LoggingConfiguration",
        "KmsKey",
        "NetworkConfiguration",
    ]
    assert settings["AirflowVersion"] == "2.10.3"
    assert settings["AirflowConfigurationOptions"]["celery.worker_autoscale"] == "10,10"
    assert settings["NetworkConfiguration"]["SubnetIds"] == [
        "subnet-0123456789abcdef0",
        "subnet-0fedcba9876543210",
    ]


def test_logging_configuration_takes_the_input_shape(fixture_text: str) -> None:
    settings, _ = settings_from_get_environment(fixture_text)

    logging = settings["LoggingConfiguration"]
    assert logging["TaskLogs"] == {"Enabled": True, "LogLevel": "INFO"}
    assert logging["WebserverLogs"] == {"Enabled": False, "LogLevel": "WARNING"}
    assert all("CloudWatchLogGroupArn" not in module for module in logging.values())


def test_names_what_is_dropped_and_why(fixture_text: str) -> None:
    _, dropped = settings_from_get_environment(fixture_text)

    for key in (
        "Arn",
        "CeleryExecutorQueue",
        "CreatedAt",
        "LastUpdate",
        "ServiceRoleArn",
        "Status",
        "WebserverUrl",
    ):
        assert f"{key}: output only" in dropped
    assert "LoggingConfiguration.TaskLogs.CloudWatchLogGroupArn: output only" in dropped
    assert len(dropped) == 7 + 5


def test_accepts_the_bare_environment_object(fixture_text: str) -> None:
    inner = json.loads(fixture_text)["Environment"]
    inner["SomethingNew"] = 1

    settings, dropped = settings_from_get_environment(json.dumps(inner))

    assert settings["Name"] == "analytics-prod"
    assert "SomethingNew: not a CreateEnvironment setting" in dropped


def test_keeps_an_unsupported_version_for_validation_to_report(fixture_text: str) -> None:
    data = json.loads(fixture_text)
    data["Environment"]["AirflowVersion"] = "2.7.2"

    settings, _ = settings_from_get_environment(json.dumps(data))

    assert settings["AirflowVersion"] == "2.7.2"


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(MwaaLocalError, match=r"line 3, column 5"):
        settings_from_get_environment('{\n  "Environment": {\n    oops\n  }\n}')


def test_json_that_is_not_an_environment_is_an_error() -> None:
    with pytest.raises(MwaaLocalError, match="not an MWAA environment"):
        settings_from_get_environment('{"Environments": ["a", "b"]}')


def test_rendered_yaml_has_header_and_keeps_strings(fixture_text: str) -> None:
    settings, dropped = settings_from_get_environment(fixture_text)

    text = render_settings_yaml(settings, dropped, "get-environment.json")

    assert text.startswith("# mwaa-local.yaml, generated from get-environment.json.")
    assert "#   WebserverUrl: output only\n" in text
    assert "AirflowVersion: '2.10.3'\n" in text
    assert "celery.worker_autoscale: '10,10'\n" in text
    assert "core.lazy_load_plugins: 'False'\n" in text
    assert yaml.safe_load(text) == settings


def test_round_trip_through_load_environment(fixture_text: str, tmp_path: Path) -> None:
    settings, dropped = settings_from_get_environment(fixture_text)
    (tmp_path / "mwaa-local.yaml").write_text(render_settings_yaml(settings, dropped, "x.json"))

    env = load_environment(tmp_path, environ={})

    assert env.name == "analytics-prod"
    assert env.airflow_version.airflow == "2.10.3"
    assert env.environment_class == "mw1.medium"
    assert env.airflow_configuration_options["core.lazy_load_plugins"] == "False"
    assert env.airflow_configuration_options["core.default_task_retries"] == "3"
    assert env.worker_concurrency == 10
    assert (env.min_workers, env.max_workers, env.schedulers) == (2, 8, 2)
    assert (env.min_webservers, env.max_webservers) == (2, 3)
    assert env.plugins_s3_object_version == "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert env.startup_script_s3_path == "startup/startup.sh"
    assert env.source_bucket_arn == "arn:aws:s3:::airflow-analytics-prod"
    assert env.weekly_maintenance_window_start == "SUN:03:30"
    assert env.tags == {"cost-center": "1234", "team": "data-platform"}
    assert env.logging_configuration == settings["LoggingConfiguration"]
    assert env.kms_key.startswith("arn:aws:kms:")
    assert env.warnings == ()


def test_every_kept_key_is_a_settings_key(fixture_text: str) -> None:
    settings, _ = settings_from_get_environment(fixture_text)

    assert set(settings) <= set(SETTINGS_KEYS)
