"""`mwaa-local workflows convert`: the converter's command and environment, where its YAML
goes, never overwriting, and its failures, with the converter faked (the real one runs in
tests/e2e/test_workflows.py)."""

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mwaa_local.cli.main import cli
from mwaa_local.errors import MwaaLocalError
from mwaa_local.workflows import convert as converter

FIXTURES = Path(__file__).parents[1] / "fixtures" / "workflows"
CONVERTED = (FIXTURES / "converted_s3.yaml").read_text()
UV = ["/opt/uv"]


class FakeConverter:
    """Writes one YAML per dag_id into the --output folder, as dag-converter does."""

    def __init__(
        self, dag_ids=("simples3test",), returncode=0, output="YAML written", yaml=CONVERTED
    ):
        self.yaml = yaml
        self.dag_ids = dag_ids
        self.returncode = returncode
        self.output = output
        self.calls: list[dict] = []

    def __call__(self, command, **kwargs):
        self.calls.append({"command": command, **kwargs})
        out_dir = Path(command[command.index("--output") + 1])
        out_dir.mkdir(parents=True, exist_ok=True)
        for dag_id in self.dag_ids:
            (out_dir / f"{dag_id}.yaml").write_text(self.yaml.replace("simples3test", dag_id))
        return subprocess.CompletedProcess(command, self.returncode, self.output, "")


@pytest.fixture
def dag_file(tmp_path) -> Path:
    folder = tmp_path / "dags"
    folder.mkdir()
    path = folder / "s3_dag.py"
    path.write_text((FIXTURES / "s3_dag.py").read_text())
    return path


def test_the_converter_runs_pinned_through_uv_in_a_throwaway_airflow_home(dag_file, tmp_path):
    fake = FakeConverter()
    converter.convert(dag_file, tmp_path / "out.yaml", run=fake, uv=UV)
    call = fake.calls[0]
    command = call["command"]
    assert command[:3] == [*UV, "tool", "run"]
    assert command[command.index("--from") + 1] == (
        "python-to-yaml-dag-converter-mwaa-serverless==0.1.4"
    )
    assert command[command.index("dag-converter") :][:3] == [
        "dag-converter",
        "convert",
        str(dag_file),
    ]
    env = call["env"]
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(dag_file.parent) == call["cwd"]
    assert Path(env["AIRFLOW_HOME"]).parent == Path(command[command.index("--output") + 1]).parent
    assert not Path(env["AIRFLOW_HOME"]).exists()  # the temporary folder is gone
    assert env["DO_NOT_TRACK"] == "1" and env["AIRFLOW__DAG_FACTORY__ENABLE_TELEMETRY"] == "False"


def test_output_gets_the_converted_yaml(dag_file, tmp_path):
    result = converter.convert(dag_file, tmp_path / "out.yaml", run=FakeConverter(), uv=UV)
    assert result.written == [tmp_path / "out.yaml"]
    assert (tmp_path / "out.yaml").read_text() == CONVERTED


def test_without_output_each_dag_goes_to_its_dag_id_in_the_working_folder(dag_file, tmp_path):
    fake = FakeConverter(dag_ids=("first", "second"))
    result = converter.convert(dag_file, cwd=tmp_path, run=fake, uv=UV)
    assert result.written == [tmp_path / "first.yaml", tmp_path / "second.yaml"]
    assert "first:" in (tmp_path / "first.yaml").read_text()


def test_an_existing_output_is_refused_before_converting(dag_file, tmp_path):
    (tmp_path / "out.yaml").write_text("mine")
    fake = FakeConverter()
    with pytest.raises(
        MwaaLocalError, match="out.yaml already exists; mwaa-local never overwrites"
    ):
        converter.convert(dag_file, tmp_path / "out.yaml", run=fake, uv=UV)
    assert fake.calls == [] and (tmp_path / "out.yaml").read_text() == "mine"


def test_an_existing_dag_id_file_is_refused_and_nothing_is_written(dag_file, tmp_path):
    (tmp_path / "second.yaml").write_text("mine")
    fake = FakeConverter(dag_ids=("first", "second"))
    with pytest.raises(MwaaLocalError, match="second.yaml already exists"):
        converter.convert(dag_file, cwd=tmp_path, run=fake, uv=UV)
    assert not (tmp_path / "first.yaml").exists()
    assert (tmp_path / "second.yaml").read_text() == "mine"


def test_output_names_one_file_so_several_dags_are_an_error(dag_file, tmp_path):
    fake = FakeConverter(dag_ids=("first", "second"))
    with pytest.raises(MwaaLocalError, match=r"defines 2 DAGs \(first, second\)") as e:
        converter.convert(dag_file, tmp_path / "out.yaml", run=fake, uv=UV)
    assert "Leave --output out" in e.value.hint
    assert not (tmp_path / "out.yaml").exists()


def test_a_converter_failure_shows_its_last_lines(dag_file, tmp_path):
    output = (
        "Static validation failed\nInvalidOperatorError: Operator BashOperator is not supported"
    )
    fake = FakeConverter(dag_ids=(), returncode=1, output=output)
    with pytest.raises(MwaaLocalError, match="The converter failed on .*s3_dag.py") as e:
        converter.convert(dag_file, tmp_path / "out.yaml", run=fake, uv=UV)
    assert "Operator BashOperator is not supported" in e.value.message
    assert not (tmp_path / "out.yaml").exists()


def test_a_converter_that_cannot_be_installed_says_so(dag_file, tmp_path):
    output = "  x No solution found when resolving tool dependencies:\n  apache-airflow==3.0.6"
    fake = FakeConverter(dag_ids=(), returncode=1, output=output)
    with pytest.raises(MwaaLocalError, match="could not be installed with uv") as e:
        converter.convert(dag_file, tmp_path / "out.yaml", run=fake, uv=UV)
    assert "Python 3.10-3.12" in e.value.hint


def test_no_dag_in_the_file_is_an_error(dag_file, tmp_path):
    with pytest.raises(MwaaLocalError, match="found no DAG"):
        converter.convert(dag_file, tmp_path / "o.yaml", run=FakeConverter(dag_ids=()), uv=UV)


def test_without_uv_it_is_an_error(dag_file, tmp_path, monkeypatch):
    monkeypatch.setattr(converter, "find_uv", lambda: None)
    with pytest.raises(MwaaLocalError, match="uv is not installed"):
        converter.convert(dag_file, tmp_path / "o.yaml", run=FakeConverter())


def test_python_is_this_one_when_airflow_3_0_supports_it_else_a_3_12():
    assert converter.python_request((3, 11)) == converter.sys.executable
    assert converter.python_request((3, 13)) == "3.12"


def test_the_command_writes_the_yaml_and_validates_it(dag_file, tmp_path, monkeypatch):
    fake = FakeConverter()
    monkeypatch.setattr(converter, "find_uv", lambda: UV)
    monkeypatch.setattr(converter.subprocess, "run", fake)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, ["workflows", "convert", str(dag_file), "--output", "wf.yaml"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote {tmp_path / 'wf.yaml'}" in result.output
    assert "OK: 1 file valid for MWAA Serverless (4 warnings)." in result.output
    again = CliRunner().invoke(cli, ["workflows", "convert", str(dag_file), "--output", "wf.yaml"])
    assert again.exit_code == 1 and "already exists" in again.output
    assert len(fake.calls) == 1


def test_the_command_exits_1_when_the_service_would_reject_the_yaml(
    dag_file, tmp_path, monkeypatch
):
    past = CONVERTED.replace("year: 2099", "year: 2024")
    monkeypatch.setattr(converter, "find_uv", lambda: UV)
    monkeypatch.setattr(converter.subprocess, "run", FakeConverter(yaml=past))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["workflows", "convert", str(dag_file)])
    assert result.exit_code == 1
    assert "MWAA Serverless would reject it as written:" in result.output
    assert "simples3test.start_date: start_date 2024-01-01T00:00:00+00:00 is not in the future" in (
        result.output
    )
    assert (tmp_path / "simples3test.yaml").read_text() == past
