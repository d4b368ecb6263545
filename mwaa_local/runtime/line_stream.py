"""A container's output stream, cut into whole lines."""

from collections.abc import Callable


class LineStream:
    """Chunks of a container's stream cut into whole lines for `on_line`; the last lines kept
    for error messages."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.pending = ""
        self.tail: list[str] = []

    def feed(self, chunk: bytes) -> None:
        self.pending += chunk.decode(errors="replace")
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.emit(line)

    def emit(self, line: str) -> None:
        self.tail = [*self.tail[-40:], line]
        self.on_line(line)

    def close(self) -> str:
        if self.pending:
            self.emit(self.pending)
        return "\n".join(self.tail)
