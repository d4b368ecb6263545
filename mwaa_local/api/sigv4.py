"""The SigV4 check: every control-plane request must be signed, as every AWS API request is.

Any credentials are accepted (there is no secret to check the signature against), but the
request must carry a well-formed `AWS4-HMAC-SHA256` Authorization header, or the same in a
presigned query string, scoped to the service's signing name: MWAA's `airflow`, or `logs` and
`monitoring` for the CloudWatch Logs and CloudWatch requests the same port answers.
"""

import re
from dataclasses import dataclass

from mwaa_local.api import errors

SIGNING_NAME = "airflow"  # the model's metadata.signingName
ALGORITHM = "AWS4-HMAC-SHA256"

_HEADER = re.compile(
    rf"{ALGORITHM}\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})\s*"
)
_SCOPE = re.compile(
    r"(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)


@dataclass(frozen=True)
class Caller:
    """Who signed: the access key and the region of the credential scope."""

    access_key_id: str
    region: str


def caller(
    authorization: str | None, query: dict[str, list[str]], signing_name: str = SIGNING_NAME
) -> Caller:
    """The signer of a request, or an AccessDeniedException saying what is missing."""
    if authorization:
        found = _HEADER.fullmatch(authorization.strip())
        if found is None:
            raise errors.access_denied(
                f"The Authorization header is not an {ALGORITHM} (SigV4) signature."
            )
        return _scope(found.group("credential"), signing_name)
    if query.get("X-Amz-Algorithm") == [ALGORITHM] and "X-Amz-Signature" in query:
        return _scope(query.get("X-Amz-Credential", [""])[-1], signing_name)
    raise errors.access_denied(
        "Missing Authentication Token: sign the request with SigV4, as AWS SDKs and the AWS CLI "
        "do (any credentials work locally)."
    )


def _scope(credential: str, signing_name: str) -> Caller:
    found = _SCOPE.fullmatch(credential)
    if found is None:
        raise errors.access_denied(f"The SigV4 credential scope {credential!r} is malformed.")
    if found.group("service") != signing_name:
        raise errors.access_denied(
            f"Credential should be scoped to correct service: '{signing_name}'."
        )
    return Caller(found.group("key"), found.group("region"))
