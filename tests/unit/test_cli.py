import json

from click.testing import CliRunner

from mwaa_local.cli.main import COMMAND_MODULES, cli


def invoke(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_help_lists_every_command_with_one_line():
    result = invoke("--help")
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].strip().splitlines()
    names = {line.split()[0] for line in listed}
    assert names == set(COMMAND_MODULES)
    for line in listed:
        assert len(line.split(None, 1)) == 2, f"no one-line help: {line!r}"


def test_every_command_has_help():
    for name in COMMAND_MODULES:
        result = invoke(name, "--help")
        assert result.exit_code == 0, name
        assert "Usage:" in result.output


def test_versions_json_marks_the_default():
    result = invoke("airflow-versions", "--json")
    rows = json.loads(result.output)
    assert [r["AirflowVersion"] for r in rows if r["Default"]] == ["3.3.1"]
    assert len(rows) == 8


def test_unknown_airflow_version_is_a_clear_error(tmp_path):
    result = invoke("--project-dir", str(tmp_path), "build-image", "--airflow-version", "1.10.12")
    assert result.exit_code != 0
    assert "1.10.12" in result.output and "3.3.1" in result.output
    assert "Traceback" not in result.output


def test_docker_not_reachable_says_how_to_start_it(tmp_path):
    result = invoke(
        "--project-dir",
        str(tmp_path),
        "build-image",
        "--airflow-version",
        "3.0.6",
        env={
            "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
            "MWAA_LOCAL_CONSTRAINTS_MIRROR": None,
        },
    )
    assert result.exit_code == 1
    assert "No Docker engine answers" in result.output
    assert "Start Docker" in result.output
    assert "Traceback" not in result.output


def test_bad_settings_file_fails_with_the_key_named(tmp_path):
    (tmp_path / "mwaa-local.yaml").write_text("EnvironmentClass: mw1.tiny\n")
    result = invoke("--project-dir", str(tmp_path), "build-image")
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if "EnvironmentClass" in line]
    assert len(lines) == 1 and "mw1.tiny" in lines[0]
    assert "Traceback" not in result.output


def test_init_never_rewrites_an_existing_file(tmp_path):
    settings = tmp_path / "mwaa-local.yaml"
    settings.write_text("Name: mine\n")
    result = invoke("--project-dir", str(tmp_path), "init")
    assert result.exit_code == 0  # the rest of the project is laid out around it
    assert "Kept" in result.output
    assert settings.read_text() == "Name: mine\n"
    source = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "get-environment.json"
    result = invoke("--project-dir", str(tmp_path), "init", "--from-environment", str(source))
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert settings.read_text() == "Name: mine\n"


def test_init_from_environment_writes_a_valid_file(tmp_path):
    source = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "get-environment.json"
    result = invoke("--project-dir", str(tmp_path), "init", "--from-environment", str(source))
    assert result.exit_code == 0, result.output
    text = (tmp_path / "mwaa-local.yaml").read_text()
    assert "AirflowVersion:" in text
    assert "dropped" in result.output and "Arn" in result.output


def test_reset_db_asks_first_and_deletes_nothing_when_declined(tmp_path):
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "reset-db"], input="n\n")
    assert "Delete the metadata database" in result.output
    assert result.exit_code == 1
    assert "Nothing was deleted" in result.output


def test_status_says_plainly_when_a_comment_disabled_the_constraints():
    from mwaa_local.cli import commands_stack
    from mwaa_local.cli.output import out

    where = "requirements/requirements.txt line 2"
    reports = {
        "scheduler": {"requirements": {"ok": True, "ran": True, "constraints_comment": None}},
        "worker": {"requirements": {"ok": True, "unchanged": True, "constraints_comment": where}},
    }
    with out.capture() as captured:
        commands_stack.show_constraints_comment(reports)
        commands_stack.show_constraints_comment({"worker": {"requirements": {"ok": True}}})
    text = captured.get()
    assert text.count("\n") == 1
    assert text.startswith(
        f"Requirements: {where} is a comment containing `-c ` or `--constraint `"
    )
    assert "does NOT add the Airflow constraints" in text


def test_errors_are_shown_as_written_not_as_markup(capsys):
    from mwaa_local.cli.output import render_error
    from mwaa_local.errors import MwaaLocalError

    render_error(MwaaLocalError("`[logging] logging_level` is wrong", hint="match [ -~]+"))
    shown = capsys.readouterr().err
    assert "`[logging] logging_level` is wrong" in shown and "match [ -~]+" in shown
