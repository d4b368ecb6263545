import json
from pathlib import Path

from mwaa_local.bucket.source import FolderBucket
from mwaa_local.bucket.versions import VersionStore, objects_as_env, read_objects
from mwaa_local.container.start_sequence import SequenceSettings, run_start_sequence
from mwaa_local.mwaa import log_streams
from mwaa_local.spec.settings import Environment


def applied(bucket: Path, **settings) -> dict[str, str]:
    """The variables `start` gives the components for the bucket's current objects."""
    store = VersionStore(bucket.parent / "versions", mount=bucket.parent / "versions")
    environment = Environment(project_dir=bucket, **settings)
    return objects_as_env(store, read_objects(environment, FolderBucket(bucket), store))


def test_plugins_then_startup_script_with_streams_and_reports(tmp_path, capsys):
    bucket, home, streams = tmp_path / "bucket", tmp_path / "home", tmp_path / "streams"
    (bucket / "plugins" / "operators").mkdir(parents=True)
    (bucket / "plugins" / "operators" / "__init__.py").write_text("")
    (bucket / "plugins" / "operators" / "hello.py").write_text("X = 1\n")
    (bucket / "startup").mkdir()
    (bucket / "startup" / "startup.sh").write_text(
        'echo "in $MWAA_AIRFLOW_COMPONENT"\nexport STAGE=dev\nexport AIRFLOW_HOME=/nope\n'
    )
    environ = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_VERSION": "3.0.6",
        "MWAA_LOCAL_ENVIRONMENT_NAME": "env1",
        "MWAA_LOCAL_BUCKET_MOUNT": str(bucket),
        "MWAA_AIRFLOW_COMPONENT": "worker",
        **applied(bucket),
    }
    settings = SequenceSettings.from_environ("worker", environ)
    outcome = run_start_sequence(settings, environ, streams, steps=("plugins", "startup_script"))

    assert outcome.fatal is None
    assert (home / "plugins" / "operators" / "hello.py").read_text() == "X = 1\n"
    assert (home / "startup" / "startup.sh").is_file()  # where MWAA puts it
    assert outcome.env["STAGE"] == "dev"
    assert outcome.env["AIRFLOW_HOME"] == str(home)  # reserved: restored
    stream = streams / "airflow-env1-Worker"
    [startup_log] = stream.glob("startup_script_execution_*")
    text = startup_log.read_text()
    assert "[INFO] - in worker" in text
    assert "[WARNING]" in text and "AIRFLOW_HOME" in text
    phases = log_streams.read_phases(capsys.readouterr().out)
    assert phases["plugins"]["ok"] is True
    assert phases["startup_script"]["restored"] == ["AIRFLOW_HOME"]
    assert json.dumps(phases)  # what status reads back is plain JSON


def test_a_timed_out_startup_script_is_fatal(tmp_path):
    bucket = tmp_path / "bucket"
    (bucket / "startup").mkdir(parents=True)
    (bucket / "startup" / "startup.sh").write_text("sleep 20\n")
    environ = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW_VERSION": "2.10.3",
        "MWAA_LOCAL_BUCKET_MOUNT": str(bucket),
        "MWAA_LOCAL_STARTUP_SCRIPT_TIMEOUT": "1",
        **applied(bucket),
    }
    settings = SequenceSettings.from_environ("scheduler", environ)
    outcome = run_start_sequence(settings, environ, None)
    assert outcome.fatal and "timed out after 1 s" in outcome.fatal
    assert outcome.requirements == {}  # the sequence stops there, as the component does


def test_an_applied_version_missing_from_the_store_is_fatal_and_named(tmp_path):
    bucket = tmp_path / "bucket"
    (bucket / "startup").mkdir(parents=True)
    (bucket / "startup" / "startup.sh").write_text("export A=1\n")
    environ = {
        "PATH": "/usr/bin:/bin",
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW_VERSION": "2.10.3",
        "MWAA_LOCAL_BUCKET_MOUNT": str(bucket),
        **applied(bucket),
    }
    Path(environ["MWAA_LOCAL_STARTUP_SCRIPT_FILE"]).unlink()
    settings = SequenceSettings.from_environ("worker", environ)
    outcome = run_start_sequence(settings, environ, None)
    label = environ["MWAA_LOCAL_STARTUP_SCRIPT_FILE_LABEL"]
    assert outcome.fatal == (
        f"the version store has no file for {label} ({environ['MWAA_LOCAL_STARTUP_SCRIPT_FILE']})"
    )
    assert outcome.startup_script is None  # nothing ran
