"""What the API server asks of an environment. The server owns the wire (routes, shapes,
validation, errors, tokens, the CLI allow-list and its concurrency); a Backend owns the
environments: their records, updates, tags, and the running stack's CLI, REST API and login.

A Backend signals the service's modeled errors by raising mwaa_local.api.errors.ApiError
(`errors.not_found(...)`, `errors.validation(...)`, `errors.unavailable(...)`); anything else
it raises becomes an InternalServerException carrying its message.
"""

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class CliResult:
    """An Airflow CLI command's outcome, as the web server's /aws_mwaa/cli runs it."""

    exit_code: int
    stdout: bytes
    stderr: bytes


@dataclass(frozen=True)
class RestApiResult:
    """Airflow's REST API answer: its HTTP status and its JSON body (None when it has none)."""

    status: int
    body: Any = None


@dataclass(frozen=True)
class Cookie:
    name: str
    value: str
    path: str = "/"
    http_only: bool = True
    same_site: str = "Lax"
    max_age: int | None = None


@dataclass(frozen=True)
class WebLogin:
    """A logged-in browser session: cookies to set (cookies are per host, not per port, so the
    Airflow UI on another port of the same host receives them) and where to send the browser."""

    redirect_url: str
    cookies: list[Cookie] = field(default_factory=list)


class Backend(Protocol):
    def list_environments(self) -> list[str]:
        """Every environment's name."""
        ...

    def get_environment(self, name: str) -> dict[str, Any]:
        """GetEnvironment's `Environment` structure (member names as in the model; datetimes
        for timestamps). Raises errors.not_found for an unknown name."""
        ...

    def create_environment(self, name: str, request: dict[str, Any]) -> str:
        """CreateEnvironment with the request's members (Name left out); returns the ARN."""
        ...

    def update_environment(self, name: str, changes: dict[str, Any]) -> str:
        """Start UpdateEnvironment with the request's members (Name left out) and return the
        ARN without waiting for the update to finish (the status says UPDATING meanwhile)."""
        ...

    def delete_environment(self, name: str) -> None: ...

    def list_tags(self, arn: str) -> dict[str, str]:
        """Raises errors.not_found for an ARN that names no environment."""
        ...

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None: ...

    def untag_resource(self, arn: str, keys: list[str]) -> None: ...

    def run_cli(self, name: str, argv: list[str]) -> CliResult:
        """Run `airflow <argv...>` in the environment (an argument list, never through a
        shell). The server has already checked the command against MWAA's allow-list."""
        ...

    def invoke_rest_api(
        self,
        name: str,
        method: str,
        path: str,
        query: dict[str, Any] | None,
        body: Any,
    ) -> RestApiResult:
        """Forward one call to Airflow's REST API (/api/v1 on Airflow 2, /api/v2 on 3; `path`
        comes without that prefix) and return its answer whatever its status."""
        ...

    def web_login_identity(self, name: str) -> str:
        """The Airflow user a web login token will sign in as (CreateWebLoginToken's
        AirflowIdentity)."""
        ...

    def web_login(self, name: str, airflow_identity: str) -> WebLogin:
        """Log a browser in to the environment's Airflow UI as that user."""
        ...
