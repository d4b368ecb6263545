"""mwaa-local.yaml: defaults, MWAA's patterns and ranges, MWAA_LOCAL_* variables."""

import textwrap
from pathlib import Path

import pytest

from mwaa_local.errors import SettingsError
from mwaa_local.spec import versions
from mwaa_local.spec.settings import (
    Environment,
    LocalSettings,
    default_name,
    load_environment,
    local_env_var,
)

GOOD_FILE = """\
Name: my-env
AirflowVersion: "2.10.3"
EnvironmentClass: mw1.medium
MinWorkers: 2
MaxWorkers: 12
Schedulers: 3
MinWebservers: 2
MaxWebservers: 4
AirflowConfigurationOptions:
  core.lazy_load_plugins: False
  core.default_task_retries: 3
  celery.worker_autoscale: "16,12"
  secrets.backend_kwargs: '{"connections_prefix" : "airflow/connections"}'
DagS3Path: dags
PluginsS3Path: plugins.zip
PluginsS3ObjectVersion: 3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY
RequirementsS3Path: requirements/requirements.txt
StartupScriptS3Path: startup/startup.sh
SourceBucketArn: arn:aws:s3:::airflow-my-env
ExecutionRoleArn: arn:aws:iam::123456789012:role/mwaa
WebserverAccessMode: PUBLIC_ONLY
WeeklyMaintenanceWindowStart: SUN:14:30
EndpointManagement: SERVICE
Tags:
  team: data
  cost-center: 1234
LoggingConfiguration:
  TaskLogs: {Enabled: true, LogLevel: INFO}
NetworkConfiguration:
  SubnetIds: [subnet-1, subnet-2]
KmsKey: alias/my-key
Local:
  BaseImage: local/python:3.12-bookworm
  WebserverPort: 8081
  BindAddress: 0.0.0.0
  ConstraintsMirror: mirror
  DagSyncInterval: 0.5
  StartupScriptTimeout: 60
"""


def write(project: Path, text: str) -> Path:
    path = project / "mwaa-local.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems_for(project: Path, text: str, environ: dict | None = None) -> list[str]:
    write(project, text)
    with pytest.raises(SettingsError) as caught:
        load_environment(project, environ=environ or {})
    return caught.value.problems


def only_problem(project: Path, text: str) -> str:
    problems = problems_for(project, text)
    assert len(problems) == 1, problems
    return problems[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "sales-etl"
    folder.mkdir()
    return folder


def test_defaults_without_a_settings_file(project: Path) -> None:
    env = load_environment(project, environ={})

    assert env.name == "sales-etl"
    assert env.airflow_version == versions.DEFAULT
    assert env.environment_class == "mw1.small"
    assert (env.min_workers, env.max_workers) == (1, 10)
    assert env.schedulers == 2
    assert (env.min_webservers, env.max_webservers) == (2, 2)
    assert env.dag_s3_path == "dags"
    assert env.plugins_s3_path is None
    assert env.requirements_s3_path == "requirements/requirements.txt"
    assert env.startup_script_s3_path == "startup/startup.sh"
    assert env.airflow_configuration_options == {}
    assert env.local == LocalSettings()
    assert env.local.startup_script_timeout == 300
    assert env.settings_file is None
    assert env.warnings == ()
    assert env.worker_concurrency == 5  # mw1.small


def test_a_good_full_file(project: Path) -> None:
    path = write(project, GOOD_FILE)

    env = load_environment(project, environ={})

    assert env.settings_file == path
    assert env.name == "my-env"
    assert env.airflow_version.airflow == "2.10.3"
    assert env.environment_class == "mw1.medium"
    assert (env.min_workers, env.max_workers, env.schedulers) == (2, 12, 3)
    assert (env.min_webservers, env.max_webservers) == (2, 4)
    assert env.airflow_configuration_options == {
        "core.lazy_load_plugins": "False",
        "core.default_task_retries": "3",
        "celery.worker_autoscale": "16,12",
        "secrets.backend_kwargs": '{"connections_prefix" : "airflow/connections"}',
    }
    assert env.worker_concurrency == 16
    assert env.plugins_s3_path == "plugins.zip"
    assert env.plugins_s3_object_version == "3sL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert env.source_bucket_arn == "arn:aws:s3:::airflow-my-env"
    assert env.webserver_access_mode == "PUBLIC_ONLY"
    assert env.weekly_maintenance_window_start == "SUN:14:30"
    assert env.tags == {"team": "data", "cost-center": "1234"}
    assert env.logging_configuration == {"TaskLogs": {"Enabled": True, "LogLevel": "INFO"}}
    assert env.network_configuration == {"SubnetIds": ["subnet-1", "subnet-2"]}
    assert env.kms_key == "alias/my-key"
    assert env.local.base_image == "local/python:3.12-bookworm"
    assert env.local.webserver_port == 8081
    assert env.local.bind_address == "0.0.0.0"
    assert env.local.constraints_mirror == project / "mirror"
    assert env.local.dag_sync_interval == 0.5
    assert env.local.startup_script_timeout == 60
    assert env.local.redis_image == "redis:7"
    assert env.warnings == ()


def test_an_explicit_settings_file_elsewhere(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("Name: elsewhere\n")

    env = load_environment(project, settings_file=other, environ={})

    assert env.name == "elsewhere"
    assert env.settings_file == other


def test_a_missing_explicit_settings_file_is_named(project: Path) -> None:
    missing = project / "nope.yaml"

    with pytest.raises(SettingsError) as caught:
        load_environment(project, settings_file=missing, environ={})

    assert caught.value.source == str(missing)
    assert str(missing) in str(caught.value)


def test_an_empty_file_means_defaults(project: Path) -> None:
    write(project, "# nothing yet\n")

    assert load_environment(project, environ={}).environment_class == "mw1.small"


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("sales-etl", "sales-etl"), ("9 my proj.v2", "myprojv2"), ("___", "mwaa-local")],
)
def test_default_name_is_valid_for_mwaa(tmp_path: Path, folder: str, expected: str) -> None:
    assert default_name(tmp_path / folder) == expected


def test_wrong_class_name_is_one_problem_naming_the_key(project: Path) -> None:
    problem = only_problem(project, "EnvironmentClass: mw1.tiny\nSchedulers: 1\n")

    assert problem.startswith("EnvironmentClass: 'mw1.tiny' is not an environment class")
    assert "mw1.micro, mw1.small, mw1.medium" in problem


def test_out_of_range_min_workers_is_one_problem(project: Path) -> None:
    problem = only_problem(project, "MinWorkers: 0\n")

    assert problem == "MinWorkers: 0 is out of range; MWAA accepts 1 to 25 (quota adjustable to 50)"


def test_malformed_configuration_key_is_one_problem(project: Path) -> None:
    problem = only_problem(project, "AirflowConfigurationOptions:\n  Core.Parallelism: '32'\n")

    assert problem == (
        "AirflowConfigurationOptions: key 'Core.Parallelism' does not match MWAA's pattern "
        "[a-z]+([a-z0-9._]*[a-z0-9_]+)?"
    )


def test_all_problems_are_reported_together(project: Path) -> None:
    problems = problems_for(
        project,
        """\
        Name: 1bad
        AirflowVersion: 2.1
        MaxWorkers: 51
        DagS3Path: /dags
        StartupScriptS3Path: startup/startup.py
        WeeklyMaintenanceWindowStart: SUN:14:15
        EndpointManagement: AWS
        """,
    )

    keys = [p.split(":")[0] for p in problems]
    assert keys == [
        "Name",
        "AirflowVersion",
        "MaxWorkers",
        "DagS3Path",
        "StartupScriptS3Path",
        "WeeklyMaintenanceWindowStart",
        "EndpointManagement",
    ]
    assert "2.9.2, 2.10.1" in problems[1]


def test_settings_error_names_the_file(project: Path) -> None:
    path = write(project, "MinWorkers: 0\n")

    with pytest.raises(SettingsError) as caught:
        load_environment(project, environ={})

    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: MinWorkers: 0")
    assert caught.value.exit_code == 2


def test_min_greater_than_max(project: Path) -> None:
    assert only_problem(project, "MinWorkers: 5\nMaxWorkers: 3\n") == (
        "MinWorkers: 5 is greater than MaxWorkers (3)"
    )
    assert only_problem(project, "MinWorkers: 12\n") == (
        "MinWorkers: 12 is greater than MaxWorkers (10, the default)"
    )
    assert only_problem(project, "MinWebservers: 4\nMaxWebservers: 3\n") == (
        "MinWebservers: 4 is greater than MaxWebservers (3)"
    )


def test_worker_counts_must_be_whole_numbers(project: Path) -> None:
    assert only_problem(project, "MaxWorkers: ten\n") == "MaxWorkers: 'ten' is not a whole number"
    assert only_problem(project, "MaxWorkers: true\n") == "MaxWorkers: True is not a whole number"


def test_workers_above_the_default_quota_warn(project: Path) -> None:
    write(project, "MaxWorkers: 40\n")

    env = load_environment(project, environ={})

    assert env.max_workers == 40
    assert len(env.warnings) == 1
    assert env.warnings[0].startswith("MaxWorkers: 40 is above MWAA's default quota of 25")


def test_schedulers_and_webservers_follow_the_class_range(project: Path) -> None:
    assert only_problem(project, "Schedulers: 1\n") == (
        "Schedulers: 1 is out of range for mw1.small; MWAA accepts 2 to 5"
    )
    assert only_problem(project, "MaxWebservers: 6\n") == (
        "MaxWebservers: 6 is out of range for mw1.small; MWAA accepts 2 to 5"
    )


def test_micro_defaults(project: Path) -> None:
    write(project, "EnvironmentClass: mw1.micro\n")

    env = load_environment(project, environ={})

    assert (env.min_workers, env.max_workers) == (1, 1)
    assert env.schedulers == 1
    assert (env.min_webservers, env.max_webservers) == (1, 1)
    assert env.worker_concurrency == 3


def test_micro_does_not_autoscale(project: Path) -> None:
    problem = only_problem(project, "EnvironmentClass: mw1.micro\nMaxWorkers: 2\n")

    assert problem.startswith("MaxWorkers: 2 is not allowed for mw1.micro")
    assert "MinWorkers and MaxWorkers must both be 1" in problem


def test_micro_has_one_scheduler_and_webserver(project: Path) -> None:
    problems = problems_for(
        project, "EnvironmentClass: mw1.micro\nSchedulers: 2\nMaxWebservers: 2\n"
    )

    assert problems == [
        "Schedulers: 2 is out of range for mw1.micro; MWAA accepts only 1",
        "MaxWebservers: 2 is out of range for mw1.micro; MWAA accepts only 1",
    ]


def test_micro_worker_autoscale_is_capped_at_three(project: Path) -> None:
    problem = only_problem(
        project,
        "EnvironmentClass: mw1.micro\n"
        "AirflowConfigurationOptions:\n  celery.worker_autoscale: 5,5\n",
    )

    assert "celery.worker_autoscale: '5,5' exceeds mw1.micro's maximum of 3" in problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  parallelism: '32'\n", "key 'parallelism' has no section"),
        ("  core.multi_team: 'True'\n", "key 'core.multi_team' cannot be set on MWAA"),
        ("  triggerer.queues_enabled: 'True'\n", "key 'triggerer.queues_enabled' cannot be set"),
        (f"  core.{'x' * 60}: '1'\n", "is longer than MWAA's limit of 64 characters"),
        ("  core.parallelism: [1, 2]\n", "core.parallelism: [1, 2] is not a single value"),
        ("  core.parallelism:\n", "core.parallelism: has no value"),
        ("  webserver.default_ui_timezone: 'Europe/Zürich'\n", "outside MWAA's pattern [ -~]+"),
        ("  celery.worker_autoscale: '5'\n", "'5' is not max_concurrency,min_concurrency"),
    ],
)
def test_bad_configuration_options(project: Path, text: str, expected: str) -> None:
    problem = only_problem(project, "AirflowConfigurationOptions:\n" + text)

    assert problem.startswith("AirflowConfigurationOptions: ")
    assert expected in problem


def test_yaml_scalars_become_mwaa_strings(project: Path) -> None:
    write(
        project,
        "AirflowConfigurationOptions:\n"
        "  core.lazy_load_plugins: false\n"
        "  core.parallelism: 32\n"
        "  scheduler.min_file_process_interval: 30.5\n",
    )

    options = load_environment(project, environ={}).airflow_configuration_options

    assert options == {
        "core.lazy_load_plugins": "False",
        "core.parallelism": "32",
        "scheduler.min_file_process_interval": "30.5",
    }


def test_options_mwaa_ignores_or_overrides_are_warnings(project: Path) -> None:
    write(
        project,
        "AirflowConfigurationOptions:\n"
        "  celery.worker_concurrency: '32'\n"
        "  core.executor: LocalExecutor\n"
        "  core.load_examples: 'True'\n",
    )

    env = load_environment(project, environ={})

    assert len(env.warnings) == 3
    assert "celery.worker_concurrency is ignored by MWAA" in env.warnings[0]
    assert "core.executor is set by MWAA; the value 'LocalExecutor' is ignored" in env.warnings[1]
    assert "core.load_examples is set by MWAA" in env.warnings[2]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DagS3Path: s3://bucket/dags\n", "DagS3Path: 's3://bucket/dags' is an S3 URL"),
        ("RequirementsS3Path: ../requirements.txt\n", "contains '..'"),
        ("PluginsS3Path: ''\n", "PluginsS3Path: '' is not a non-empty path"),
        ("StartupScriptS3Path: startup.py\n", "does not end with .sh"),
        ("PluginsS3ObjectVersion: " + "v" * 1025 + "\n", "longer than MWAA's limit of 1024 bytes"),
        ("WebserverAccessMode: PUBLIC\n", "is not one of PRIVATE_ONLY, PUBLIC_ONLY"),
        ("Name: " + "a" * 81 + "\n", "does not match MWAA's Name pattern"),
        ("Name: my.env\n", "does not match MWAA's Name pattern"),
        ("SourceBucketArn: arn:aws:s3:::bucket/\n", "service, partition, or resource must be"),
        ("SourceBucketArn: my-bucket\n", "is not an S3 bucket ARN"),
        ("EndpointManagement: customer\n", "is not one of CUSTOMER, SERVICE"),
        ("EnvironmentClass: {a: 1}\n", "{'a': 1} is not an environment class"),
        ("WebserverAccessMode: [PUBLIC_ONLY]\n", "is not one of PRIVATE_ONLY"),
        ("Tags:\n  team: " + "x" * 257 + "\n", "longer than MWAA's limit of 256"),
        ("NetworkConfiguration: subnet-1\n", "NetworkConfiguration: 'subnet-1' is not a mapping"),
    ],
)
def test_bad_top_level_values(project: Path, text: str, expected: str) -> None:
    assert expected in only_problem(project, text)


def test_too_many_tags(project: Path) -> None:
    tags = "".join(f"  t{i}: v\n" for i in range(51))

    assert only_problem(project, "Tags:\n" + tags) == "Tags: 51 tags; MWAA accepts at most 50"


def test_public_and_private_needs_airflow_3_2(project: Path) -> None:
    problem = only_problem(
        project, "AirflowVersion: '2.10.3'\nWebserverAccessMode: PUBLIC_AND_PRIVATE\n"
    )
    assert problem == (
        "WebserverAccessMode: 'PUBLIC_AND_PRIVATE' needs Airflow 3.2 or later; "
        "AirflowVersion is 2.10.3"
    )

    write(project, "AirflowVersion: '3.2.1'\nWebserverAccessMode: PUBLIC_AND_PRIVATE\n")
    assert load_environment(project, environ={}).webserver_access_mode == "PUBLIC_AND_PRIVATE"


def test_unknown_keys_suggest_the_right_name(project: Path) -> None:
    problems = problems_for(
        project, "EnviromentClass: mw1.small\nLocal:\n  WebServerPort: 8081\n  Colour: red\n"
    )

    assert problems == [
        "EnviromentClass: unknown setting; did you mean 'EnvironmentClass'?",
        "Local.WebServerPort: unknown setting; did you mean 'WebserverPort'?",
        "Local.Colour: unknown setting",
    ]


def test_a_local_setting_at_the_top_level_points_to_local(project: Path) -> None:
    assert only_problem(project, "WebserverPort: 8081\n") == (
        "WebserverPort: is a mwaa-local setting; put it under Local: (Local.WebserverPort)"
    )


def test_yaml_syntax_error_names_the_line(project: Path) -> None:
    path = write(project, "Name: ok\nEnvironmentClass: mw1.small\nMinWorkers: [1\n")

    with pytest.raises(SettingsError) as caught:
        load_environment(project, environ={})

    assert caught.value.source == str(path)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith("line 4, column 1: invalid YAML")


def test_yaml_that_is_not_a_mapping_names_the_line(project: Path) -> None:
    problem = problems_for(project, "# settings\n- Name: my-env\n")[0]

    assert problem.startswith("line 2: the file holds a list, not a mapping")


def test_env_var_beats_file_beats_default(project: Path) -> None:
    write(project, "Local:\n  WebserverPort: 8081\n  BaseImage: from-file\n")

    env = load_environment(
        project,
        environ={"MWAA_LOCAL_WEBSERVER_PORT": "9090", "MWAA_LOCAL_DAG_SYNC_INTERVAL": "2.5"},
    )

    assert env.local.webserver_port == 9090
    assert env.local.base_image == "from-file"
    assert env.local.dag_sync_interval == 2.5
    assert env.local.postgres_image == "postgres:16"


def test_env_vars_apply_without_a_file(project: Path) -> None:
    env = load_environment(
        project,
        environ={
            "MWAA_LOCAL_CONSTRAINTS_MIRROR": "/srv/constraints",
            "MWAA_LOCAL_ADMIN_PASSWORD": "s3cret",
            "MWAA_LOCAL_BUCKET": "s3://my-bucket/prefix",
        },
    )

    assert env.local.constraints_mirror == Path("/srv/constraints")
    assert env.local.admin_password == "s3cret"
    assert env.local.bucket == "s3://my-bucket/prefix"


def test_bad_env_var_names_the_variable(project: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_environment(project, environ={"MWAA_LOCAL_WEBSERVER_PORT": "abc"})

    assert caught.value.problems == [
        "MWAA_LOCAL_WEBSERVER_PORT: 'abc' is not a port number (1-65535)"
    ]
    assert caught.value.source == "environment"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MWAA_LOCAL_BIND_ADDRESS", "localhost:80", "is not an IP address"),
        ("MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT", "0", "is not a positive whole number of seconds"),
        ("MWAA_LOCAL_REQUIREMENTS_TIMEOUT", "1.5", "is not a positive whole number of seconds"),
        ("MWAA_LOCAL_DAG_SYNC_INTERVAL", "-1", "is not a positive number of seconds"),
        ("MWAA_LOCAL_WEBSERVER_PORT", "70000", "is not a port number (1-65535)"),
    ],
)
def test_bad_env_var_values(project: Path, variable: str, value: str, expected: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_environment(project, environ={variable: value})

    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{variable}: {value!r} {expected}")


def test_bad_local_values_in_the_file(project: Path) -> None:
    problems = problems_for(project, "Local:\n  WebserverPort: 0\n  BindAddress: nowhere\n")

    assert problems == [
        "Local.BindAddress: 'nowhere' is not an IP address (e.g. 127.0.0.1 or 0.0.0.0)",
        "Local.WebserverPort: 0 is not a port number (1-65535)",
    ]


def test_env_var_names() -> None:
    assert local_env_var("BaseImage") == "MWAA_LOCAL_BASE_IMAGE"
    assert local_env_var("ConstraintsMirror") == "MWAA_LOCAL_CONSTRAINTS_MIRROR"
    assert local_env_var("CaBundle") == "MWAA_LOCAL_CA_BUNDLE"
    assert local_env_var("WebserverPort") == "MWAA_LOCAL_WEBSERVER_PORT"


def test_environment_is_frozen() -> None:
    env = Environment()

    with pytest.raises(AttributeError):
        env.name = "other"  # type: ignore[misc]


def test_installer_is_uv_by_default_pip_on_request_and_validated(project: Path) -> None:
    assert load_environment(project, environ={}).local.installer == "uv"
    write(project, "Local:\n  Installer: pip\n")
    assert load_environment(project, environ={}).local.installer == "pip"
    env = load_environment(project, environ={"MWAA_LOCAL_INSTALLER": "uv"})
    assert env.local.installer == "uv"  # the variable wins over the file
    assert local_env_var("Installer") == "MWAA_LOCAL_INSTALLER"
    problem = only_problem(project, "Local:\n  Installer: poetry\n")
    assert problem.startswith("Local.Installer: ") and "is not one of uv, pip" in problem
