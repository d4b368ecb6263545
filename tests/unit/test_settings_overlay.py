"""The MWAA API's settings overlay on top of mwaa-local.yaml, and Local.ApiPort."""

import pytest
import yaml

from mwaa_local.errors import SettingsError
from mwaa_local.spec.overlay import overlay_path, write_overlay
from mwaa_local.spec.settings import load_environment


def write_settings(project, **settings) -> None:
    (project / "mwaa-local.yaml").write_text(yaml.safe_dump({"Name": "Env", **settings}))


def test_the_overlay_replaces_the_files_keys_whole(tmp_path):
    write_settings(
        tmp_path,
        MaxWorkers=8,
        AirflowConfigurationOptions={"core.a": "1", "core.b": "2"},
    )
    path = overlay_path(tmp_path, "Env")
    write_overlay(path, {"AirflowConfigurationOptions": {"core.c": "3"}, "MinWorkers": 2})

    env = load_environment(tmp_path, environ={})

    assert env.airflow_configuration_options == {"core.c": "3"}
    assert (env.min_workers, env.max_workers) == (2, 8)
    assert env.overlay_file == path
    assert env.overlay_keys == ("AirflowConfigurationOptions", "MinWorkers")
    assert path.stat().st_mode & 0o077 == 0  # options may hold secrets


def test_no_overlay_leaves_the_file_alone_and_an_empty_one_is_removed(tmp_path):
    write_settings(tmp_path, MaxWorkers=8)
    path = overlay_path(tmp_path, "Env")
    write_overlay(path, {"MaxWorkers": 3})
    write_overlay(path, {})

    env = load_environment(tmp_path, environ={})

    assert not path.exists()
    assert (env.max_workers, env.overlay_file, env.overlay_keys) == (8, None, ())


def test_an_overlay_that_no_longer_fits_the_file_says_how_to_drop_it(tmp_path):
    write_settings(tmp_path, MaxWorkers=8)
    write_overlay(overlay_path(tmp_path, "Env"), {"MinWorkers": 6})
    write_settings(tmp_path, MaxWorkers=4)  # the user edits the file afterwards

    with pytest.raises(SettingsError) as caught:
        load_environment(tmp_path, environ={})

    assert "MinWorkers: 6 is greater than MaxWorkers (4)" in caught.value.message
    assert "MinWorkers came through the MWAA API" in caught.value.hint
    assert "api-settings.yaml" in caught.value.hint


def test_an_overlay_may_hold_only_what_the_api_changes(tmp_path):
    write_settings(tmp_path)
    path = overlay_path(tmp_path, "Env")
    path.parent.mkdir(parents=True)
    path.write_text("Local:\n  WebserverPort: 9999\n")

    with pytest.raises(SettingsError) as caught:
        load_environment(tmp_path, environ={})

    assert "Local: is not a setting the API may change" in caught.value.message


def test_the_api_port_defaults_next_to_the_web_server_and_may_not_share_it(tmp_path):
    write_settings(tmp_path, Local={"WebserverPort": 9090})
    assert load_environment(tmp_path, environ={}).local.api_endpoint_port == 9091
    chosen = load_environment(tmp_path, environ={"MWAA_LOCAL_API_PORT": "7000"})
    assert chosen.local.api_port == 7000

    with pytest.raises(SettingsError) as caught:
        load_environment(tmp_path, environ={"MWAA_LOCAL_API_PORT": "9090"})

    assert "ApiPort: 9090 is the WebserverPort too" in caught.value.message
