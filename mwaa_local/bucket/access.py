"""How the bucket-sync container reaches an s3:// bucket: the endpoint as seen from a container,
and credentials handed over in the environment of the compose process only.

Credentials come from the usual AWS chain on the host (variables, profile, SSO, ...), resolved by
boto3 here. They are never written to the env files, the state folder or any log; the container
gets them as variables, as it would from an execution role on MWAA.
"""

import urllib.parse

from mwaa_local.errors import MwaaLocalError

# A host-side endpoint on the loopback interface is the host's, which a container reaches as
# host.docker.internal (mapped to the host gateway in the compose file).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
CONTAINER_HOST_ALIAS = "host.docker.internal"
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def container_endpoint(endpoint_url: str | None) -> str:
    if not endpoint_url:
        return ""
    parts = urllib.parse.urlsplit(endpoint_url)
    if parts.hostname not in LOOPBACK_HOSTS:
        return endpoint_url
    netloc = CONTAINER_HOST_ALIAS + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def credentials_for_compose() -> dict[str, str]:
    """The host's AWS credentials and region as variables for the compose process."""
    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise MwaaLocalError(
            "No AWS credentials found for the s3:// bucket.",
            hint="Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or log in with "
            "`aws sso login`; for moto or LocalStack any non-empty test keys do.",
        )
    frozen = credentials.get_frozen_credentials()
    values = {
        "AWS_ACCESS_KEY_ID": frozen.access_key,
        "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
        "AWS_SESSION_TOKEN": frozen.token or "",
    }
    values["AWS_DEFAULT_REGION"] = session.region_name or "us-east-1"
    return values
