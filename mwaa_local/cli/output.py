"""How the CLI speaks: rich on stderr for progress and errors, plain stdout for results.

Text from the user, a file, a container or an error is never rich markup: `Name: "[/]"` or
`apache-airflow[celery]` must print as written. So both consoles read no markup and no emoji
codes, and colour comes only from `styled` / `line`, which style whole parts.
"""

import json
import sys
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
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


def interactive() -> bool:
    """Both streams are terminals: live displays show. Otherwise (a pipe, a file, CI) progress
    comes as plain lines, since a live display prints nothing there."""
    return out.is_terminal and err.is_terminal


def progress(message: str) -> None:
    """A plain progress line on stderr (not markup: it names images, files, containers)."""
    err.print(message, markup=False, highlight=False)


def print_table(table: Table) -> None:
    """A table on stdout: fitted to a terminal; at its full width when piped, where rich would
    otherwise cut it to 80 columns."""
    if out.is_terminal:
        out.print(table)
        return
    width = Measurement.get(out, out.options.update(max_width=10_000), table).maximum
    out.print(_AtWidth(table, width))


class _AtWidth:
    """A renderable drawn at a given width, whatever the console's."""

    def __init__(self, renderable: Table, width: int) -> None:
        self.renderable, self.width = renderable, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.renderable, options.update_width(self.width))
