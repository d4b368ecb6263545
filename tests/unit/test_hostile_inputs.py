"""Hostile inputs (README "Security"): S3 keys that name files outside the mirror, links out of a
plugins/ folder, env-file values with quotes, `$` and `#`, rich markup in user text, and two
environments that would share one compose project."""

import io
import json
import os
import random
import shutil
import stat
import subprocess
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import click
import pytest
import yaml
from click.testing import CliRunner
from moto import mock_aws
from rich.table import Table

import mwaa_local
from mwaa_local.bucket.keys import key_problem
from mwaa_local.bucket.source import FolderBucket, S3Bucket
from mwaa_local.bucket.versions import VersionStore
from mwaa_local.cli import commands_dags, commands_stack
from mwaa_local.cli.main import Group, cli
from mwaa_local.cli.output import render_error, warn
from mwaa_local.container.s3_mirror import MANIFEST, mirror_once
from mwaa_local.environment.record import EnvironmentRecord
from mwaa_local.errors import MwaaLocalError, MwaaLocalWarning
from mwaa_local.mwaa.airflow_config import env_file_text
from mwaa_local.runtime.stack import OWNER_LABEL, PROJECT_DIR_LABEL, ProjectTaken, Stack
from mwaa_local.spec.settings import load_environment
from tests.unit.env_file_rules import compose_v1_values, compose_v2_values

BUCKET = "airflow-test"


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
        client.create_bucket(Bucket=BUCKET)
        yield client


# --- S3 keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["/tmp/x.py", "../../x.py", "a/../../../x.py", "a//b.py", "./x.py", "a/.", "", "a\x00b"],
)
def test_only_plain_relative_keys_may_become_files(name):
    assert key_problem(name)


@pytest.mark.parametrize("name", ["x.py", "sub/x.py", "..x.py", "a/.hidden/b.py", "a b/c.py"])
def test_plain_relative_keys_are_accepted(name):
    assert key_problem(name) is None


def test_the_s3_mirror_never_writes_or_deletes_outside_its_folder(s3, tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    # Files a hostile key would reach: absolute, '..' and '..' below a folder.
    victims = [tmp_path / "outside" / "absolute.py", tmp_path / "up.py", root / "deep.py"]
    for victim in victims:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_text("precious\n")
    keys = [
        f"env/dags/{victims[0]}",  # env/dags//tmp/.../absolute.py
        "env/dags/../../up.py",
        "env/dags/a/../../deep.py",
    ]
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"# hostile\n")
    s3.put_object(Bucket=BUCKET, Key="env/dags/fine.py", Body=b"# fine\n")
    bucket = S3Bucket(f"s3://{BUCKET}/env", client=s3)

    first = mirror_once(bucket, "dags", root)
    assert first["ok"] and first["copied"] == ["fine.py"]
    assert sorted(first["skipped"]) == sorted(keys)  # each named with the bucket's own key
    assert all(victim.read_text() == "precious\n" for victim in victims)

    # An older mwaa-local recorded such names; deleting the keys must not remove anything.
    manifest = json.loads((root / MANIFEST).read_text())
    manifest.update({str(victims[0]): '"etag"', "../../up.py": '"etag"'})
    (root / MANIFEST).write_text(json.dumps(manifest))
    for key in keys:
        s3.delete_object(Bucket=BUCKET, Key=key)
    second = mirror_once(bucket, "dags", root)
    assert second["ok"] and second["deleted"] == [] and second["skipped"] == {}
    assert all(victim.read_text() == "precious\n" for victim in victims)
    assert json.loads((root / MANIFEST).read_text()) == {"fine.py": manifest["fine.py"]}


def test_a_file_key_that_clashes_with_a_folder_key_is_a_warning_not_a_crash(s3, tmp_path):
    s3.put_object(Bucket=BUCKET, Key="env/dags/a", Body=b"a file\n")
    s3.put_object(Bucket=BUCKET, Key="env/dags/a/b.py", Body=b"# b\n")
    bucket = S3Bucket(f"s3://{BUCKET}/env", client=s3)
    for _ in range(2):  # and again on the next pass, without raising
        outcome = mirror_once(bucket, "dags", tmp_path)
        assert outcome["ok"]
        assert list(outcome["skipped"]) == ["env/dags/a/b.py"]
        assert "env/dags/a is a file" in outcome["skipped"]["env/dags/a/b.py"]
    assert (tmp_path / "dags" / "a").read_text() == "a file\n"

    # The other way round: a folder of keys already there, then a file key of its name.
    s3.delete_object(Bucket=BUCKET, Key="env/dags/a")
    mirror_once(bucket, "dags", tmp_path)
    assert (tmp_path / "dags" / "a" / "b.py").read_text() == "# b\n"
    s3.put_object(Bucket=BUCKET, Key="env/dags/a", Body=b"a file\n")
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["ok"] and list(outcome["skipped"]) == ["env/dags/a"]
    s3.delete_object(Bucket=BUCKET, Key="env/dags/a/b.py")
    outcome = mirror_once(bucket, "dags", tmp_path)
    assert outcome["copied"] == ["a"] and outcome["deleted"] == ["a/b.py"]
    assert (tmp_path / "dags" / "a").read_text() == "a file\n"


# --- links out of a plugins/ folder; the owner-only version store ------------------------------


def test_a_plugins_folder_is_zipped_without_links_leading_out_of_it(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = hunter2\n")
    (home / "token.txt").write_text("hunter2\n")
    bucket_folder = tmp_path / "project"
    plugins = bucket_folder / "plugins"
    (plugins / "operators").mkdir(parents=True)
    (plugins / "operators" / "op.py").write_text("class Op: ...\n")
    (plugins / "aws").symlink_to(home / ".aws")  # a folder outside
    (plugins / "token.py").symlink_to(home / "token.txt")  # a file outside
    (plugins / "escape.py").symlink_to("../../home/token.txt")  # relative, still outside
    (plugins / "broken.py").symlink_to(tmp_path / "nowhere")
    (plugins / "alias.py").symlink_to("operators/op.py")  # inside: followed, as zip -r does
    (plugins / "ops").symlink_to("operators")
    (plugins / "operators" / "loop").symlink_to("..")  # inside, but would loop

    with pytest.warns(MwaaLocalWarning) as warned:
        found = FolderBucket(bucket_folder).get("plugins")
    message = str(warned[0].message)
    assert all(name in message for name in ("aws", "token.py", "escape.py", "broken.py"))
    with zipfile.ZipFile(io.BytesIO(found.content)) as archive:
        names = set(archive.namelist())
        contents = b"".join(archive.read(n) for n in names if not n.endswith("/"))
    assert b"hunter2" not in contents
    assert names == {"alias.py", "operators/", "operators/op.py", "ops/", "ops/op.py"}

    store = VersionStore(tmp_path / "state" / "versions")
    version = store.record("plugins", found)
    assert stat.S_IMODE(store.blob(version.sha256).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.history_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.blob(version.sha256).parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) & 0o066 == 0  # nobody else lists or writes


def test_an_object_linked_from_outside_the_bucket_folder_is_refused(tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "credentials").write_text("hunter2\n")
    (tmp_path / "project" / "requirements").mkdir(parents=True)
    (tmp_path / "project" / "requirements" / "requirements.txt").symlink_to(
        tmp_path / "home" / "credentials"
    )
    with pytest.raises(MwaaLocalError, match="leads outside the bucket folder"):
        FolderBucket(tmp_path / "project").get("requirements/requirements.txt")


def test_a_store_an_earlier_version_made_readable_by_all_becomes_owner_only(tmp_path):
    store = VersionStore(tmp_path / "versions")
    (store.root / "objects").mkdir(parents=True)
    old = store.root / "objects" / ("0" * 64)
    old.write_text("six\n")
    old.chmod(0o644)
    store.root.chmod(0o755)
    store.secure()
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
    assert stat.S_IMODE(old.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) & 0o066 == 0


def test_the_cli_prints_warnings_raised_on_the_way(tmp_path):
    @click.command("probe")
    def probe():
        warnings.warn("left out of plugins.zip: aws", MwaaLocalWarning, stacklevel=1)
        warnings.warn("left out of plugins.zip: aws", MwaaLocalWarning, stacklevel=1)

    group = Group(commands=[probe])
    result = CliRunner().invoke(group, ["probe"])
    assert result.exit_code == 0
    assert result.stderr.count("Warning: left out of plugins.zip: aws") == 2


# --- env files that docker-compose v1 and compose v2 read alike --------------------------------

HOSTILE_VALUES = [
    'pa$word "x" #y',  # the admin password of issue 10
    "it's",
    '{"hello": "json"}',
    "x # not a comment",
    "#first",
    " padded ",
    "$HOME and $$",
    "C:\\temp\\x",
    'say \\"hi\\" now',
    "a\\\\b",
    "back\\slash",
    "\\n is two characters",
    "'",
    '"',
    "\\x",
    "a=b",
    "",
    "é ü ✓",
    "${HOME",  # no closing brace: nothing to expand in either
]
REFUSED_VALUES = ["${HOME}", "x${A:-b}y", "it's $5", "$\\", "ends\\"]


@pytest.mark.parametrize(
    "line, value",
    [
        ("VAR=VAL # comment", "VAL"),
        ("VAR=VAL# not a comment", "VAL# not a comment"),
        ('VAR="VAL # not a comment"', "VAL # not a comment"),
        ('VAR="VAL" # comment', "VAL"),
        ("VAR='$OTHER'", "$OTHER"),
        ("VAR='${OTHER}'", "${OTHER}"),
        ("VAR='Let\\'s go!'", "Let's go!"),
        ('VAR="{\\"hello\\": \\"json\\"}"', '{"hello": "json"}'),
        ('VAR="some\\tvalue"', "some\tvalue"),
        ("VAR='some\\tvalue'", "some\\tvalue"),
        ("VAR=some\\tvalue", "some\\tvalue"),
        ("VAR=$$OTHER", "$OTHER"),
    ],
)
def test_the_compose_v2_model_follows_dockers_documented_syntax(line, value):
    assert compose_v2_values(line + "\n")["VAR"] == value


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_env_file_values_read_back_unchanged_by_both_compose_versions(value):
    text = env_file_text({"A": "1", "VALUE": value, "Z": "last"})
    expected = {"A": "1", "VALUE": value, "Z": "last"}
    assert compose_v1_values(text) == expected
    assert compose_v2_values(text) == expected


def test_all_those_values_in_one_file_read_back_unchanged_by_both():
    # One file, as the real ones are: a quote-like sequence must not run into the next line.
    values = {f"V{i}": value for i, value in enumerate(HOSTILE_VALUES * 2)}
    text = env_file_text(values)
    assert compose_v1_values(text) == values
    assert compose_v2_values(text) == values


@pytest.mark.parametrize("value", REFUSED_VALUES)
def test_a_value_no_encoding_carries_alike_is_refused_without_showing_it(value):
    with pytest.raises(MwaaLocalError) as raised:
        env_file_text({"MWAA_LOCAL_ADMIN_PASSWORD": value})
    assert "MWAA_LOCAL_ADMIN_PASSWORD" in raised.value.message
    assert value not in raised.value.message + (raised.value.hint or "")


def test_random_values_are_refused_or_read_back_unchanged_by_both():
    rng = random.Random(10)
    alphabet = "ab $#'\"\\{}:-=é\t"
    carried = 0
    for _ in range(3000):
        values = {
            f"V{i}": "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8)))
            for i in range(3)
        }
        try:
            text = env_file_text(values)
        except MwaaLocalError:
            continue
        carried += 1
        assert compose_v1_values(text) == values, text
        assert compose_v2_values(text) == values, text
    assert carried > 1000


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="docker-compose v1 is not installed"
)
def test_docker_compose_v1_reads_both_env_files_as_written(tmp_path):
    values = {f"V{i}": value for i, value in enumerate(HOSTILE_VALUES)}
    (tmp_path / "compose.env").write_text(env_file_text({"P": values["V0"]}))
    (tmp_path / "airflow.env").write_text(env_file_text(values))
    (tmp_path / "compose.yaml").write_text(
        "services:\n  s:\n    image: x\n    env_file: ./airflow.env\n"
        "    environment:\n      P: ${P:?}\n"
    )
    done = subprocess.run(
        ["docker-compose", "--env-file", "compose.env", "-f", "compose.yaml", "config"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_HOST": "tcp://127.0.0.1:1"},  # config needs no engine
    )
    assert done.returncode == 0, done.stderr
    environment = yaml.safe_load(done.stdout)["services"]["s"]["environment"]
    # `config` prints a compose file, where a literal `$` is written `$$`.
    read = {k: (v or "").replace("$$", "$") for k, v in environment.items()}
    assert read == {**values, "P": values["V0"]}


# --- user text is never rich markup ------------------------------------------------------------

CLI = Path(mwaa_local.__file__).parent / "cli"


def test_a_settings_error_prints_brackets_as_written(tmp_path):
    (tmp_path / "mwaa-local.yaml").write_text('Name: "[/]"\n')
    result = CliRunner().invoke(cli, ["--project-dir", str(tmp_path), "build-image"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert "'[/]'" in result.stderr
    assert "MWAA's Name pattern [a-zA-Z][0-9a-zA-Z-_]*" in result.stderr


def test_errors_warnings_and_reports_print_user_text_as_written(capsys):
    render_error(MwaaLocalError("apache-airflow[celery]==2.10.3 [/] :smile:", hint="[bold]x"))
    warn("[red]not red[/] and [/]")
    commands_dags.show(
        {"ok": False, "files": [], "plugin_errors": [], "where": "[w]", "path": "[p]"}, "[l]"
    )
    commands_stack.show_versions(EnvironmentRecord(), {"PluginsS3Path": "[k]@v"}, [], "[/] gone")
    with commands_stack.out.capture() as captured:
        table = Table("a", "b", "c")
        table.add_row(
            commands_stack.requirements_cell({"ran": True, "ok": False, "diagnosis": "x[extra]"}),
            commands_stack.sync_cell({"ok": False, "error": "[/]"}),
            commands_stack.sync_cell({"ok": True, "skipped": {"env/dags//tmp/x": "absolute"}}),
        )
        commands_stack.out.print(table)
    printed = capsys.readouterr()
    assert "apache-airflow[celery]==2.10.3 [/] :smile:" in printed.err
    assert "Hint: [bold]x" in printed.err
    assert "[red]not red[/] and [/]" in printed.err
    assert "Checked [l] in [w] ([p])." in printed.out
    assert "PluginsS3Path: [k]@v" in printed.out and "[/] gone" in printed.out
    cells = captured.get()
    assert "x[extra]" in cells and "[/]" in cells and "env/dags//tmp/x" in cells


def test_no_command_renders_markup_or_a_markup_spinner():
    for path in CLI.glob("*.py"):
        if path.name == "output.py":
            continue
        text = path.read_text()
        assert "markup=True" not in text and "[/]" not in text, path
        assert "err.status(" not in text and "Console(" not in text.replace("import Console", ""), (
            path
        )


# --- one compose project per environment ---------------------------------------------------------


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str]
    attrs: dict = field(default_factory=dict)


class FakeEngine:
    """The Docker SDK calls Stack.containers() makes, over a fixed list of containers."""

    def __init__(self, containers: list[FakeContainer]) -> None:
        self.listed = containers
        self.containers = self

    def list(self, all: bool, filters: dict) -> list[FakeContainer]:
        project = filters["label"].split("=", 1)[1]
        return [c for c in self.listed if c.labels["com.docker.compose.project"] == project]

    def info(self) -> dict:  # the engine's size, for the components' limits
        return {"NCPU": 2, "MemTotal": 8 * 2**30}


def started_stack(folder: Path, name: str, engine: FakeEngine) -> Stack:
    """A Stack whose env files were written, as `start` writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mwaa-local.yaml").write_text(f"Name: {name}\n")
    stack = Stack(load_environment(folder), engine)
    stack.write_env_files({})
    return stack


def containers_made_by(stack: Stack) -> list[FakeContainer]:
    """The containers `up` made from the stack's compose.env (the labels compose sets)."""
    env = compose_v1_values(stack.state.compose_env_file.read_text())
    labels = {
        "com.docker.compose.project": env["COMPOSE_PROJECT_NAME"],
        OWNER_LABEL: env["MWAA_LOCAL_OWNER"],
        PROJECT_DIR_LABEL: env["MWAA_LOCAL_PROJECT_DIR"],
    }
    return [
        FakeContainer(
            f"{env['COMPOSE_PROJECT_NAME']}-{service}-1",
            {**labels, SERVICE: service},
            {"State": {"Status": "running", "ExitCode": 0}},
        )
        for service in ("postgres", "scheduler")
    ]


SERVICE = "com.docker.compose.service"


@pytest.mark.parametrize("second_name", ["shared-env", "Shared-Env"])
def test_a_second_environment_never_uses_the_first_ones_project(tmp_path, second_name):
    engine = FakeEngine([])
    first = started_stack(tmp_path / "a", "shared-env", engine)
    engine.listed = containers_made_by(first)
    assert set(first.states()) == {"postgres", "scheduler"}  # its own: fine

    second = started_stack(tmp_path / "b", second_name, FakeEngine(engine.listed))
    assert second.project == first.project
    for touch in (second.states, second.stop, second.remove_database, second.is_running):
        with pytest.raises(ProjectTaken) as raised:
            touch()
        assert str(tmp_path / "a") in raised.value.message
        assert "another Name" in raised.value.hint


def test_a_name_differing_only_in_case_in_the_same_folder_is_refused_too(tmp_path):
    engine = FakeEngine([])
    first = started_stack(tmp_path, "MyEnv", engine)
    engine.listed = containers_made_by(first)
    (tmp_path / "mwaa-local.yaml").write_text("Name: myenv\n")
    renamed = Stack(load_environment(tmp_path), engine)
    if renamed.state.path.resolve() != first.state.path.resolve():  # case-sensitive file system
        with pytest.raises(ProjectTaken):
            renamed.states()


def test_a_folder_that_never_started_owns_nothing_and_writes_nothing(tmp_path):
    first = started_stack(tmp_path / "a", "shared-env", FakeEngine([]))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mwaa-local.yaml").write_text("Name: shared-env\n")
    other = Stack(load_environment(tmp_path / "b"), FakeEngine(containers_made_by(first)))
    with pytest.raises(ProjectTaken):
        other.states()
    assert not (tmp_path / "b" / ".mwaa-local").exists()


def test_containers_of_an_earlier_mwaa_local_are_told_apart_by_their_database_password(tmp_path):
    stack = started_stack(tmp_path, "old-env", FakeEngine([]))
    password = stack.state.secrets().postgres_password

    def unlabelled_postgres(password: str) -> FakeContainer:
        return FakeContainer(
            "old-env-postgres-1",
            {"com.docker.compose.project": "old-env", SERVICE: "postgres"},
            {"Config": {"Env": [f"POSTGRES_PASSWORD={password}", "PGDATA=/x"]}},
        )

    stack.client.listed = [unlabelled_postgres(password)]  # this folder's, before upgrading
    stack.check_owner()
    other = Stack(stack.environment, FakeEngine([unlabelled_postgres("someone-else")]))
    with pytest.raises(ProjectTaken, match="earlier mwaa-local"):
        other.check_owner()
