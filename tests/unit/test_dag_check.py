"""mwaa_local.container.dag_check's pure parts (no Airflow here), on errors copied from real DagBags
(Airflow 2.10.3 and 3.3.1), and where the host runs the check."""

import os
from pathlib import Path, PurePosixPath

import pytest

from mwaa_local.container import dag_check as check
from mwaa_local.container.paths import BUCKET_MOUNT
from mwaa_local.dags.check import (
    CHECK_MOUNT,
    CONTAINER_DAGS,
    WHAT,
    check_target,
    host_folder,
)
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.one_off import last_report

SYNTAX_ERROR = """Traceback (most recent call last):
  File "<frozen importlib._bootstrap_external>", line 1058, in source_to_code
  File "<frozen importlib._bootstrap>", line 488, in _call_with_frames_removed
  File "/tmp/dags/syntax_error.py", line 8
    if True print("missing colon")
            ^^^^^
SyntaxError: invalid syntax
"""

MISSING_PACKAGE = """Traceback (most recent call last):
  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed
  File "/tmp/dags/missing_package.py", line 5, in <module>
    import mwaa_local_fixture_not_installed  # noqa: F401
    ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
ModuleNotFoundError: No module named 'mwaa_local_fixture_not_installed'
"""

TIMEOUT = """Traceback (most recent call last):
  File "/tmp/dags/slow_import.py", line 9, in <module>
    time.sleep(12)
  File "/usr/local/airflow/.local/lib/python3.12/site-packages/airflow/dag_processing/importers/python_importer.py", line 65, in handle_timeout
    raise AirflowTaskTimeout(error_message)
airflow.sdk.exceptions.AirflowTaskTimeout: DagBag import timeout for /tmp/dags/slow_import.py after 5.0s.
Please take a look at these docs to improve your DAG import time:
* https://airflow.apache.org/docs/apache-airflow/3.3.1/best-practices.html#top-level-python-code
* https://airflow.apache.org/docs/apache-airflow/3.3.1/best-practices.html#reducing-dag-complexity, PID: 1
"""  # noqa: E501

NESTED = """Traceback (most recent call last):
  File "/dags/sub/uses_helper.py", line 3, in <module>
    import helper
  File "/dags/helper.py", line 4, in <module>
    f()
  File "/dags/helper.py", line 2, in f
    raise ValueError("deep")
ValueError: deep
"""

CYCLE = "AirflowDagCycleException: Cycle detected in Dag: cycle. Faulty task: c"
DUPLICATE = (
    "AirflowDagDuplicatedIdException: Ignoring DAG duplicated_dag from /tmp/dags/duplicate_b.py"
    " - also found in /tmp/dags/duplicate_a.py"
)


@pytest.mark.parametrize(
    ("text", "file", "line"),
    [
        (SYNTAX_ERROR, "/tmp/dags/syntax_error.py", 8),
        (MISSING_PACKAGE, "/tmp/dags/missing_package.py", 5),
        (TIMEOUT, "/tmp/dags/slow_import.py", 9),
        # The deepest frame in the DAG file, not the helper's.
        (NESTED, "/dags/sub/uses_helper.py", 3),
        (NESTED, "/dags/helper.py", 2),
        # Without a traceback (core.dagbag_import_error_tracebacks off): the SyntaxError's own.
        ("invalid syntax (syntax_error.py, line 8)", "/tmp/dags/syntax_error.py", 8),
        ("invalid syntax (other.py, line 8)", "/tmp/dags/syntax_error.py", None),
        (CYCLE, "/tmp/dags/cycle.py", None),
    ],
)
def test_error_line(text, file, line):
    assert check.error_line(text, file) == line


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (SYNTAX_ERROR, "import"),
        (MISSING_PACKAGE, "import"),
        (TIMEOUT, "timeout"),
        (TIMEOUT.replace("airflow.sdk.exceptions", "airflow.exceptions"), "timeout"),
        (CYCLE, "cycle"),
        (DUPLICATE, "duplicate"),
    ],
)
def test_error_kind(text, kind):
    assert check.error_kind(text) == kind


def test_error_message_is_the_exception_without_traceback_or_module():
    assert check.error_message(SYNTAX_ERROR) == "SyntaxError: invalid syntax"
    assert check.error_message(MISSING_PACKAGE) == (
        "ModuleNotFoundError: No module named 'mwaa_local_fixture_not_installed'"
    )
    message = check.error_message(TIMEOUT)
    assert message.startswith("AirflowTaskTimeout: DagBag import timeout for /tmp/dags/slow")
    assert message.endswith("PID: 1") and len(message.splitlines()) == 4
    assert check.error_message(CYCLE) == CYCLE
    # A lower-case dotted word before a colon is not a module path.
    assert check.error_message("config.yaml: not found") == "config.yaml: not found"


def test_trim_traceback_starts_at_the_dag_file():
    trimmed = check.trim_traceback(SYNTAX_ERROR, "/tmp/dags/syntax_error.py")
    assert trimmed.splitlines()[0] == "Traceback (most recent call last):"
    assert trimmed.splitlines()[1] == '  File "/tmp/dags/syntax_error.py", line 8'
    assert "frozen importlib" not in trimmed
    assert check.trim_traceback(CYCLE, "/tmp/dags/cycle.py") is None


def test_file_error_finds_a_cycle_line_in_the_source():
    source = 'import x\n\nwith DAG("cycle", schedule=None):\n    pass\n'
    error = check.file_error(CYCLE, "/tmp/dags/cycle.py", source)
    assert error == {"kind": "cycle", "line": 3, "message": CYCLE, "traceback": None}


def test_rejected_dag_id():
    assert check.rejected_dag_id(DUPLICATE) == "duplicated_dag"
    assert check.rejected_dag_id(CYCLE) == "cycle"
    assert check.rejected_dag_id(CYCLE.replace("Dag:", "DAG:")) == "cycle"  # Airflow 2's words
    assert check.rejected_dag_id(MISSING_PACKAGE) is None


def test_definition_line():
    source = "from airflow.sdk import dag\n\n@dag(schedule=None)\ndef my_flow():\n    pass\n"
    assert check.definition_line(source, "my_flow") == 4
    assert check.definition_line("DAG(dag_id='a.b')\n", "a.b") == 1
    assert check.definition_line("DAG(dag_id='axb')\n", "a.b") is None


def test_find_duplicates_across_files():
    found = check.find_duplicates(
        {"b.py": ["same", "only_b"], "a.py": ["same"], "c.py": ["same", "same"], "d.py": []}
    )
    assert found == {"same": ["a.py", "b.py", "c.py"]}
    assert check.find_duplicates({"a.py": ["x"], "b.py": ["y"]}) == {}


def test_duplicate_errors_name_the_other_files():
    duplicates = {"same": ["a.py", "b.py", "c.py"], "other": ["c.py", "d.py"]}
    [error] = check.duplicate_errors("a.py", duplicates, 'x = 1\nDAG("same")\n')
    assert error["kind"] == "duplicate" and error["line"] == 2
    assert error["message"] == "dag_id 'same' is also defined in b.py, c.py"
    assert len(check.duplicate_errors("c.py", duplicates, None)) == 2
    assert check.duplicate_errors("e.py", duplicates, None) == []


def test_sort_files_slowest_first_then_by_name():
    files = [
        {"file": "b", "seconds": 0.1},
        {"file": "a", "seconds": 0.1},
        {"file": "c", "seconds": 2},
    ]
    assert [f["file"] for f in check.sort_files(files)] == ["c", "a", "b"]


def entry(tmp_path: Path, name: str, seconds: float, dag_ids: list[str], source: str = "") -> dict:
    (tmp_path / name).write_text(source)
    new = check.new_entry(str(tmp_path / name), tmp_path, seconds)
    new["dag_ids"] = dag_ids
    return new


def test_assemble_marks_every_file_of_a_duplicate_and_sorts(tmp_path):
    entries = [
        entry(tmp_path, "a.py", 0.2, ["same"], 'DAG("same")\n'),
        entry(tmp_path, "b.py", 0.5, ["same", "same"], '\n\nDAG("same")\n'),
        entry(tmp_path, "c.py", 1.0, ["c"]),
    ]
    report = check.assemble(entries, [], airflow_version="3.3.1", import_timeout=30.0)
    assert report["ok"] is False
    assert report["airflow_version"] == "3.3.1" and report["import_timeout"] == 30.0
    assert report["duplicates"] == {"same": ["a.py", "b.py"]}
    assert [f["file"] for f in report["files"]] == ["c.py", "b.py", "a.py"]
    b = report["files"][1]
    assert b["dag_ids"] == ["same"]
    assert [(e["kind"], e["line"]) for e in b["errors"]] == [("duplicate", 3)]
    assert report["files"][0]["errors"] == []


def test_assemble_ok_only_without_file_and_plugin_errors(tmp_path):
    clean = [entry(tmp_path, "a.py", 0.1, ["a"])]
    assert check.assemble(clean, [])["ok"] is True
    plugin = [{"file": "/p/x.py", "line": None, "message": "boom"}]
    assert check.assemble(clean, plugin)["ok"] is False


def test_stat_path_for_both_airflow_versions(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.py").write_text("")
    root = tmp_path
    # Airflow 2 cuts core.dags_folder out of the absolute path; Airflow 3 is relative.
    assert check.stat_path("/sub/x.py", root, root) == str(root / "sub" / "x.py")
    assert check.stat_path("sub/x.py", root, root) == str(root / "sub" / "x.py")
    assert check.stat_path("x.py", root / "sub", root) == str(root / "sub" / "x.py")
    # A single file scanned: Airflow 3 names it "." relative to itself.
    assert check.stat_path(".", root / "sub" / "x.py", root) == str(root / "sub" / "x.py")
    assert check.stat_path("/elsewhere/y.py", root, root) == "/elsewhere/y.py"


def test_entry_for_puts_a_zipped_dag_error_on_its_zip(tmp_path):
    entries = {"/d/pack.zip": check.new_entry("/d/pack.zip", Path("/d"))}
    assert check.entry_for(entries, "/d/pack.zip/inner.py", Path("/d"))["file"] == "pack.zip"
    created = check.entry_for(entries, "/other/x.py", Path("/d"))
    assert created["file"] == "/other/x.py" and created["seconds"] == 0.0


def test_configure_sets_the_dag_folder_before_airflow_reads_it(tmp_path, monkeypatch):
    names = ("DAGS_FOLDER", "PLUGINS_FOLDER", "LOAD_EXAMPLES", "DAGBAG_IMPORT_ERROR_TRACEBACKS")
    for name in (*names, "DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH"):
        monkeypatch.setenv(f"AIRFLOW__CORE__{name}", "x")  # so that the test's values are undone
    (tmp_path / "x.py").write_text("")
    args = check.parse_args([str(tmp_path / "x.py"), "--plugins-folder", "/p"])
    assert check.configure(args) == tmp_path
    assert os.environ["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path)
    assert os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/p"
    assert os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    args = check.parse_args([str(tmp_path / "x.py"), "--dags-folder", "/dags"])
    assert check.configure(args) == Path("/dags")
    assert check.configure(check.parse_args([])) is None


# --- the host side: what the container checks --------------------------------------------------


def test_check_target_maps_paths_into_the_container(tmp_path):
    bucket = tmp_path / "bucket"
    (bucket / "dags" / "sub").mkdir(parents=True)
    (bucket / "dags" / "sub" / "a.py").write_text("")
    (bucket / "other").mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "b.py").write_text("")

    default = check_target(bucket, "dags", None)
    assert (default.path, default.dags_folder, default.mount) == (
        CONTAINER_DAGS,
        CONTAINER_DAGS,
        None,
    )
    in_dags = check_target(bucket, "dags", bucket / "dags" / "sub" / "a.py")
    assert in_dags.path == CONTAINER_DAGS / "sub" / "a.py"
    assert in_dags.dags_folder == CONTAINER_DAGS and in_dags.mount is None
    assert check_target(bucket, "dags", bucket / "dags").path == CONTAINER_DAGS
    in_bucket = check_target(bucket, "dags", bucket / "other")
    assert in_bucket.path == in_bucket.dags_folder == PurePosixPath(BUCKET_MOUNT) / "other"
    folder = check_target(bucket, "dags", outside)
    assert (folder.path, folder.mount) == (CHECK_MOUNT, outside)
    file = check_target(bucket, "dags", outside / "b.py")
    assert (file.path, file.dags_folder, file.mount) == (CHECK_MOUNT / "b.py", CHECK_MOUNT, outside)
    assert file.arguments() == [str(CHECK_MOUNT / "b.py"), "--dags-folder", str(CHECK_MOUNT)]

    assert host_folder(default, bucket, "dags") == (bucket / "dags").resolve()
    assert host_folder(in_bucket, bucket, "dags") == (bucket / "other").resolve()
    assert host_folder(file, bucket, "dags") == outside


def test_last_report_is_the_last_json_line():
    stdout = 'MWAA_LOCAL_PHASE {"phase": "plugins"}\n{"ok": true, "files": []}\n'
    assert last_report(stdout, WHAT) == {"ok": True, "files": []}
    with pytest.raises(MwaaLocalError) as raised:
        last_report("nothing\n", WHAT, "Traceback: boom")
    assert "boom" in raised.value.hint
