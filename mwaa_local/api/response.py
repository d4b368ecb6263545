"""An HTTP answer as the handlers build it; the server writes it out."""

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int
    body: bytes = b""
    # A list, not a dict: a web login sets several cookies, each its own Set-Cookie header.
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(
    status: int, value: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(
        status,
        json.dumps(value).encode(),
        [("Content-Type", "application/json"), *(headers or [])],
    )


def html_response(status: int, html: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(
        status,
        html.encode(),
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            *(headers or []),
        ],
    )
