"""How the CLI speaks: rich on stderr for progress and errors, plain stdout for results.

Text from the user, a file, a container or an error is never rich markup: `Name: "[/]"` or
`apache-airflow[celery]` must print as written. So both consoles read no markup and no emoji
codes, and colour comes only from `styled` / `line`, which style whole parts.
"""

import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from mwaa_local.errors import MwaaLocalError

out = Console(highlight=False, soft_wrap=True, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)


def styled(text: str, style: str) -> Text:
    """`text` as written, in `style`."""
    return Text(text, style=style)


def line(*parts: str | Text | tuple[str, str]) -> Text:
    """One line from parts: plain strings, Text, or (text, style) pairs; none is markup."""
    return Text.assemble(*parts)


def status(message: str):
    """A spinner with `message` (rich's own status reads its message as markup)."""
    return err.status(Text(message))


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def render_error(error: MwaaLocalError) -> None:
    err.print(line(("Error:", "bold red"), " ", error.message))
    if error.hint:
        err.print(line(("Hint:", "yellow"), " ", error.hint))


def warn(message: str) -> None:
    err.print(line(("Warning:", "yellow"), " ", message))
