import pytest

from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime import compose


def fake_binary(folder, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture
def bin_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    compose.compose_tool.cache_clear()
    yield tmp_path
    compose.compose_tool.cache_clear()


def test_prefers_the_v2_plugin(bin_dir):
    fake_binary(bin_dir, "docker", '[ "$1 $2" = "compose version" ] && echo 2.29.7 && exit 0\n')
    fake_binary(bin_dir, "docker-compose", "echo 1.29.2\n")
    tool = compose.compose_tool()
    assert tool.command == ("docker", "compose") and tool.version == "2.29.7"


def test_falls_back_to_docker_compose_v1(bin_dir):
    fake_binary(
        bin_dir, "docker", "echo \"docker: 'compose' is not a docker command.\" >&2; exit 1\n"
    )
    fake_binary(bin_dir, "docker-compose", "echo 1.29.2\n")
    tool = compose.compose_tool()
    assert tool.command == ("docker-compose",) and tool.version == "1.29.2"


def test_neither_is_a_clear_error(bin_dir):
    with pytest.raises(MwaaLocalError) as e:
        compose.compose_tool()
    assert "docker compose" in e.value.message and "docker-compose" in e.value.message
    assert e.value.hint
