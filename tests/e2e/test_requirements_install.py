"""MWAA's requirements install for real: uv (or pip) in the mwaa-local Airflow images, from PyPI.

The working tree's package is bind-mounted over the image's copy (read-only). Each case runs in
its own container, removed afterwards, so the installs never touch the image. Needs a Docker
engine and network access to PyPI; the official constraints URL is never fetched (the tests
that name it run with no route to its host).
"""

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from mwaa_local.bucket.source import BucketObject
from mwaa_local.bucket.staged_constraints import stage_official_constraints
from mwaa_local.bucket.versions import VersionStore
from mwaa_local.container import paths
from mwaa_local.mwaa import requirements as rq
from mwaa_local.spec.settings import load_environment
from mwaa_local.spec.versions import airflow_version
from tests.e2e.conftest import AIRFLOW2, AIRFLOW3

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
        display_name="requirements/requirements.txt",
        installer=env.get("TEST_INSTALLER", "uv"),
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
        "notes": list(plan.notes),
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


NAME = "requirements/requirements.txt"
AIRFLOW_UID = 1000  # the image's airflow user


@pytest.fixture(scope="module")
def image(airflow2_image) -> str:
    """The 2.10.3 image, built (or found current, by its build context's digest) by the session
    fixture: never an image left over from an older checkout."""
    return airflow2_image.tag


def install(
    docker_engine, image, tmp_path, files: dict[str, str], imports=(), env=None, mounts=None
) -> dict:
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
            **(mounts or {}),
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
    assert r["diagnosis"].startswith(f"{NAME} line 1: Conflicts with an MWAA essential package: ")
    assert f"apache-airflow=={AIRFLOW2}" in r["diagnosis"]
    assert "you require apache-airflow==2.9.0" in r["diagnosis"]


def test_essential_pins_apply_even_with_the_users_own_constraints(docker_engine, image, tmp_path):
    files = {"requirements.txt": "-c mine.txt\ncelery==5.3.0\n", "mine.txt": "pyjokes==0.8.3\n"}
    r = install(docker_engine, image, tmp_path, files)
    assert not r["ok"]
    assert not r["added_airflow_constraints"]
    assert r["diagnosis"].startswith(
        f"{NAME} line 2: Conflicts with an MWAA essential package: MWAA pins celery"
    )


def test_unknown_package_is_not_found(docker_engine, image, tmp_path):
    name = "mwaa-local-no-such-package-e2e"
    r = install(docker_engine, image, tmp_path, {"requirements.txt": f"{name}\n"})
    assert not r["ok"]
    assert r["diagnosis"].startswith(f"{NAME} line 1: Not found: {name} ")


def test_time_out_kills_uv_and_says_the_cap(docker_engine, image, tmp_path):
    files = {"requirements.txt": "apache-airflow-providers-ssh\n"}
    r = install(docker_engine, image, tmp_path, files, env={"TEST_TIMEOUT": "0.2"})
    assert r["timed_out"] and r["returncode"] is None and not r["ok"]
    assert r["diagnosis"].startswith(f"{NAME}: Time-out: ") and "0.2 seconds" in r["diagnosis"]
    assert any(line.startswith('Process "worker_requirements"') for line in r["streamed"])
    assert r["duration"] < 10


# --- Local.Installer: pip runs MWAA's own command (issue 10 item 2) --------------------------


def test_pip_installs_with_mwaas_command_and_shows_pips_words(docker_engine, image, tmp_path):
    pip = {"TEST_INSTALLER": "pip"}
    r = install(docker_engine, image, tmp_path, {"requirements.txt": "pyjokes\n"}, ["pyjokes"], pip)
    assert r["ok"], "\n".join(r["output"])
    command = r["command"][r["command"].index("install") :]
    assert command == [
        "install",
        "--constraint",
        "/usr/local/airflow/.local/etc/mwaa-essential-constraints.txt",
        "-r",
        "/tmp/mwaa-local-requirements/requirements.txt",
        "-c",
        "/usr/local/airflow/.local/etc/constraints.txt",
    ]
    # pip's words, into the airflow user's site as on MWAA
    assert any(line.startswith("Successfully installed pyjokes-") for line in r["output"])
    assert [name for name, _ in r["installed"]] == ["pyjokes"]
    assert r["imports"] == {"pyjokes": True}

    files = {"requirements.txt": "boto3==1.26.0\n"}
    (tmp_path / "conflict").mkdir()
    r = install(docker_engine, image, tmp_path / "conflict", files, env=pip)
    assert not r["ok"]
    assert any("ResolutionImpossible" in line for line in r["output"]), r["output"]
    assert r["diagnosis"] == (
        f"{NAME} line 1: Conflicts with the Airflow constraints: the Airflow {AIRFLOW2} "
        "constraints pin boto3==1.35.36; you require boto3==1.26.0."
    )
    assert r["report"] == [rq.MWAA_FAILURE_MESSAGE, f"Diagnosis: {r['diagnosis']}"]


# --- -e git+...#egg=x: uv through a translation, pip as MWAA does (issue 10 item 7) ---------


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_editable_git_requirement_installs(docker_engine, image, tmp_path, installer):
    repo = tmp_path / "repo"
    (repo / "mwaa_local_git_pkg").mkdir(parents=True)
    (repo / "mwaa_local_git_pkg" / "__init__.py").write_text('VALUE = "from-git"\n')
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "mwaa-local-git-pkg"\nversion = "1.0"\n'
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "pkg"]):
        subprocess.run([*git, *args], check=True)
    # git refuses a repository another user owns: give it to the containers' airflow user
    for path in [repo, *repo.rglob("*")]:
        os.chown(path, AIRFLOW_UID, AIRFLOW_UID, follow_symlinks=False)
    line = "-e git+file:///w/repo#egg=mwaa-local-git-pkg\n"
    files = {"requirements.txt": line}
    env = {"TEST_INSTALLER": installer}
    r = install(docker_engine, image, tmp_path, files, ["mwaa_local_git_pkg"], env)
    assert r["ok"], "\n".join(r["output"])
    assert r["imports"] == {"mwaa_local_git_pkg": True}
    if installer == "uv":
        assert r["processed"] == "mwaa-local-git-pkg @ git+file:///w/repo\n"
        assert "uv cannot install a VCS URL as editable" in r["notes"][0]
    else:
        assert r["processed"] == line and r["notes"] == []


# --- the official constraints URL, with no route to its host (issue 10 item 1) --------------

PINS = {
    AIRFLOW3: ("paramiko==5.1.0", "paramiko==5.0.0"),
    AIRFLOW2: ("paramiko==3.4.0", "paramiko==3.5.0"),
}
PROBE = (
    "python3 -c 'import socket; socket.getaddrinfo(\"raw.githubusercontent.com\", 443)' "
    ">/dev/null 2>&1 && echo ROUTE=yes || echo ROUTE=no; "
    "python -m mwaa_local.container.entrypoint test-requirements worker"
)


@pytest.mark.parametrize("version", [AIRFLOW3, AIRFLOW2])
def test_official_constraints_url_installs_with_no_route_to_its_host(
    docker_engine, request, tmp_path, version
):
    mirror = os.environ.get("MWAA_LOCAL_CONSTRAINTS_MIRROR")
    if not mirror:
        pytest.skip("needs MWAA_LOCAL_CONSTRAINTS_MIRROR")
    built = request.getfixturevalue("airflow3_image" if version == AIRFLOW3 else "airflow2_image")
    url = airflow_version(version).constraints_url
    wanted, pinned = PINS[version]
    project = tmp_path / "project"
    project.mkdir()
    environment = load_environment(project, environ={"MWAA_LOCAL_CONSTRAINTS_MIRROR": mirror})
    store = VersionStore(tmp_path / "store")
    good = store.record(
        "requirements", BucketObject(NAME, "v1", f'--constraint "{url}"\nsix\n'.encode())
    )
    bad = store.record(
        "requirements", BucketObject(NAME, "v2", f'--constraint "{url}"\n\n{wanted}\n'.encode())
    )
    # the host stages the file from the mirror, with no cache and no download
    staged = stage_official_constraints(environment, store, {"requirements": good}, tmp_path / "c")
    assert [(s.source, s.ok) for s in staged] == [("mirror", True)]
    assert not (tmp_path / "c").exists()

    def run(version_object, **kwargs) -> tuple[str, dict]:
        container = docker_engine.containers.run(
            built.tag,
            ["bash", "-c", PROBE],
            environment={
                "MWAA_LOCAL_ENVIRONMENT_NAME": "offline",
                "MWAA_LOCAL_REQUIREMENTS_FILE": store.container_path(version_object),
                "MWAA_LOCAL_REQUIREMENTS_FILE_LABEL": version_object.label,
            },
            volumes={
                str(store.root): {"bind": str(paths.VERSIONS_MOUNT), "mode": "ro"},
                str(PACKAGE): {"bind": IMAGE_PACKAGE, "mode": "ro"},
            },
            detach=True,
            **kwargs,
        )
        try:
            container.wait(timeout=300)
            out = container.logs(stdout=True, stderr=False).decode()
        finally:
            container.remove(force=True)
        return out, json.loads(out.strip().splitlines()[-1])["requirements"]

    # No internet at all (an internal network): the file installs from the staged copy.
    network = docker_engine.networks.create(f"mwaa-local-offline-{os.getpid()}", internal=True)
    try:
        out, report = run(good, network=network.name)
    finally:
        network.remove()
    assert "ROUTE=no" in out
    assert report["ok"], report
    assert not report["added_airflow_constraints"] and report["messages"] == []
    assert report["notes"] == [
        f"{NAME} line 1: {url} read from the copy mwaa-local staged from the constraints "
        "mirror, cache or network; not downloaded."
    ]

    # A conflicting pin, the constraints host unroutable (PyPI reachable, for the resolver).
    out, report = run(bad, extra_hosts={"raw.githubusercontent.com": "127.0.0.1"})
    assert not report["ok"]
    assert report["diagnosis"] == (
        f"{NAME} line 3: Conflicts with your constraints: the Airflow {version} constraints "
        f"({NAME} line 1) pins {pinned}; you require {wanted}."
    )
