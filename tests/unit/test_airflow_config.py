"""AirflowConfigurationOptions -> AIRFLOW__SECTION__KEY, as MWAA attaches them to containers."""

import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.airflow_config import configuration_options_as_env, option_env_name


def test_section_and_key_are_upper_cased() -> None:
    env = configuration_options_as_env(
        {"core.dag_concurrency": "16", "foo.user": "X", "core.lazy_load_plugins": "False"}
    )

    assert env == {
        "AIRFLOW__CORE__DAG_CONCURRENCY": "16",
        "AIRFLOW__FOO__USER": "X",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
    }


def test_the_section_ends_at_the_first_dot() -> None:
    assert (
        option_env_name("celery_broker_transport_options.visibility_timeout")
        == "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"
    )
    assert option_env_name("secrets.backend_kwargs") == "AIRFLOW__SECRETS__BACKEND_KWARGS"


def test_values_are_kept_verbatim() -> None:
    value = '{"connections_prefix" : "airflow/connections"}'

    assert configuration_options_as_env({"secrets.backend_kwargs": value}) == {
        "AIRFLOW__SECRETS__BACKEND_KWARGS": value
    }


@pytest.mark.parametrize("option", ["parallelism", ".parallelism", "core."])
def test_an_option_without_a_section_is_an_error(option: str) -> None:
    with pytest.raises(MwaaLocalError, match="has no section"):
        option_env_name(option)
