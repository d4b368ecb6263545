"""`mwaa-local airflow ...` on a running docker stack with one `docker ps` and one `docker exec`.

The full path (runtime/select.py, runtime/stack.py) loads the engine SDK and every runtime and
lists and inspects each container three times: about 0.6 s of every call, against issue 16's
0.5 s over a plain `docker exec`. This path loads neither. Anything out of the ordinary (another
runtime, no running scheduler, a container another environment owns, or a Postgres an earlier
mwaa-local made without labels) gives None, and the caller takes the full path, which says
what is wrong.
"""

import shutil
import subprocess

from mwaa_local.container import paths
from mwaa_local.mwaa.components import container_of
from mwaa_local.runtime.compose_project import (
    OWNER_LABEL,
    PROJECT_LABEL,
    SERVICE_LABEL,
    owner_token,
    project_name,
)
from mwaa_local.runtime.state import StateDir
from mwaa_local.spec.settings import Environment

# Container-side: the Airflow CLI with warnings kept off its stdout (container/airflow_cli.py).
AIRFLOW_CLI = ("python", "-m", "mwaa_local.container.airflow_cli")
# `docker ps --format`: id, state, service and owner, tab-separated.
LABELS = (SERVICE_LABEL, OWNER_LABEL)
LISTING = "\t".join(["{{.ID}}", "{{.State}}"] + [f'{{{{.Label "{label}"}}}}' for label in LABELS])


def with_component_env(command: list[str]) -> list[str]:
    """`command` run with the environment the component's start sequence left (its startup
    script's exports, the Airflow settings), as `docker exec` alone would not give it."""
    load = f'[ -f {paths.COMPONENT_ENV_FILE} ] && . {paths.COMPONENT_ENV_FILE}; exec "$@"'
    return ["bash", "-c", load, "mwaa-local", *command]


def running_scheduler(environment: Environment, state: StateDir, docker: str) -> str | None:
    """The id of a running container of the environment's docker stack that runs its scheduler
    (on mw1.micro, the hybrid), when no container of the stack is another environment's; else
    None."""
    if not state.secrets_file.is_file():
        return None
    ours = owner_token(state.secrets().postgres_password)
    project = project_name(environment)
    listing = subprocess.run(
        [docker, "ps", "--all", "--no-trunc", "--filter", f"label={PROJECT_LABEL}={project}"]
        + ["--format", LISTING],
        capture_output=True,
        text=True,
    )
    if listing.returncode != 0:
        return None
    wanted, scheduler = container_of(environment, "scheduler"), None
    for line in listing.stdout.splitlines():
        container_id, status, service, owner = (line.split("\t") + ["", "", ""])[:4]
        # Stack.check_owner's rule; a Postgres without the label needs its inspection.
        if owner != ours and (owner or service == "postgres"):
            return None
        if service == wanted and status == "running" and scheduler is None:
            scheduler = container_id
    return scheduler


def exec_airflow(environment: Environment, args: tuple[str, ...]) -> int | None:
    """Run `airflow ARGS` in a scheduler of the environment's running docker stack and return
    its exit code; None when this path does not apply (see the module's docstring)."""
    state = StateDir.for_environment(environment.project_dir, environment.name)
    runtime = environment.local.runtime or state.recorded_runtime()
    docker = shutil.which("docker")
    if runtime != "docker" or docker is None:
        return None
    scheduler = running_scheduler(environment, state, docker)
    if scheduler is None:
        return None
    command = with_component_env([*AIRFLOW_CLI, *args])
    return subprocess.run([docker, "exec", "--interactive", scheduler, *command]).returncode
