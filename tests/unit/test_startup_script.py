import os
import time

import pytest

from mwaa_local.container.startup_script import run_startup_script
from mwaa_local.mwaa.startup_script import is_reserved, reserved_variables

BASE = {
    "PATH": os.environ["PATH"],
    "HOME": "/tmp",
    "AIRFLOW_HOME": "/tmp",
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "PYTHONPATH": "/usr/local/mwaa-local/python",
    "MWAA_AIRFLOW_COMPONENT": "worker",
    "KEEP_ME": "1",
}


def run(tmp_path, text: str | bytes, **kwargs):
    script = tmp_path / "startup.sh"
    script.write_bytes(text if isinstance(text, bytes) else text.encode())
    lines, warnings = [], []
    result = run_startup_script(
        script, BASE, "2.10.3", on_line=lines.append, on_warning=warnings.append, **kwargs
    )
    return result, lines, warnings


def test_exports_reach_the_result_and_output_is_streamed(tmp_path):
    result, lines, warnings = run(
        tmp_path,
        'echo "component=$MWAA_AIRFLOW_COMPONENT"\nexport STAGE=dev\nLOCAL_ONLY=1\n',
    )
    assert result.exported == {"STAGE": "dev"}
    assert result.exit_status == 0 and not result.fatal
    assert "component=worker" in lines
    assert warnings == []


def test_reserved_variables_are_restored_with_a_warning(tmp_path):
    result, _, warnings = run(
        tmp_path,
        "export AIRFLOW__CORE__EXECUTOR=LocalExecutor\nexport PYTHONPATH=/evil\n"
        "export MWAA__CORE__X=1\nexport AWS_REGION=eu-west-1\nexport OK=1\n",
    )
    assert sorted(result.restored) == [
        "AIRFLOW__CORE__EXECUTOR",
        "AWS_REGION",
        "MWAA__CORE__X",
        "PYTHONPATH",
    ]
    assert result.exported == {"OK": "1"}
    for name in result.restored:
        assert any(name in w and "reserved" in w for w in warnings)


def test_configuration_options_beat_exports(tmp_path):
    result, _, warnings = run(
        tmp_path,
        "export AIRFLOW__CORE__DEFAULT_TASK_RETRIES=5\n",
        option_keys=frozenset({"AIRFLOW__CORE__DEFAULT_TASK_RETRIES"}),
    )
    assert result.overridden_by_options == ["AIRFLOW__CORE__DEFAULT_TASK_RETRIES"]
    assert result.exported == {}
    assert warnings


def test_non_zero_exit_is_reported_but_not_fatal(tmp_path):
    result, _, _ = run(tmp_path, "export A=1\nexit 3\nexport B=2\n")
    assert result.exit_status == 3 and not result.fatal
    assert result.exported == {"A": "1"}


def test_set_e_abort_keeps_the_exports_made_before_it(tmp_path):
    result, _, _ = run(tmp_path, "set -e\nexport A=1\nfalse\nexport B=2\n")
    assert result.exit_status == 1
    assert result.exported == {"A": "1"}


def test_timeout_is_fatal_and_bounded(tmp_path):
    started = time.monotonic()
    result, _, _ = run(tmp_path, "export A=1\nsleep 30\n", timeout=1)
    assert result.timed_out and result.fatal
    assert time.monotonic() - started < 10
    assert "timed out after 1 s" in result.summary()


def test_background_job_does_not_hold_the_start(tmp_path):
    started = time.monotonic()
    result, _, _ = run(tmp_path, "sleep 20 &\nexport A=1\n", timeout=15)
    assert not result.timed_out
    assert time.monotonic() - started < 5
    assert result.exported == {"A": "1"}


def test_windows_line_endings_are_explained(tmp_path):
    result, lines, warnings = run(tmp_path, b"export A=1\r\necho hi\r\n")
    assert result.crlf
    assert any("CRLF" in w and "command not found" in w for w in warnings)


def test_unset_has_no_effect(tmp_path):
    result, _, warnings = run(tmp_path, "unset KEEP_ME\n")
    assert result.ignored_unsets == ["KEEP_ME"]
    assert any("KEEP_ME" in w for w in warnings)


def test_missing_script_is_not_an_error(tmp_path):
    result = run_startup_script(tmp_path / "none.sh", BASE, "3.0.6")
    assert not result.ran and not result.fatal


@pytest.mark.parametrize(
    ("version", "reserved"), [("2.8.1", False), ("2.9.2", True), ("3.3.1", True)]
)
def test_pythonpath_is_reserved_from_2_9(version, reserved):
    assert ("PYTHONPATH" in reserved_variables(version)) is reserved
    assert is_reserved("PATH", version) is False
    assert is_reserved("MWAA_LOCAL_ANYTHING", version)
