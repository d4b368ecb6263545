"""MWAA's requirements install (mwaa_local/mwaa/requirements.py): fast, no network, no Docker.

The UV_* strings below are real output of `uv 0.13.9 pip install` in mwaa-local/airflow:2.10.3
(Python 3.11), captured with the same command install_command() builds.
"""

import os
import sys
import time
from pathlib import Path

import pytest

from mwaa_local.container import requirements_install as ri
from mwaa_local.mwaa import requirements as rq

# --- real uv output (uv 0.13.9, Airflow 2.10.3 constraints, MWAA 2.10.3 essential pins) ------

UV_INSTALLED = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
Resolved 144 packages in 659ms
Prepared 5 packages in 282ms
Installed 5 packages in 11ms
Bytecode compiled 84 files in 77ms
 + apache-airflow-providers-ssh==3.14.0
 + bcrypt==4.2.0
 + paramiko==3.5.0
 + pynacl==1.5.0
 + sshtunnel==0.4.0
"""

UV_AIRFLOW_CONSTRAINT = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because you require boto3==1.26.0 and boto3==1.35.36, we can conclude that your \
requirements are unsatisfiable.
"""

UV_AIRFLOW_CONSTRAINT_TRANSITIVE = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because opencv-python-headless==4.12.0.88 depends on numpy>=2,<2.3.0 and \
numpy==1.26.4, we can conclude that opencv-python-headless==4.12.0.88 cannot be used.
         And because you require opencv-python-headless==4.12.0.88, we can conclude that your \
requirements are unsatisfiable.
"""

UV_ESSENTIAL_AIRFLOW = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because you require apache-airflow==2.9.0 and apache-airflow==2.10.3, we can conclude \
that your requirements are unsatisfiable.
"""

UV_ESSENTIAL_CELERY = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because you require celery==5.3.0 and celery==5.4.0, we can conclude that your \
requirements are unsatisfiable.
"""

UV_ESSENTIAL_TRANSITIVE = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because sqlmodel==0.0.14 depends on sqlalchemy>=2.0.0,<2.1.0 and sqlalchemy==1.4.54, \
we can conclude that sqlmodel==0.0.14 cannot be used.
         And because you require sqlmodel==0.0.14, we can conclude that your requirements are \
unsatisfiable.
"""

UV_NOT_IN_REGISTRY = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because this-package-does-not-exist-mwaa-xyz was not found in the package registry and \
you require this-package-does-not-exist-mwaa-xyz, we can conclude that your requirements are \
unsatisfiable.
"""

UV_NO_SUCH_VERSION = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because there is no version of pyjokes==99.0 and you require pyjokes==99.0, we can \
conclude that your requirements are unsatisfiable.
"""

UV_ONLY_OLDER = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because only pyjokes<=0.8.3 is available and you require pyjokes>=99, we can conclude \
that your requirements are unsatisfiable.
"""

# --no-index --find-links /w/wheels with an empty folder: the pin token is an Airflow pin, but
# the problem is the missing wheel.
UV_NOT_IN_FIND_LINKS = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: No solution found when resolving dependencies
  cause: Because numpy was not found in the provided package locations and you require \
numpy==1.26.4, we can conclude that your requirements are unsatisfiable.
"""

UV_BUILD_FAILURE = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
Resolved 1 package in 755ms
   Building pycrypto==2.6.1
error: Failed to build `pycrypto==2.6.1`
  cause: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.build_wheel` failed (exit status: 1)

         [stdout]
         checking for gcc... no
         checking for cc... no
         checking for cl.exe... no

         [stderr]
         configure: error: in `/tmp/.tmpXjO1UV/sdists-v11/pypi/pycrypto/2.6.1/8ZZkfwGn/src':
         configure: error: no acceptable C compiler found in $PATH
         See `config.log' for more details
         Traceback (most recent call last):
           File "<string>", line 11, in <module>
           File "/tmp/.tmpXjO1UV/builds-v0/.tmpbErpol/lib/python3.11/site-packages/setuptools/\
build_meta.py", line 438, in build_wheel
             return _build(['bdist_wheel'])
                    ^^^^^^^^^^^^^^^^^^^^^^^
           File "<string>", line 278, in run
         RuntimeError: autoconf error

hint: Build failures usually indicate a problem with the package or the build environment
"""

# A local source folder (`/w/broken`) whose setup.py raises: uv does not name the package.
UV_BUILD_FAILURE_LOCAL = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: The build backend returned an error
  cause: Call to `setuptools.build_meta:__legacy__.get_requires_for_build_wheel` failed \
(exit status: 1)

         [stderr]
         Traceback (most recent call last):
           File "<string>", line 14, in <module>
           File "<string>", line 2, in <module>
         RuntimeError: this package refuses to build
"""

UV_NETWORK = """\
Using CPython 3.11.2 interpreter at: /usr/local/mwaa-local/bin/python3
error: Request failed after 3 retries in 11.8s
  cause: Failed to fetch: https://nonexistent.invalid/simple/pyjokes/
  cause: error sending request for url (https://nonexistent.invalid/simple/pyjokes/)
  cause: client error (Connect)
  cause: dns error
  cause: error resolving DNS
  cause: failed to lookup address information: Name or service not known
"""

UV_PARSE_ERROR = """\
error: Couldn't parse requirement in `{processed}` at position 0
  cause: Expected one of `@`, `(`, `<`, `=`, `>`, `~`, `!`, `;`, found `b`
         foo bar baz ===
             ^
"""

# pip's wording, what MWAA's own log stream shows (mwaa-behaviour.md 9 rows 7-8): real output of
# pip 26.3 (`pip install --dry-run -r ... -c $AIRFLOW_CONSTRAINTS_FILE`) in the same image.
PIP_NOT_FOUND = """\
ERROR: Could not find a version that satisfies the requirement LibraryName==1.0.0 \
(from versions: 0.1, 0.2, 0.3, 0.4)
ERROR: No matching distribution found for LibraryName==1.0.0
"""
PIP_CONFLICT = """\
ERROR: Cannot install boto3==1.26.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested boto3==1.26.0
    The user requested (constraint) boto3==1.35.36

Additionally, some packages in these conflicts have no matching distributions available for your \
environment:
    boto3

To fix this you could try to:
1. loosen the range of package versions you've specified
2. remove package versions to allow pip to attempt to solve the dependency conflict

ERROR: ResolutionImpossible: for help visit \
https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts
"""

ESSENTIAL = """\
#
# NOTE: The constraints below are part of the Airflow constraints:
#
apache-airflow==2.10.3
Flask-AppBuilder==4.5.2
celery==5.4.0
SQLAlchemy==1.4.54
watchtower==3.3.1
"""
AIRFLOW = """\
# This constraints file was automatically generated on 2024-11-04.
aiobotocore==2.15.2
boto3==1.35.36
celery==5.4.0
numpy==1.26.4
pyjokes==0.8.3
apache-airflow-providers-sqlite==3.9.0
"""


NAME = "requirements/requirements.txt"  # the user's name for the file (RequirementsS3Path)


@pytest.fixture
def files(tmp_path):
    """A requirements folder, both constraints files and a workdir."""
    req_dir = tmp_path / "requirements"
    req_dir.mkdir()
    essential = tmp_path / "mwaa-essential-constraints.txt"
    essential.write_text(ESSENTIAL)
    airflow = tmp_path / "constraints.txt"
    airflow.write_text(AIRFLOW)

    class Files:
        dir = req_dir
        requirements = req_dir / "requirements.txt"
        essential_constraints = essential
        airflow_constraints = airflow
        workdir = tmp_path / "work"

        def plan(self, text: str | bytes | None = None, environ=None, **kw) -> rq.InstallPlan:
            if isinstance(text, bytes):
                self.requirements.write_bytes(text)
            elif text is not None:
                self.requirements.write_text(text)
            return rq.plan_install(
                self.requirements,
                environ or {},
                self.airflow_constraints,
                self.essential_constraints,
                self.workdir,
                kw.get("airflow_version", "2.10.3"),
                kw.get("python_version", "3.11"),
                display_name=kw.get("display_name", NAME),
                constraints_dirs=kw.get("constraints_dirs", ()),
                installer=kw.get("installer", "uv"),
            )

    return Files()


# --- has_constraints -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "-c https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt\n",
        "--constraint /usr/local/airflow/dags/constraints.txt\nboto3\n",
        "boto3\n# -c constraints.txt\n",  # commented: MWAA's deliberate opt-out
        "#--constraint x\n",
        "--constraint=https://example.com/c.txt\n",  # missed by MWAA's regex; counted here
        "-c\tconstraints.txt\n",  # ditto
    ],
)
def test_constraint_lines_are_detected(text):
    assert rq.has_constraints(text)


@pytest.mark.parametrize(
    "text",
    ["", "boto3==1.35.36\npyjokes\n", "apache-airflow-providers-celery\n", "-r other.txt\n"],
)
def test_files_without_constraint_lines(text):
    assert not rq.has_constraints(text)


def test_mwaa_regex_alone_misses_the_equals_form():
    # The documented difference: MWAA would force its constraints on top of this file.
    assert not rq.MWAA_CONSTRAINT_RE.search("--constraint=https://example.com/c.txt")


# --- expand_variables ------------------------------------------------------------------------


def test_set_variables_are_expanded():
    text = "--index-url https://${AIRFLOW__FOO__USER}:${TOKEN_1}@pypi.example.com/simple\n"
    env = {"AIRFLOW__FOO__USER": "me", "TOKEN_1": "s3cret"}
    assert rq.expand_variables(text, env) == (
        "--index-url https://me:s3cret@pypi.example.com/simple\n"
    )


def test_unset_and_empty_variables_are_left_as_written():
    text = "git+https://${GIT_TOKEN}@github.com/org/repo.git#egg=x ${EMPTY}\n"
    assert rq.expand_variables(text, {"EMPTY": ""}) == text


def test_only_braced_uppercase_names_are_variables():
    text = "x $TOKEN ${lower} ${TOKEN}\n"
    assert rq.expand_variables(text, {"TOKEN": "t", "lower": "l"}) == "x $TOKEN ${lower} t\n"


# --- plan_install ----------------------------------------------------------------------------


def test_airflow_constraints_added_with_mwaas_lines_when_missing(files):
    plan = files.plan("pyjokes\n")
    assert plan.added_airflow_constraints
    assert plan.constraints == (files.essential_constraints, files.airflow_constraints)
    assert plan.messages == [
        "WARNING: Constraints should be specified for requirements.txt. Please see "
        "https://docs.aws.amazon.com/mwaa/latest/userguide/working-dags-dependencies.html"
        "#working-dags-dependencies-test-create",
        "Forcing local constraints",
    ]
    assert plan.processed.parent == files.workdir
    assert plan.processed.read_text() == "pyjokes\n"
    assert plan.processed.stat().st_mode & 0o777 == 0o600


def test_essential_only_when_the_file_has_constraints(files):
    for text in ("-c https://example.com/c.txt\npyjokes\n", "# -c none\npyjokes\n"):
        plan = files.plan(text)
        assert not plan.added_airflow_constraints
        assert plan.constraints == (files.essential_constraints,)
        assert plan.messages == []


def test_variables_are_expanded_in_the_processed_copy(files):
    plan = files.plan("--extra-index-url https://u:${TOKEN}@x/simple\n", {"TOKEN": "abc"})
    assert plan.processed.read_text() == "--extra-index-url https://u:abc@x/simple\n"
    assert files.requirements.read_text() == "--extra-index-url https://u:${TOKEN}@x/simple\n"


def test_bom_is_tolerated(files):
    plan = files.plan("\ufeff-c c.txt\npyjokes\n".encode())
    assert not plan.added_airflow_constraints
    assert plan.processed.read_text().startswith("-c ")


def test_undecodable_file_gets_mwaas_scan_error_lines(files):
    plan = files.plan(b"pyjokes\n\xff\xfe\xfa junk\n")
    assert plan.messages[0].startswith("Unable to scan requirements file: ")
    assert plan.messages[1] == rq.SCAN_ERROR_FORCING
    assert plan.added_airflow_constraints
    assert plan.processed == files.requirements  # uv reads it as it is and reports the problem


def test_missing_file_raises(files):
    with pytest.raises(FileNotFoundError):
        files.plan()


def test_relative_paths_resolve_against_the_original_folder(files):
    (files.dir / "sub").mkdir()
    (files.dir / "sub" / "more.txt").write_text("pyjokes\n")
    (files.dir / "wheels").mkdir()
    text = (
        "-r sub/more.txt\n"
        "--requirement=./sub/more.txt  # inline comment\n"
        "-c ../c.txt\n"
        '--constraint "my constraints.txt"\n'
        "-f wheels\n"
        "--find-links ./not-there\n"
        "-r https://example.com/r.txt\n"
        "-r /abs/r.txt\n"
        "# -r commented.txt\n"
        "apache-airflow-providers-celery\n"
    )
    plan = files.plan(text)
    d = files.dir
    assert plan.processed.read_text().splitlines() == [
        f"-r {d}/sub/more.txt",
        f"--requirement={d}/sub/more.txt  # inline comment",
        f"-c {d.parent}/c.txt",
        f"--constraint {d}/my constraints.txt",
        f"-f {d}/wheels",
        "--find-links ./not-there",  # pip keeps it relative to the cwd when not there
        "-r https://example.com/r.txt",
        "-r /abs/r.txt",
        "# -r commented.txt",
        "apache-airflow-providers-celery",
    ]


def test_key_is_stable(files):
    assert files.plan("pyjokes\n").key == files.plan("pyjokes\n").key


def test_key_changes_with_the_file_and_each_input(files):
    base = files.plan("pyjokes\n-r more.txt\n-c mine.txt\n").key
    assert files.plan("pyjokes==0.8.3\n-r more.txt\n-c mine.txt\n").key != base
    assert files.plan("pyjokes\n-r more.txt\n-c mine.txt\n", python_version="3.12").key != base
    assert files.plan("pyjokes\n-r more.txt\n-c mine.txt\n", airflow_version="2.10.1").key != base
    seen = {base}
    for change in (
        lambda: (files.dir / "more.txt").write_text("boto3\n"),  # a referenced -r file
        lambda: (files.dir / "mine.txt").write_text("boto3==1.35.36\n"),  # a referenced -c file
        lambda: files.essential_constraints.write_text(ESSENTIAL + "kombu==5.4.2\n"),
        lambda: files.airflow_constraints.write_text(AIRFLOW + "pandas==2.1.4\n"),
    ):
        change()
        key = files.plan("pyjokes\n-r more.txt\n-c mine.txt\n").key
        assert key not in seen
        seen.add(key)


def test_key_follows_nested_requirement_files(files):
    (files.dir / "a.txt").write_text("-r b.txt\n")
    (files.dir / "b.txt").write_text("pyjokes\n")
    before = files.plan("-r a.txt\n").key
    (files.dir / "b.txt").write_text("pyjokes==0.8.3\n")
    assert files.plan("-r a.txt\n").key != before


def test_key_ignores_an_unchanged_rewrite_of_the_same_text(files):
    first = files.plan("pyjokes\n").key
    files.requirements.write_text("pyjokes\n")  # new mtime, same content
    os.utime(files.requirements, (time.time() + 10, time.time() + 10))
    assert files.plan().key == first


def test_key_depends_on_expanded_variables(files):
    a = files.plan("--index-url https://${TOKEN}@x/simple\n", {"TOKEN": "a"}).key
    b = files.plan("--index-url https://${TOKEN}@x/simple\n", {"TOKEN": "b"}).key
    assert a != b


# --- install_command -------------------------------------------------------------------------


def test_install_command_shape(files):
    plan = files.plan("pyjokes\n")
    assert ri.install_command(plan) == [
        "uv",
        "pip",
        "install",
        "--python",
        "python3",
        "--prefix",
        "/usr/local/airflow/.local",
        "--index-strategy",
        "unsafe-best-match",
        "--no-progress",
        "-r",
        str(plan.processed),
        "--constraint",
        str(files.essential_constraints),
        "--constraint",
        str(files.airflow_constraints),
    ]
    plan = files.plan("-c x.txt\npyjokes\n")
    command = ri.install_command(plan, python="/usr/bin/python3.12", prefix="/p")
    assert command[command.index("--python") + 1] == "/usr/bin/python3.12"
    assert command[command.index("--prefix") + 1] == "/p"
    assert command.count("--constraint") == 1
    assert command[-1] == str(files.essential_constraints)


# --- diagnose --------------------------------------------------------------------------------


def test_diagnose_airflow_constraint_conflict(files):
    plan = files.plan("boto3==1.26.0\n")
    d = rq.diagnose(UV_AIRFLOW_CONSTRAINT, plan, False)
    assert d == (
        f"{NAME} line 1: Conflicts with the Airflow constraints: the Airflow 2.10.3 constraints "
        "pin boto3==1.35.36; you require boto3==1.26.0."
    )


def test_diagnose_transitive_airflow_constraint_conflict(files):
    plan = files.plan("# opencv\nx\nopencv-python-headless==4.12.0.88\n")
    d = rq.diagnose(UV_AIRFLOW_CONSTRAINT_TRANSITIVE, plan, False)
    # the line is the user's requirement the conflict comes from
    assert d.startswith(f"{NAME} line 3: Conflicts with the Airflow constraints: ")
    assert "pin numpy==1.26.4" in d
    assert "opencv-python-headless==4.12.0.88 requires numpy>=2,<2.3.0" in d


def test_diagnose_essential_conflicts(files):
    plan = files.plan("apache-airflow==2.9.0\n")
    d = rq.diagnose(UV_ESSENTIAL_AIRFLOW, plan, False)
    assert d == (
        f"{NAME} line 1: Conflicts with an MWAA essential package: MWAA pins "
        "apache-airflow==2.10.3 and requirements cannot override it; you require "
        "apache-airflow==2.9.0."
    )
    # celery is pinned by both files: the essential pin is the one nothing can override
    d = rq.diagnose(UV_ESSENTIAL_CELERY, plan, False)
    assert "Conflicts with an MWAA essential package: MWAA pins celery==5.4.0 " in d
    d = rq.diagnose(UV_ESSENTIAL_TRANSITIVE, plan, False)
    assert "Conflicts with an MWAA essential package: MWAA pins SQLAlchemy==1.4.54" in d
    assert "sqlmodel==0.0.14 requires sqlalchemy>=2.0.0,<2.1.0" in d


def test_diagnose_conflict_with_the_users_own_constraints(files):
    (files.dir / "mine.txt").write_text("requests==2.31.0\n")
    plan = files.plan("-c mine.txt\nrequests==2.32.3\n")
    out = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because you require requests==2.32.3 and requests==2.31.0, we can conclude "
        "that your requirements are unsatisfiable.\n"
    )
    assert rq.diagnose(out, plan, False) == (
        f"{NAME} line 2: Conflicts with your constraints: mine.txt ({NAME} line 1) pins "
        "requests==2.31.0; you require requests==2.32.3."
    )


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (UV_NOT_IN_REGISTRY, "Not found: this-package-does-not-exist-mwaa-xyz (not in the package"),
        (UV_NO_SUCH_VERSION, "Not found: pyjokes (no such version: pyjokes==99.0)"),
        (UV_ONLY_OLDER, "Not found: pyjokes (no version matches pyjokes>=99; only pyjokes<=0.8.3"),
        (UV_NOT_IN_FIND_LINKS, "Not found: numpy (not in the --find-links locations)"),
        (PIP_NOT_FOUND, "Not found: LibraryName (no matching distribution: LibraryName==1.0.0)"),
    ],
)
def test_diagnose_not_found(files, output, expected):
    assert rq.diagnose(output, files.plan("x\n"), False).startswith(f"{NAME}: {expected}")
    assert rq.diagnose(output, None, False).startswith(expected)


def test_diagnose_pip_conflict(files):
    d = rq.diagnose(PIP_CONFLICT, files.plan("boto3==1.26.0\n"), False)
    assert d.startswith(f"{NAME} line 1: Conflicts with the Airflow constraints: ")
    assert "pin boto3==1.35.36; you require boto3==1.26.0" in d


def test_diagnose_build_failures(files):
    d = rq.diagnose(UV_BUILD_FAILURE, files.plan("pycrypto==2.6.1\n"), False)
    assert d == (
        f"{NAME} line 1: Build failure: pycrypto==2.6.1 could not be built: "
        "no acceptable C compiler found in $PATH."
    )
    d = rq.diagnose(UV_BUILD_FAILURE_LOCAL, None, False)
    assert d.startswith("Build failure: ")
    assert d.endswith("RuntimeError: this package refuses to build.")


def test_diagnose_time_out_names_the_cap(files):
    d = rq.diagnose("Resolved 3 packages in 2s\n", files.plan("x\n"), True, timeout=600)
    assert d.startswith(f"{NAME}: Time-out: ") and "10 minutes" in d
    assert "90 seconds" in rq.diagnose("", None, True, timeout=90)


def test_diagnose_other_errors_give_the_first_error_and_its_root_cause(files):
    d = rq.diagnose(UV_NETWORK, None, False)
    assert d == (
        "Install error: Request failed after 3 retries in 11.8s "
        "(failed to lookup address information: Name or service not known)"
    )
    plan = files.plan("foo bar baz ===\n")
    d = rq.diagnose(UV_PARSE_ERROR.format(processed=plan.processed), plan, False)
    # the user's file is named, not the processed copy nor the path it was read from
    assert d.startswith(f"{NAME}: Install error: Couldn't parse requirement in `{NAME}`")
    assert str(plan.processed) not in d and str(files.requirements) not in d
    assert rq.diagnose("", None, False).startswith("Install error: ")


def test_conflict_without_a_plan_is_reported_as_it_is():
    d = rq.diagnose(UV_AIRFLOW_CONSTRAINT, None, False)
    assert d.startswith("Install error: No solution found")
    assert "boto3==1.26.0" in d


# --- run_install (a stand-in for uv) ---------------------------------------------------------


def _fake_uv(monkeypatch, script: str) -> None:
    monkeypatch.setattr(
        ri, "install_command", lambda plan, python="", prefix="": [sys.executable, "-c", script]
    )


def test_run_install_streams_lines_and_parses_installed(files, monkeypatch):
    _fake_uv(monkeypatch, f"import sys; sys.stderr.write({UV_INSTALLED!r})")
    seen: list[str] = []
    result = ri.run_install(files.plan("x\n"), os.environ, 30, seen.append)
    assert result.ok and result.returncode == 0 and not result.timed_out
    assert seen == result.output == UV_INSTALLED.splitlines()
    assert ("paramiko", "3.5.0") in result.installed and len(result.installed) == 5
    assert result.diagnosis.startswith("Installed 5 packages")
    assert result.report == []


def test_run_install_failure_report_starts_with_mwaas_message(files, monkeypatch):
    _fake_uv(monkeypatch, f"import sys; sys.stderr.write({UV_AIRFLOW_CONSTRAINT!r}); sys.exit(1)")
    seen: list[str] = []
    result = ri.run_install(files.plan("boto3==1.26.0\n"), os.environ, 30, seen.append)
    assert not result.ok and result.returncode == 1
    assert result.report[0] == rq.MWAA_FAILURE_MESSAGE
    assert result.report[1] == f"Diagnosis: {result.diagnosis}"
    assert "Airflow constraints" in result.diagnosis
    assert seen[-2:] == result.report
    assert seen[: len(result.output)] == result.output


def test_run_install_kills_the_process_group_on_time_out(files, monkeypatch, tmp_path):
    pidfile = tmp_path / "child.pid"
    _fake_uv(
        monkeypatch,
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "print('Resolving...', flush=True)\n"
        "time.sleep(60)\n",
    )
    seen: list[str] = []
    start = time.monotonic()
    result = ri.run_install(files.plan("x\n"), os.environ, 1.5, seen.append, name="worker_req")
    assert time.monotonic() - start < 15
    assert result.timed_out and result.returncode is None and not result.ok
    assert "Resolving..." in result.output
    assert any('Process "worker_req"' in line and "1500.0 milliseconds" in line for line in seen)
    assert result.diagnosis.startswith(f"{NAME}: Time-out: ")
    assert "1.5 seconds" in result.diagnosis
    child = int(pidfile.read_text())
    for _ in range(50):
        if not Path(f"/proc/{child}").exists() or "Z" in _proc_state(child):
            break
        time.sleep(0.1)
    else:
        pytest.fail("the child of the timed-out process is still running")


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "gone"


def test_run_install_missing_uv_is_a_failure(files, monkeypatch):
    monkeypatch.setattr(
        ri, "install_command", lambda plan, python="", prefix="": ["/nonexistent/uv"]
    )
    seen: list[str] = []
    result = ri.run_install(files.plan("x\n"), os.environ, 5, seen.append)
    assert not result.ok and result.returncode == 127
    assert "could not run /nonexistent/uv" in result.diagnosis
    assert seen[-2] == rq.MWAA_FAILURE_MESSAGE


# --- the official constraints URL, read from a local copy (issue 10 item 1) ------------------

URL_331 = "https://raw.githubusercontent.com/apache/airflow/constraints-3.3.1/constraints-3.12.txt"
URL_2103 = (
    "https://raw.githubusercontent.com/apache/airflow/constraints-2.10.3/constraints-3.11.txt"
)


@pytest.fixture
def staged(tmp_path):
    """A folder laid out like the URL path, as the host stages it in the version store."""
    root = tmp_path / "staged"
    target = root / "constraints-3.3.1" / "constraints-3.12.txt"
    target.parent.mkdir(parents=True)
    target.write_text("paramiko==5.0.0\napache-airflow-providers-ssh==6.0.1\n")
    return root


def test_official_url_is_read_from_the_staged_copy(files, staged):
    plan = files.plan(f'--constraint "{URL_331}"\npyjokes\n', constraints_dirs=[staged])
    local = staged / "constraints-3.3.1" / "constraints-3.12.txt"
    assert plan.processed.read_text() == f"--constraint {local}\npyjokes\n"
    assert not plan.added_airflow_constraints and plan.messages == []
    assert plan.notes == (
        f"{NAME} line 1: {URL_331} read from {rq_staged_source()}; not downloaded.",
    )
    assert local in plan.user_constraints
    # the diagnosis shows the URL, not the local copy
    assert (
        rq.diagnose(f"error: bad {local}", plan, False) == f"{NAME}: Install error: bad {URL_331}"
    )


def rq_staged_source() -> str:
    return "the copy mwaa-local staged from the constraints mirror, cache or network"


def test_the_images_own_versions_url_needs_no_staged_copy(files):
    url = URL_2103  # the fixture's plan is Airflow 2.10.3 on Python 3.11
    plan = files.plan(f"-c {url}\npyjokes\n")
    assert plan.processed.read_text() == f"-c {files.airflow_constraints}\npyjokes\n"
    assert "the image's own copy" in plan.notes[0]


def test_an_official_url_with_no_local_copy_is_left_to_the_installer(files, staged):
    plan = files.plan(f"-c {URL_331.replace('3.3.1', '3.0.6')}\n", constraints_dirs=[staged])
    assert plan.processed.read_text() == f"-c {URL_331.replace('3.3.1', '3.0.6')}\n"
    assert plan.notes == ()


def test_other_urls_are_never_replaced(files, staged):
    text = "-c https://example.com/constraints-3.3.1/constraints-3.12.txt\n"
    assert files.plan(text, constraints_dirs=[staged]).processed.read_text() == text


def test_official_url_in_an_included_file_is_read_locally_too(files, staged, tmp_path):
    (files.dir / "more.txt").write_text(f"--constraint {URL_331}\npyjokes\n")
    plan = files.plan("-r more.txt\n", constraints_dirs=[staged])
    first = plan.processed.read_text()
    assert first.startswith(f"-r {files.workdir}/included-1-more.txt")
    copy = files.workdir / "included-1-more.txt"
    local = staged / "constraints-3.3.1" / "constraints-3.12.txt"
    assert copy.read_text() == f"--constraint {local}\npyjokes\n"
    assert plan.notes[0].startswith(f"{files.dir}/more.txt line 1: {URL_331} read from ")
    # the key does not depend on where the processed copies are
    files.workdir = tmp_path / "elsewhere"
    assert files.plan("-r more.txt\n", constraints_dirs=[staged]).key == plan.key


def test_conflict_with_a_named_official_url_names_both_lines(files, staged):
    plan = files.plan(f'--constraint "{URL_331}"\n\nparamiko==5.1.0\n', constraints_dirs=[staged])
    out = (
        "error: No solution found when resolving dependencies\n"
        "  cause: Because you require paramiko==5.1.0 and paramiko==5.0.0, we can conclude "
        "that your requirements are unsatisfiable.\n"
    )
    assert rq.diagnose(out, plan, False) == (
        f"{NAME} line 3: Conflicts with your constraints: the Airflow 3.3.1 constraints "
        f"({NAME} line 1) pins paramiko==5.0.0; you require paramiko==5.1.0."
    )


# Real output of uv 0.13.9 in mwaa-local/airflow:3.3.1 with no network (docker --network none),
# for a requirements file (`r1.txt` here; the processed copy in practice) whose -c URL has no
# local copy.
UV_OFFLINE_CONSTRAINTS = f"""\
error: Error parsing included file in `r1.txt` at position 0
  cause: Error while accessing remote requirements file: {URL_331}
  cause: error sending request for url ({URL_331})
  cause: client error (Connect)
  cause: dns error
  cause: error resolving DNS
  cause: failed to lookup address information: Temporary failure in name resolution
"""


def test_unreachable_constraints_url_names_the_line_and_the_mirror(files):
    plan = files.plan(f"# ours\n--constraint {URL_331}\nsix\n")
    output = UV_OFFLINE_CONSTRAINTS.replace("r1.txt", str(plan.processed))
    d = rq.diagnose(output, plan, False)
    assert d == (
        f"{NAME} line 2: Network error: {URL_331} could not be fetched (failed to lookup address "
        "information: Temporary failure in name resolution). Put "
        "constraints-3.3.1/constraints-3.12.txt in the ConstraintsMirror folder, or run once "
        "with network access so mwaa-local caches it."
    )
    assert "Put constraints-3.3.1/constraints-3.12.txt in the ConstraintsMirror folder" in d


def test_unreachable_index_names_its_line_without_the_credentials(files):
    text = "pyjokes\n--index-url https://${USER}:${TOKEN}@nonexistent.invalid/simple\n"
    plan = files.plan(text, {"USER": "me", "TOKEN": "s3cret"})
    d = rq.diagnose(UV_NETWORK, plan, False)
    assert d.startswith(
        f"{NAME} line 2: Network error: https://nonexistent.invalid/simple/pyjokes/ could not be "
        "fetched ("
    )
    assert "s3cret" not in d


# --- a comment that turns the Airflow constraints off (issue 10 item 3) ----------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("# With no -c/--constraint line, MWAA adds them\nssh\n", 1),
        ("six\npyjokes  # see --constraint docs\n", 2),
        ("# -c essential only\n", 1),
        ("six\n", None),
        ("# -c x\n-c mine.txt\n", None),  # a real line names constraints: not the comment's doing
        ("-c mine.txt # and -c other\n", None),
    ],
)
def test_the_comment_that_disables_the_constraints_is_found(text, line):
    assert rq.constraints_comment(text) == line


def test_plan_reports_the_comment_plainly(files):
    plan = files.plan("# -c/--constraint lines\napache-airflow-providers-ssh\n")
    assert not plan.added_airflow_constraints  # MWAA's rule, kept
    assert plan.constraints_comment.where == f"{NAME} line 1"
    assert plan.notes[0] == rq.comment_note(f"{NAME} line 1")
    assert "does NOT add the Airflow constraints" in plan.notes[0]


def test_the_sample_requirements_keep_the_official_constraints():
    sample = Path(__file__).resolve().parents[2] / "requirements" / "requirements.txt"
    text = sample.read_text()
    assert not rq.has_constraints(text)
    assert rq.constraints_comment(text) is None


# --- -e <vcs URL>: uv refuses it, pip installs it (issue 10 item 7) --------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "-e git+https://github.com/org/repo.git#egg=mypkg",
            "mypkg @ git+https://github.com/org/repo.git",
        ),
        (
            '--editable "git+https://${TOKEN}@github.com/o/r.git@v1.2#egg=my_pkg&subdirectory=src"',
            "my_pkg @ git+https://${TOKEN}@github.com/o/r.git@v1.2#subdirectory=src",
        ),
        ("-e git+https://github.com/o/r.git  # no egg", "git+https://github.com/o/r.git  # no egg"),
        ("-e hg+https://hg.example.com/r#egg=x[extra]", "x[extra] @ hg+https://hg.example.com/r"),
        ("-e ./local/folder", None),
        ("git+https://github.com/o/r.git#egg=x", None),
    ],
)
def test_editable_vcs_lines_translate_to_direct_references(line, expected):
    assert rq.translate_editable_vcs(line) == expected


def test_editable_vcs_is_translated_for_uv_and_kept_for_pip(files):
    text = "six\n-e git+https://github.com/org/repo.git#egg=mypkg\n"
    plan = files.plan(text)
    assert plan.processed.read_text() == "six\nmypkg @ git+https://github.com/org/repo.git\n"
    assert plan.notes[0].startswith(f"{NAME} line 2: uv cannot install a VCS URL as editable")
    pip = files.plan(text, installer="pip")
    assert pip.processed.read_text() == text and pip.notes == ()
    assert pip.key != plan.key
    assert rq.requirement_name("-e git+https://x/r.git#egg=mypkg") == "mypkg"


# --- Local.Installer: pip runs MWAA's own command (issue 10 item 2) --------------------------


def test_pip_command_is_mwaas(files):
    plan = files.plan("pyjokes\n", installer="pip")
    assert ri.pip_command(plan, ["pip3"]) == [
        "pip3",
        "install",
        "--constraint",
        str(files.essential_constraints),
        "-r",
        str(plan.processed),
        "-c",
        str(files.airflow_constraints),
    ]
    plan = files.plan("-c mine.txt\npyjokes\n", installer="pip")
    assert ri.pip_command(plan, ["pip3"])[-2:] == ["-r", str(plan.processed)]


def test_pip_runs_with_its_own_interpreter_when_that_has_pip():
    assert ri.pip_launcher(sys.executable) == [sys.executable, "-m", "pip"]


PIP_INSTALLED = """\
Defaulting to user installation because normal site-packages is not writeable
Collecting pyjokes (from -r /tmp/x/requirements.txt (line 1))
Installing collected packages: pyjokes, apache-airflow-providers-ssh
Successfully installed apache-airflow-providers-ssh-6.0.1 pyjokes-0.8.3
"""


def test_run_install_with_pip_parses_what_pip_installed(files, monkeypatch):
    seen_env = {}

    def command(plan, python="", prefix=""):
        assert plan.installer == "pip"
        return [sys.executable, "-c", f"import os, sys; sys.stdout.write({PIP_INSTALLED!r})"]

    monkeypatch.setattr(ri, "install_command", command)
    real = ri.run_capped
    monkeypatch.setattr(
        ri, "run_capped", lambda c, env, t, on: seen_env.update(env) or real(c, env, t, on)
    )
    result = ri.run_install(files.plan("pyjokes\n", installer="pip"), {}, 30, lambda line: None)
    assert result.ok
    assert result.installed == [("apache-airflow-providers-ssh", "6.0.1"), ("pyjokes", "0.8.3")]
    assert seen_env["PIP_DISABLE_PIP_VERSION_CHECK"] == "1"
