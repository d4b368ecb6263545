"""How a container reaches an AWS endpoint on the host: a loopback URL becomes
host.docker.internal (mapped to the host gateway in the compose files).

Credentials are not handed over here: every container that calls AWS (the Airflow components,
bucket-sync) gets them from the credentials service (aws/task_aws.py, compose/credentials.yaml).
"""

import urllib.parse

# A host-side endpoint on the loopback interface is the host's, which a container reaches as
# host.docker.internal (mapped to the host gateway in the compose file).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
CONTAINER_HOST_ALIAS = "host.docker.internal"


def container_endpoint(endpoint_url: str | None) -> str:
    if not endpoint_url:
        return ""
    parts = urllib.parse.urlsplit(endpoint_url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return endpoint_url
    netloc = CONTAINER_HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
