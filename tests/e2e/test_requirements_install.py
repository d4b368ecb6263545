"""MWAA's requirements install for real: uv in the mwaa-local Airflow 2.10.3 image, from PyPI.

The image's copy of mwaa_local may predate requirements.py, so the working tree's package is
bind-mounted over it (read-only). Each case runs in its own container, removed afterwards, so
the installs never touch the image. Needs a Docker engine and network access to PyPI.
"""

import json
import textwrap
import time
from pathlib import Path

import pytest

from mwaa_local.mwaa import requirements as rq
from tests.e2e.conftest import AIRFLOW2

pytestmark = pytest.mark.e2e

PACKAGE = Path(__file__).resolve().parents[2] / "mwaa_local"
IMAGE_PACKAGE = "/usr/local/mwaa-local/python/mwaa_local"
MARKER = "MWAA-LOCAL-RESULT "

# Runs inside the container: plan, install, then report as one JSON line on stdout.
RUNNER = textwrap.dedent(
    """
    import json, os, subprocess, sys
    from pathlib import Path
    from mwaa_local.container import requirements_install as ri
    from mwaa_local.mwaa import requirements as rq

    env = dict(os.environ)
    plan = rq.plan_install(
        Path("/w/requirements/requirements.txt"),
        env,
        Path(env["AIRFLOW_CONSTRAINTS_FILE"]),
        Path(env["MWAA_ESSENTIAL_CONSTRAINTS_FILE"]),
        Path("/tmp/mwaa-local-requirements"),
        env["AIRFLOW_VERSION"],
        "%d.%d" % sys.version_info[:2],
    )
    streamed = []
    timeout = float(env.get("TEST_TIMEOUT", "300"))
    result = ri.run_install(plan, env, timeout, streamed.append, name="worker_requirements")
    imports = {
        name: subprocess.run([sys.executable, "-c", "import " + name]).returncode == 0
        for name in sys.argv[1:]
    }
    print("MWAA-LOCAL-RESULT " + json.dumps({
        "command": ri.install_command(plan),
        "processed": plan.processed.read_text(),
        "added_airflow_constraints": plan.added_airflow_constraints,
        "messages": plan.messages,
        "key": plan.key,
        "ok": result.ok,
        "returncode": result.returncode,
        "timed_out": result.timed_out,
        "duration": result.duration,
        "output": result.output,
        "installed": result.installed,
        "diagnosis": result.diagnosis,
        "report": result.report,
        "streamed": streamed,
        "imports": imports,
    }))
    """
)


@pytest.fixture(scope="module")
def image(airflow2_image) -> str:
    """The 2.10.3 image, built (or found current, by its build context's digest) by the session
    fixture: never an image left over from an older checkout."""
    return airflow2_image.tag


def install(docker_engine, image, tmp_path, files: dict[str, str], imports=(), env=None) -> dict:
    """Write `files` under a requirements folder, run the runner in a fresh container."""
    tmp_path.chmod(0o755)  # the container user is uid 1000
    for name, text in files.items():
        path = tmp_path / "requirements" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o755)
        path.write_text(text)
        path.chmod(0o644)
    runner = tmp_path / "runner.py"
    runner.write_text(RUNNER)
    runner.chmod(0o644)
    out = docker_engine.containers.run(
        image,
        ["python3", "/w/runner.py", *imports],
        entrypoint=[],
        environment=env or {},
        volumes={
            str(tmp_path): {"bind": "/w", "mode": "ro"},
            str(PACKAGE): {"bind": IMAGE_PACKAGE, "mode": "ro"},
        },
        remove=True,
    ).decode()
    line = next(x for x in out.splitlines() if x.startswith(MARKER))
    return json.loads(line.removeprefix(MARKER))


def test_small_package_without_constraints_installs_under_forced_constraints(
    docker_engine, image, tmp_path
):
    started = time.monotonic()
    r = install(docker_engine, image, tmp_path, {"requirements.txt": "pyjokes\n"}, ["pyjokes"])
    assert r["ok"], "\n".join(r["output"])
    assert r["added_airflow_constraints"]
    assert r["messages"] == [rq.NO_CONSTRAINTS_WARNING, rq.FORCING_CONSTRAINTS]
    # into the prefix that holds Airflow: only the new package, Airflow is not reinstalled
    assert [name for name, _ in r["installed"]] == ["pyjokes"]
    assert r["imports"] == {"pyjokes": True}
    assert r["command"][-4:] == [
        "--constraint",
        "/usr/local/airflow/.local/etc/mwaa-essential-constraints.txt",
        "--constraint",
        "/usr/local/airflow/.local/etc/constraints.txt",
    ]
    assert r["streamed"] == r["output"]
    assert r["diagnosis"].startswith("Installed 1 package")
    assert r["duration"] < 60
    assert time.monotonic() - started < 120


def test_relative_include_and_variables_resolve_like_pip(docker_engine, image, tmp_path):
    files = {
        "requirements.txt": "# -c essential only: MWAA's opt-out\n-r ${EXTRA_DIR}/more.txt\n",
        "extra/more.txt": "apache-airflow-providers-sqlite\npyjokes\n",
    }
    r = install(docker_engine, image, tmp_path, files, ["pyjokes"], {"EXTRA_DIR": "extra"})
    assert r["ok"], "\n".join(r["output"])
    assert not r["added_airflow_constraints"] and r["messages"] == []
    assert "-r /w/requirements/extra/more.txt" in r["processed"]
    # the provider is already in the image: nothing but pyjokes is added
    assert [name for name, _ in r["installed"]] == ["pyjokes"]
    assert r["imports"] == {"pyjokes": True}


def test_pin_against_the_airflow_constraints(docker_engine, image, tmp_path):
    r = install(docker_engine, image, tmp_path, {"requirements.txt": "boto3==1.26.0\n"})
    assert not r["ok"] and r["returncode"] == 1 and not r["timed_out"]
    assert "boto3" in r["diagnosis"] and "Airflow constraints" in r["diagnosis"]
    assert "you require boto3==1.26.0" in r["diagnosis"]
    assert r["report"][0] == rq.MWAA_FAILURE_MESSAGE
    assert r["streamed"][-2:] == r["report"]
    assert r["installed"] == []


def test_another_airflow_conflicts_with_an_essential_package(docker_engine, image, tmp_path):
    r = install(docker_engine, image, tmp_path, {"requirements.txt": "apache-airflow==2.9.0\n"})
    assert not r["ok"]
    assert r["diagnosis"].startswith("Conflicts with an MWAA essential package: ")
    assert f"apache-airflow=={AIRFLOW2}" in r["diagnosis"]
    assert "you require apache-airflow==2.9.0" in r["diagnosis"]


def test_essential_pins_apply_even_with_the_users_own_constraints(docker_engine, image, tmp_path):
    files = {"requirements.txt": "-c mine.txt\ncelery==5.3.0\n", "mine.txt": "pyjokes==0.8.3\n"}
    r = install(docker_engine, image, tmp_path, files)
    assert not r["ok"]
    assert not r["added_airflow_constraints"]
    assert r["diagnosis"].startswith("Conflicts with an MWAA essential package: MWAA pins celery")


def test_unknown_package_is_not_found(docker_engine, image, tmp_path):
    name = "mwaa-local-no-such-package-e2e"
    r = install(docker_engine, image, tmp_path, {"requirements.txt": f"{name}\n"})
    assert not r["ok"]
    assert r["diagnosis"].startswith(f"Not found: {name} ")


def test_time_out_kills_uv_and_says_the_cap(docker_engine, image, tmp_path):
    files = {"requirements.txt": "apache-airflow-providers-ssh\n"}
    r = install(docker_engine, image, tmp_path, files, env={"TEST_TIMEOUT": "0.2"})
    assert r["timed_out"] and r["returncode"] is None and not r["ok"]
    assert r["diagnosis"].startswith("Time-out: ") and "0.2 seconds" in r["diagnosis"]
    assert any(line.startswith('Process "worker_requirements"') for line in r["streamed"])
    assert r["duration"] < 10
