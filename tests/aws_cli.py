"""The AWS CLI (awscli from PyPI) as a user runs it against a local endpoint: made-up keys, none
of this machine's AWS settings or files, one attempt per call."""

import os
import subprocess
import sys
from collections.abc import Mapping


def run_aws(
    *args: str,
    endpoint_url: str | None = None,
    host_prefix: bool = True,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess:
    """`aws ARGS [--endpoint-url URL]`, with `env` added (a per-service endpoint variable, ...).
    MWAA's operations carry host prefixes (api., env.) that a local endpoint has no names for:
    `host_prefix=False` turns them off, as MWAA users do with AWS_DISABLE_HOST_PREFIX_INJECTION."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        AWS_ACCESS_KEY_ID="AKIAMWAALOCALTEST",
        AWS_SECRET_ACCESS_KEY="local-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_MAX_ATTEMPTS="1",
    )
    if not host_prefix:
        environment["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
    environment.update(env or {})
    endpoint = ["--endpoint-url", endpoint_url] if endpoint_url else []
    return subprocess.run(
        [sys.executable, "-m", "awscli", *args, *endpoint],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
