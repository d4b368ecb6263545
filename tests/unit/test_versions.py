import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec import versions


def test_every_mwaa_version_with_its_python():
    table = {v.airflow: v.python for v in versions.SUPPORTED}
    assert table == {
        "2.9.2": "3.11",
        "2.10.1": "3.11",
        "2.10.3": "3.11",
        "2.11.0": "3.12",
        "2.11.2": "3.12",
        "3.0.6": "3.12",
        "3.2.1": "3.12",
        "3.3.1": "3.12",
    }


def test_default_is_the_newest():
    assert versions.airflow_version(None).airflow == "3.3.1"


def test_constraints_url_is_the_official_one():
    v = versions.airflow_version("2.10.3")
    assert v.constraints_url == (
        "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
    )
    assert v.constraints_path == "constraints-2.10.3/constraints-3.11.txt"


def test_components_follow_the_major_version():
    assert versions.airflow_version("2.11.2").components == (
        "webserver",
        "scheduler",
        "triggerer",
        "worker",
    )
    assert versions.airflow_version("3.0.6").components == (
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "worker",
    )
    assert "fab" in versions.airflow_version("3.2.1").providers
    assert "fab" not in versions.airflow_version("2.9.2").providers


def test_unknown_version_lists_the_supported_ones():
    with pytest.raises(MwaaLocalError) as e:
        versions.airflow_version("2.8.1")
    assert "2.8.1" in e.value.message
    assert "2.9.2" in e.value.hint and "3.3.1" in e.value.hint
