"""`mwaa-local upgrade-check`: ruff's JSON, MWAA's in-place rule, the report and exit code, the
real ruff on the fixture DAG, and the command with the container parts faked (no Docker)."""

import json
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from mwaa_local.cli import commands_image, commands_upgrade
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import out
from mwaa_local.errors import MwaaLocalError
from mwaa_local.spec.settings import load_environment
from mwaa_local.spec.versions import airflow_version
from mwaa_local.upgrade import check as upgrade_check
from tests.required import require

FIXTURE = Path(__file__).parents[1] / "fixtures" / "upgrade_project"

# Abridged from `ruff check --output-format json --select AIR3 --preview` (ruff 0.17.6).
RUFF_JSON = json.dumps(
    [
        {
            "cell": None,
            "code": "AIR311",
            "end_location": {"column": 16, "row": 14},
            "filename": "/p/dags/legacy_dag.py",
            "fix": {"applicability": "unsafe", "edits": [], "message": "Use `airflow.sdk.Asset`"},
            "location": {"column": 10, "row": 14},
            "message": "`airflow.datasets.Dataset` is removed in Airflow 3.0; It still works",
            "name": "airflow3-suggested-update",
            "noqa_row": 14,
            "severity": "error",
            "url": "https://docs.astral.sh/ruff/rules/airflow3-suggested-update",
        },
        {
            "cell": None,
            "code": "AIR301",
            "end_location": {"column": 22, "row": 29},
            "filename": "/p/dags/legacy_dag.py",
            "fix": None,
            "location": {"column": 5, "row": 29},
            "message": "`schedule_interval` is removed in Airflow 3.0",
            "name": "airflow3-removal",
            "noqa_row": 29,
            "severity": "error",
            "url": "https://docs.astral.sh/ruff/rules/airflow3-removal",
        },
        {
            "cell": None,
            "code": None,
            "end_location": {"column": 14, "row": 1},
            "filename": "/p/dags/broken.py",
            "fix": None,
            "location": {"column": 9, "row": 1},
            "message": "Expected `:`, found identifier",
            "name": "invalid-syntax",
            "noqa_row": None,
            "severity": "error",
            "url": None,
        },
    ]
)


def has_ruff() -> bool:
    try:
        upgrade_check.find_ruff()
    except MwaaLocalError:
        return False
    return True


@pytest.fixture
def ruff_installed() -> None:
    require(has_ruff(), "ruff is not installed (mwaa-local depends on it)")


needs_ruff = pytest.mark.usefixtures("ruff_installed")


# --- ruff's JSON ------------------------------------------------------------------------------


def test_parse_ruff_json_sorted_with_severity_and_fixable():
    findings = upgrade_check.parse_ruff_json(RUFF_JSON, lambda name: name.removeprefix("/p/"))
    assert [(f.file, f.line, f.code) for f in findings] == [
        ("dags/broken.py", 1, "invalid-syntax"),
        ("dags/legacy_dag.py", 14, "AIR311"),
        ("dags/legacy_dag.py", 29, "AIR301"),
    ]
    assert [f.severity for f in findings] == ["error", "warning", "error"]
    assert [f.fixable for f in findings] == [False, True, False]
    assert findings[2].as_dict() == {
        "file": "dags/legacy_dag.py",
        "line": 29,
        "column": 5,
        "code": "AIR301",
        "message": "`schedule_interval` is removed in Airflow 3.0",
        "url": "https://docs.astral.sh/ruff/rules/airflow3-removal",
        "fixable": False,
        "severity": "error",
    }


def test_parse_ruff_json_empty_and_garbage():
    assert upgrade_check.parse_ruff_json("[]") == []
    assert upgrade_check.parse_ruff_json("") == []
    with pytest.raises(MwaaLocalError, match="no JSON"):
        upgrade_check.parse_ruff_json("error: unexpected argument")


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("AIR301", "error"),
        ("AIR302", "error"),
        ("AIR303", "error"),
        ("invalid-syntax", "error"),
        ("AIR311", "warning"),
        ("AIR312", "warning"),
        ("AIR321", "warning"),
    ],
)
def test_severity(code, severity):
    assert upgrade_check.Finding("f.py", 1, 1, code, "m").severity == severity


def test_ruff_command_ignores_the_projects_config_and_selects_air3_with_preview():
    command = upgrade_check.ruff_command("ruff", [Path("/p/dags")])
    assert command[:2] == ["ruff", "check"]
    for flag in ("--isolated", "--no-cache", "--preview", "--exit-zero", "--no-respect-gitignore"):
        assert flag in command
    assert command[command.index("--select") + 1] == "AIR3"
    assert command[command.index("--output-format") + 1] == "json"
    assert command[-1] == "/p/dags"


# --- MWAA's in-place rule (mwaa-behaviour.md 6.3) ---------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "allowed", "says"),
    [
        ("2.10.3", "3.3.1", False, "only from the latest 2.11.x (2.11.2)"),
        ("2.11.0", "3.0.6", False, "first upgrade 2.11.0 -> 2.11.2"),
        ("2.11.2", "3.3.1", True, "blue/green"),
        ("2.9.2", "2.11.2", True, "minor-version upgrade"),
        ("2.11.2", "2.10.1", True, "minor-version downgrade"),
        ("3.0.6", "3.3.1", True, "minor-version upgrade"),
        ("3.3.1", "2.11.2", True, "downgrade from Airflow 3 to 2.11.2"),
        ("3.3.1", "2.11.0", True, "downgrade"),
        ("3.0.6", "2.10.3", False, "only to 2.11.x"),
        ("3.3.1", "3.3.1", True, "already runs"),
    ],
)
def test_in_place_upgrade(current, target, allowed, says):
    rule = upgrade_check.in_place_upgrade(airflow_version(current), airflow_version(target))
    assert rule.allowed is allowed
    assert says in rule.message


def test_latest_2x_is_the_newest_2_11():
    assert upgrade_check.latest_2x().airflow == "2.11.2"


def test_lint_only_when_crossing_from_2_to_3():
    environment = load_environment(FIXTURE)
    for target in ("2.11.2", "2.10.3"):
        part = upgrade_check.lint_step(environment, airflow_version(target))
        assert part["ran"] is False and part["applies"] is False and part["ok"] is None
        assert "does not cross from 2 to 3" in part["reason"]
        assert upgrade_check.passed(part)  # nothing to check is not a failure
    on_3 = upgrade_check.target_environment(environment, airflow_version("3.0.6"))
    assert on_3.airflow_version.airflow == "3.0.6" and on_3.name == environment.name
    assert upgrade_check.lint_step(on_3, airflow_version("2.11.2"))["ran"] is False


# --- the report and exit code -----------------------------------------------------------------

OK = {"ok": True}
FAILED = {"ok": False}


def test_assemble_ok_and_exit_zero_even_when_not_in_place():
    report = upgrade_check.assemble(airflow_version("2.10.3"), airflow_version("3.3.1"), OK, OK, OK)
    assert report["ok"] is True and report["failed"] == []
    assert report["in_place"]["allowed"] is False
    assert (report["from"], report["to"]) == ("2.10.3", "3.3.1")
    assert report["image"] == "mwaa-local/airflow:3.3.1"
    assert upgrade_check.exit_code(report) == 0


def test_assemble_names_failed_parts_in_order_and_exits_one():
    report = upgrade_check.assemble(
        airflow_version("2.11.2"), airflow_version("3.3.1"), FAILED, OK, FAILED
    )
    assert report["ok"] is False
    assert report["failed"] == ["requirements_test", "lint"]
    assert report["in_place"]["allowed"] is True
    assert upgrade_check.exit_code(report) == 1


def test_requirements_line():
    installed = {"ran": True, "ok": True, "duration": 2.5, "installed": ["a==1", "b==2"]}
    part = {"ok": True, "requirements": installed}
    assert upgrade_check.requirements_line(part) == (
        "OK: requirements install in 2.5 s; 2 package(s) added"
    )
    failed = {"ok": False, "requirements": {"ran": True, "ok": False, "diagnosis": "conflict"}}
    assert upgrade_check.requirements_line(failed) == "FAILED: conflict"
    assert upgrade_check.requirements_line({"ok": False, "fatal": "boom"}) == "FAILED: boom"
    none = {"ok": True, "requirements": {"ran": False, "path": "requirements.txt"}}
    assert "no requirements file at requirements.txt" in upgrade_check.requirements_line(none)


# --- the real ruff ----------------------------------------------------------------------------


@needs_ruff
def test_real_ruff_on_the_fixture_dag():
    environment = load_environment(FIXTURE)
    assert environment.airflow_version.airflow == "2.10.3"
    part = upgrade_check.lint_step(environment, airflow_version("3.3.1"))
    assert part["ran"] is True and part["ok"] is False
    assert part["paths"][0].endswith("dags")
    found = {(f["line"], f["code"]) for f in part["findings"]}
    assert {f["file"] for f in part["findings"]} == {
        upgrade_check.display_path(FIXTURE / "dags" / "legacy_dag.py")
    }
    # context["execution_date"], schedule_interval=, days_ago, airflow.contrib: removed.
    assert {(23, "AIR301"), (29, "AIR301"), (30, "AIR301"), (35, "AIR301")} <= found
    # DummyOperator and airflow.operators.bash_operator: in the standard provider only.
    assert {(34, "AIR302"), (37, "AIR302")} <= found
    # airflow.datasets.Dataset, PythonOperator: still work on 3.x.
    assert {(14, "AIR311"), (36, "AIR312")} <= found
    assert part["errors"] == sum(f["severity"] == "error" for f in part["findings"]) >= 6
    assert part["warnings"] >= 2


@needs_ruff
def test_real_ruff_ignores_the_projects_ruff_config(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    # Either would hide the findings without --isolated.
    (project / "ruff.toml").write_text(
        'extend-exclude = ["legacy_dag.py"]\n[lint]\nper-file-ignores = {"*" = ["AIR3"]}\n'
    )
    environment = load_environment(project)
    part = upgrade_check.lint_step(environment, airflow_version("3.0.6"))
    assert "AIR301" in {f["code"] for f in part["findings"]}


@needs_ruff
def test_real_ruff_on_plugins_zip_names_members(tmp_path):
    project = tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    (project / "mwaa-local.yaml").write_text('AirflowVersion: "2.11.2"\n')
    legacy = "from airflow.utils.dates import days_ago\n\nSTART = days_ago(1)\n"
    with zipfile.ZipFile(project / "plugins.zip", "w") as archive:
        archive.writestr("ops/legacy.py", legacy)
        archive.writestr("../escape.py", legacy)
        archive.writestr("README.md", "not python")
    environment = load_environment(project)
    part = upgrade_check.lint_step(environment, airflow_version("3.3.1"))
    files = {f["file"] for f in part["findings"]}
    assert files == {f"{upgrade_check.display_path(project / 'plugins.zip')}:ops/legacy.py"}
    assert part["fix_paths"] == [upgrade_check.display_path(project / "dags")]
    assert part["ok"] is False


def test_missing_ruff_is_a_failed_lint_not_a_crash(monkeypatch):
    def no_ruff():
        raise MwaaLocalError("ruff is not installed; the Airflow 3 lint needs it.")

    monkeypatch.setattr(upgrade_check, "find_ruff", no_ruff)
    part = upgrade_check.lint_step(load_environment(FIXTURE), airflow_version("3.3.1"))
    assert part["ran"] is False and part["ok"] is False
    assert "ruff is not installed" in part["fatal"]


# --- an s3:// bucket: the lint reads the bucket (moto) ---------------------------------------


@pytest.fixture
def s3(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="airflow-test")
        yield client


def s3_project(root: Path, s3, bucket: str = "airflow-test") -> Path:
    """The fixture project with its DAG folder and a plugins.zip in s3://bucket/env."""
    root.mkdir()
    (root / "mwaa-local.yaml").write_text(
        f'AirflowVersion: "2.10.3"\nLocal:\n  Bucket: s3://{bucket}/env\n'
    )
    for path in (FIXTURE / "dags").rglob("*.py"):
        key = f"env/dags/{path.relative_to(FIXTURE / 'dags').as_posix()}"
        s3.put_object(Bucket="airflow-test", Key=key, Body=path.read_bytes())
    archive = root / "built.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(
            "ops/legacy.py", "from airflow.utils.dates import days_ago\n\nSTART = days_ago(1)\n"
        )
    s3.put_object(Bucket="airflow-test", Key="env/plugins.zip", Body=archive.read_bytes())
    return root


@needs_ruff
def test_the_lint_reads_an_s3_buckets_dags_and_plugins(s3, tmp_path):
    environment = load_environment(s3_project(tmp_path / "project", s3))
    part = upgrade_check.lint_step(environment, airflow_version("3.3.1"))
    assert part["ran"] is True and part["ok"] is False
    files = {f["file"] for f in part["findings"]}
    assert files == {
        "s3://airflow-test/env/dags/legacy_dag.py",
        "s3://airflow-test/env/plugins.zip:ops/legacy.py",
    }
    assert part["paths"] == ["s3://airflow-test/env/dags", "s3://airflow-test/env/plugins.zip"]
    assert part["fix_paths"] == []  # nothing to fix in place


def test_a_lint_that_cannot_read_the_bucket_did_not_run_and_the_report_fails(s3, tmp_path):
    project = s3_project(tmp_path / "project", s3)
    (project / "mwaa-local.yaml").write_text(
        'AirflowVersion: "2.10.3"\nLocal:\n  Bucket: s3://no-such-bucket/env\n'
    )
    part = upgrade_check.lint_step(load_environment(project), airflow_version("3.3.1"))
    assert part["ran"] is False and part["ok"] is False
    assert "no-such-bucket" in part["reason"]
    report = upgrade_check.assemble(
        airflow_version("2.10.3"), airflow_version("3.3.1"), OK, OK, part
    )
    assert report["ok"] is False and report["failed"] == report["not_run"] == ["lint"]
    assert upgrade_check.exit_code(report) == 1


def test_parts_that_did_not_run_fail_the_report_and_parts_that_do_not_apply_do_not():
    did_not_run = upgrade_check.not_run("the image could not be built")
    unneeded = upgrade_check.not_applicable("2.10.1 -> 2.10.3 does not cross from 2 to 3")
    report = upgrade_check.assemble(
        airflow_version("2.10.1"), airflow_version("2.10.3"), did_not_run, OK, unneeded
    )
    assert report["failed"] == report["not_run"] == ["requirements_test"]
    report = upgrade_check.assemble(
        airflow_version("2.10.1"), airflow_version("2.10.3"), OK, OK, unneeded
    )
    assert report["ok"] is True and report["not_run"] == []
    # A part that says ok without having run does not pass.
    assert not upgrade_check.passed({"ran": False, "ok": True})


# --- the command, with the container parts faked ----------------------------------------------


@pytest.fixture
def fake_containers(monkeypatch):
    calls = {"built": [], "steps": []}

    def fake_build_for(project, version, quiet=False, runtime=None):
        calls["built"].append((version.airflow, quiet))
        out.print("mwaa-local/airflow:x built")  # build_for reports on stdout

    def step(name, part):
        def run(runtime, on_line):
            calls["steps"].append((name, runtime.environment.airflow_version.airflow))
            return part

        return run

    class NoImageYet:
        name = "docker"

        def __init__(self, environment):
            self.environment = environment

        def prepared(self, version, cache_dir):
            return False

    monkeypatch.setattr(commands_upgrade, "open_runtime", NoImageYet)
    monkeypatch.setattr(commands_image, "build_for", fake_build_for)
    requirements = {"ok": True, "exit_code": 0, "requirements": {"ran": False}}
    dag_check = {"ok": True, "exit_code": 0, "files": [], "airflow_version": "3.3.1"}
    monkeypatch.setattr(upgrade_check, "requirements_step", step("requirements", requirements))
    monkeypatch.setattr(upgrade_check, "dag_check_step", step("dag_check", dag_check))
    return calls


def invoke(project_dir: Path, *args: str):
    project = Project(project_dir, None)
    return CliRunner().invoke(commands_upgrade.upgrade_check_command, list(args), obj=project)


@needs_ruff
def test_command_json_is_one_report_and_exits_one_on_lint_errors(fake_containers):
    result = invoke(FIXTURE, "--to", "3.3.1", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)  # the build's line went to stderr
    assert report["failed"] == ["lint"]
    assert report["in_place"]["allowed"] is False
    assert {"requirements_test", "dag_check", "lint"} <= set(report)
    assert fake_containers["built"] == [("3.3.1", True)]
    assert fake_containers["steps"] == [("requirements", "3.3.1"), ("dag_check", "3.3.1")]


@needs_ruff
def test_command_text_report(fake_containers):
    result = invoke(FIXTURE, "--to", "3.0.6")
    assert result.exit_code == 1
    assert "Airflow 2.10.3 -> 3.0.6" in result.stdout
    assert "MWAA in place: not allowed" in result.stdout
    assert "AIR301" in result.stdout and "AIR302" in result.stdout
    assert "FAILED for Airflow 3.0.6: Airflow 3 lint." in result.stdout


def test_command_exits_zero_when_everything_passes(fake_containers):
    result = invoke(FIXTURE, "--to", "2.11.2", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["lint"]["ran"] is False
    assert report["lint"]["applies"] is False and report["not_run"] == []
    assert report["in_place"]["allowed"] is True


def test_command_rejects_an_unknown_version(fake_containers):
    result = invoke(FIXTURE, "--to", "1.10.12")
    assert result.exit_code == 2
    assert "1.10.12" in result.output and "3.3.1" in result.output


def test_command_on_an_s3_bucket_it_cannot_read_says_not_run_and_exits_one(
    fake_containers, s3, tmp_path
):
    project = s3_project(tmp_path / "project", s3)
    (project / "mwaa-local.yaml").write_text(
        'AirflowVersion: "2.10.3"\nLocal:\n  Bucket: s3://no-such-bucket/env\n'
    )
    result = invoke(project, "--to", "3.3.1", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["lint"]["ran"] is False
    text = invoke(project, "--to", "3.3.1")
    assert "NOT RUN" in text.stdout
    assert "FAILED for Airflow 3.3.1: Airflow 3 lint (did not run)." in text.stdout


@needs_ruff
def test_files_the_lint_could_not_read_fail_it(tmp_path):
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "clean.py").write_text("X = 1\n")
    source = upgrade_check.LintSource(
        tmp_path / "dags", "s3://b/env/dags", unread={"s3://b/env/dags/gone.py": "NoSuchKey"}
    )
    part = upgrade_check.lint_folders([source])
    assert part["ran"] is True and part["errors"] == 0
    assert part["ok"] is False and part["not_linted"] == {"s3://b/env/dags/gone.py": "NoSuchKey"}
