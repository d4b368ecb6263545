import stat

import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.airflow_config import env_file_text
from mwaa_local.runtime.stack import ServiceState, airflow_environment, environment_status
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import load_environment


def environment(tmp_path, text: str = ""):
    (tmp_path / "mwaa-local.yaml").write_text(text)
    return load_environment(tmp_path)


def test_options_override_mwaa_defaults_but_not_what_mwaa_owns(tmp_path):
    env = environment(
        tmp_path,
        "AirflowVersion: '2.10.3'\nAirflowConfigurationOptions:\n"
        "  core.parallelism: '32'\n  core.executor: LocalExecutor\n",
    )
    secrets = StateDir.for_environment(tmp_path, env.name).secrets()
    variables = airflow_environment(env, secrets)
    assert variables["AIRFLOW__CORE__PARALLELISM"] == "32"
    assert variables["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert variables["AIRFLOW__CORE__FERNET_KEY"] == secrets.fernet_key
    assert secrets.postgres_password in variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert variables["AIRFLOW__WEBSERVER__SECRET_KEY"] == secrets.webserver_secret_key


def test_worker_autoscale_follows_the_class(tmp_path):
    env = environment(tmp_path, "EnvironmentClass: mw1.large\n")
    variables = airflow_environment(env, StateDir.for_environment(tmp_path, env.name).secrets())
    assert variables["AIRFLOW__CELERY__WORKER_AUTOSCALE"] == "20,20"


def test_airflow3_gets_fab_auth_jwt_and_execution_api(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '3.0.6'\n")
    secrets = StateDir.for_environment(tmp_path, env.name).secrets()
    variables = airflow_environment(env, secrets)
    assert variables["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets.jwt_secret
    assert variables["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert variables["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://api-server")


def test_secrets_are_generated_once_and_owner_only(tmp_path):
    state = StateDir.for_environment(tmp_path, "env-a")
    first = state.secrets()
    assert state.secrets() == first
    assert stat.S_IMODE(state.secrets_file.stat().st_mode) == 0o600
    other = StateDir.for_environment(tmp_path, "env-b").secrets()
    assert other.fernet_key != first.fernet_key
    assert (tmp_path / ".mwaa-local" / ".gitignore").read_text() == "*\n"


def test_env_file_refuses_line_breaks():
    assert env_file_text({"A": "1", "B": "x y"}) == "A='1'\nB='x y'\n"
    with pytest.raises(MwaaLocalError):
        env_file_text({"A": "1\n2"})


def state(service, status="running", health="healthy", exit_code=0):
    return ServiceState(service, service, status, health, exit_code, 0)


def test_environment_status_in_mwaa_words(tmp_path):
    env = environment(tmp_path, "AirflowVersion: '3.0.6'\n")
    services = ["postgres", "redis", "metrics", "api-server", "scheduler", "dag-processor"]
    services += ["triggerer"]
    healthy = {s: state(s) for s in services + ["worker"]}
    healthy["migrate-db"] = state("migrate-db", "exited", None)
    assert environment_status(env, healthy) == "AVAILABLE"
    assert environment_status(env, {**healthy, "worker": state("worker", health="starting")}) == (
        "CREATING"
    )
    assert environment_status(env, {**healthy, "worker": state("worker", "restarting")}) == (
        "UNAVAILABLE"
    )
    stopped = {s: state(s, "exited", None) for s in healthy}
    assert environment_status(env, stopped) == "STOPPED"
    assert environment_status(env, {}) == "STOPPED"


@pytest.mark.parametrize(
    "version, section, listing",
    [
        ("2.10.3", "scheduler", "dag_dir_list_interval"),
        ("3.0.6", "dag_processor", "refresh_interval"),
    ],
)
def test_fast_dag_sync_parses_within_seconds_and_mwaa_mode_keeps_mwaa_pace(
    tmp_path, version, section, listing
):
    options = f"AirflowConfigurationOptions:\n  {section}.min_file_process_interval: '7'\n"
    fast = environment(tmp_path, f"AirflowVersion: '{version}'\n{options}")
    secrets = StateDir.for_environment(tmp_path, fast.name).secrets()
    variables = airflow_environment(fast, secrets)
    prefix = f"AIRFLOW__{section.upper()}__"
    assert variables[prefix + listing.upper()] == "2"
    assert variables[prefix + "MIN_FILE_PROCESS_INTERVAL"] == "7"  # the user's option wins
    assert variables["MWAA_LOCAL_DAG_SYNC_INTERVAL"] == "1.0"

    mwaa = environment(tmp_path, f"AirflowVersion: '{version}'\nLocal:\n  DagSync: mwaa\n")
    variables = airflow_environment(mwaa, secrets)
    assert prefix + listing.upper() not in variables  # Airflow's own 300 s, as on MWAA
    assert variables["MWAA_LOCAL_DAG_SYNC_INTERVAL"] == "30.0"


def test_dag_sync_mode_and_s3_endpoint_are_checked(tmp_path):
    with pytest.raises(MwaaLocalError) as raised:
        environment(tmp_path, "Local:\n  DagSync: slow\n  S3EndpointUrl: localhost:4566\n")
    message = raised.value.message
    assert "Local.DagSync: 'slow' is not one of fast, mwaa" in message
    assert "Local.S3EndpointUrl" in message and "http(s) URL" in message
