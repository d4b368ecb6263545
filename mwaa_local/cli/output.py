"""How the CLI speaks: rich on stderr for progress and errors, plain stdout for results."""

import json
import sys
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table

from mwaa_local.errors import MwaaLocalError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def render_error(error: MwaaLocalError) -> None:
    err.print(f"[bold red]Error:[/] {error.message}", markup=True, highlight=False)
    if error.hint:
        err.print(f"[yellow]Hint:[/] {error.hint}")


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/] {message}")


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
