"""The container-credentials address on this Docker engine: one environment at a time.

Every AWS SDK joins AWS_CONTAINER_CREDENTIALS_RELATIVE_URI to 169.254.170.2 and to nothing else
(aws-clients-and-serverless.md D.3), so the credentials service must hold that address on a
network the Airflow containers join, and Docker refuses a second network with the same subnet.
Two environments could only share one service on one network, and on a shared network compose
gives every environment's containers the same names (api-server, scheduler ...), so a worker
could reach another environment's API server. So each environment has its own credentials
network, and one running environment at a time holds the address.

`claim()` runs at `start`, before compose creates the network: another running environment's
network is an error naming it; a stopped one's network is removed (its containers are not
running, so nothing is cut off; its next `start` replaces those containers, see
`stale_containers`); a network that is not mwaa-local's is an error naming it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from mwaa_local.aws.credentials import CONTAINER_CREDENTIALS_IP, CONTAINER_CREDENTIALS_SUBNET
from mwaa_local.errors import MwaaLocalError
from mwaa_local.runtime.compose_project import PROJECT_DIR_LABEL, PROJECT_LABEL

# Labels compose/credentials.yaml puts on the network.
NETWORK_LABEL = "io.github.mwaa-local.credentials-network"
NETWORK_KEY = "credentials"  # the network's name in the compose file: <project>_credentials


def _uses_subnet(network: Any) -> bool:
    wanted = ipaddress.ip_network(CONTAINER_CREDENTIALS_SUBNET)
    for config in (network.attrs.get("IPAM") or {}).get("Config") or []:
        try:
            if ipaddress.ip_network(config.get("Subnet", ""), strict=False).overlaps(wanted):
                return True
        except ValueError:
            continue
    return False


def network_name(project: str) -> str:
    return f"{project}_{NETWORK_KEY}"


def claim(client: Any, project: str) -> None:
    """Make room for this environment's credentials network, or say who holds the address."""
    for network in client.networks.list():
        if not _uses_subnet(network):
            continue
        labels = network.attrs.get("Labels") or {}
        owner = labels.get(PROJECT_LABEL)
        if owner == project:
            continue
        if NETWORK_LABEL not in labels:
            raise MwaaLocalError(
                f"Docker network {network.name} already uses {CONTAINER_CREDENTIALS_SUBNET}, the "
                f"subnet of the container-credentials address {CONTAINER_CREDENTIALS_IP} the "
                "tasks' AWS SDKs ask (Docker allows one network per subnet).",
                hint=f"Remove it if you can (`docker network rm {network.name}`; amazon-ecs-local-"
                "container-endpoints makes one), or give this environment's tasks no AWS "
                "credentials: `Local.Credentials: none`.",
            )
        network.reload()
        if network.attrs.get("Containers"):
            folder = labels.get(PROJECT_DIR_LABEL) or "its project folder"
            raise MwaaLocalError(
                f"Environment {owner} is running with AWS credentials and holds the address "
                f"{CONTAINER_CREDENTIALS_IP} the tasks' AWS SDKs ask; one running environment "
                "at a time can (Docker allows one network with its subnet).",
                hint=f"Stop it first (`mwaa-local --project-dir {folder} stop`), or run this "
                "one without AWS credentials: `Local.Credentials: none`.",
            )
        network.remove()


def stale_containers(client: Any, project: str) -> list[Any]:
    """This environment's containers that joined a credentials network since removed (by
    another environment's `start`): Docker cannot start them again, compose replaces them."""
    name = network_name(project)
    # Docker's name filter matches parts of names.
    if any(network.name == name for network in client.networks.list(names=[name])):
        return []
    label = f"{PROJECT_LABEL}={project}"
    return [
        container
        for container in client.containers.list(all=True, filters={"label": label})
        if name in (container.attrs.get("NetworkSettings") or {}).get("Networks", {})
    ]
