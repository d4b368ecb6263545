"""CLI and web login tokens: each valid for 60 seconds (mwaa-behaviour.md 6.4). A CLI token may
serve several commands within its minute (AWS's sample scripts reuse one); a web login token
logs in one browser once."""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

TOKEN_SECONDS = 60.0


class Kind(Enum):
    CLI = "cli"
    WEB = "web"


@dataclass(frozen=True)
class Grant:
    """What a token stands for: the environment and, for a web token, the Airflow user."""

    kind: Kind
    environment: str
    expires_at: float
    airflow_identity: str | None = None


class TokenStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    def issue(self, kind: Kind, environment: str, airflow_identity: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        grant = Grant(kind, environment, self._clock() + TOKEN_SECONDS, airflow_identity)
        with self._lock:
            self._drop_expired()
            self._grants[token] = grant
        return token

    def redeem(self, kind: Kind, token: str) -> Grant | None:
        """The grant of a live token of that kind, or None (unknown, expired or used up).
        A web login token is spent by its first use."""
        with self._lock:
            self._drop_expired()
            grant = self._grants.get(token)
            if grant is None or grant.kind is not kind:
                return None
            if kind is Kind.WEB:
                del self._grants[token]
            return grant

    def _drop_expired(self) -> None:
        now = self._clock()
        for token in [t for t, g in self._grants.items() if g.expires_at <= now]:
            del self._grants[token]
