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


# The wrapper must read the environment back whatever the script does to end its shell; bash
# runs these for real.


def test_the_scripts_own_exit_trap_runs_and_the_exports_are_kept(tmp_path):
    result, lines, warnings = run(tmp_path, "trap 'echo cleanup saw $?' EXIT\nexport A=1\nexit 3\n")
    assert result.exported == {"A": "1"} and result.exit_status == 3
    assert "cleanup saw 3" in lines
    assert not result.environment_lost and warnings == []


def test_an_exit_trap_under_set_e_and_set_u_keeps_the_exports(tmp_path):
    result, lines, _ = run(
        tmp_path, "set -eu\ntrap 'echo cleanup saw $?' EXIT\nexport A=1\nfalse\nexport B=2\n"
    )
    assert result.exported == {"A": "1"} and result.exit_status == 1
    assert "cleanup saw 1" in lines


def test_a_reset_exit_trap_and_other_signals_pass_through(tmp_path):
    result, lines, _ = run(
        tmp_path,
        "trap 'echo gone' EXIT\ntrap - EXIT\ntrap 'echo int' INT TERM\ntrap -p INT\n"
        "export A=1\nexit 2\n",
    )
    assert result.exported == {"A": "1"} and result.exit_status == 2
    assert "gone" not in lines
    assert "trap -- 'echo int' SIGINT" in lines


def test_a_final_exec_keeps_the_exports_made_before_it_and_says_so(tmp_path):
    result, _, warnings = run(tmp_path, "export A=1\nexec bash -c 'exit 5'\nexport B=2\n")
    assert result.exported == {"A": "1"}
    assert result.exit_status == 5  # the exec'd command's status is the script's
    assert result.ended_by_exec == "line 2: exec bash -c 'exit 5'"
    assert any("replaced its shell" in w and "MWAA" in w for w in warnings)
    assert "replaced by exec" in result.summary()


def test_exec_in_a_list_a_function_or_as_a_redirection_keeps_bash_meaning(tmp_path):
    result, lines, _ = run(
        tmp_path,
        "exec 3>/dev/null\n"  # a redirection only: the script goes on
        "false || exec 4>/dev/null\n"
        "true || exec false\n"  # not run: `||` still binds the exec
        "f() { export A=1; }\nf\n"
        "exec env | grep -c '^A='\n"  # in a pipeline: a subshell, not the script's end
        "export B=2\n",
    )
    assert result.exported == {"A": "1", "B": "2"}
    assert result.exit_status == 0 and result.ended_by_exec is None
    assert "1" in lines


def test_a_subshells_exit_or_exec_is_not_the_scripts_end(tmp_path):
    result, _, _ = run(
        tmp_path,
        "export A=1\n( export C=1; trap 'echo sub' EXIT; exit 4 )\nX=$(exec echo hi)\n"
        "export B=$X\n",
    )
    assert result.exported == {"A": "1", "B": "hi"} and result.exit_status == 0


def test_an_empty_path_noclobber_umask_and_set_x_do_not_stop_the_read_back(tmp_path):
    result, lines, _ = run(
        tmp_path, "set -xC\numask 777\nexport A=1\nexport PATH=/nowhere\necho done\n"
    )
    assert result.exported == {"A": "1", "PATH": "/nowhere"}
    assert "done" in lines
    assert not any("mwaa_local" in line for line in lines)  # the trace shows the script only


def test_return_at_the_top_level_ends_the_script_with_its_status(tmp_path):
    result, _, _ = run(tmp_path, "export A=1\nreturn 6\nexport B=1\n")
    assert result.exported == {"A": "1"} and result.exit_status == 6


def test_a_lost_environment_is_never_silent(tmp_path):
    result, _, warnings = run(tmp_path, "export A=1\nkill -9 $$\n")
    assert result.environment_lost and result.exported == {}
    assert result.exit_status == 137
    assert any("none of its exports reach the component" in w for w in warnings)
    assert "could not be read back" in result.summary()
    assert result.ignored_unsets == []  # the container's own variables are not "unset"
