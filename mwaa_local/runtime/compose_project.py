"""A compose stack's project name and the labels that say which environment owns its containers.

Kept apart from runtime/stack.py (and the engine SDK it loads) so that `mwaa-local airflow`
can find its container without loading either (runtime/direct_exec.py).
"""

import hashlib

from mwaa_local.spec.settings import Environment

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
# Each container says which environment made it: a digest of that environment's database
# password (unique to its state folder, .mwaa-local/<Name>/) and, for messages, its folder.
OWNER_LABEL = "io.github.mwaa-local.owner"
PROJECT_DIR_LABEL = "io.github.mwaa-local.project-dir"


def project_name(environment: Environment) -> str:
    # Compose project names are lower case; MWAA names may not be. Two environments whose Names
    # differ only in case, or with one Name in two folders, would share one project and its
    # database: Stack.check_owner refuses that.
    return environment.name.lower()


def owner_token(postgres_password: str) -> str:
    return hashlib.sha256(f"mwaa-local-owner:{postgres_password}".encode()).hexdigest()[:16]
