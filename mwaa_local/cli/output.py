"""How the CLI speaks: rich on stderr for progress and errors, plain stdout for results."""

import json
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape

from mwaa_local.errors import MwaaLocalError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def render_error(error: MwaaLocalError) -> None:
    # Escaped: messages quote logs and settings, where `[logging]` is text, not rich markup.
    err.print(f"[bold red]Error:[/] {escape(error.message)}", markup=True, highlight=False)
    if error.hint:
        err.print(f"[yellow]Hint:[/] {escape(error.hint)}")


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {message}")
