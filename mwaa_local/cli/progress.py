"""Progress of the long commands (`start`, `restart`, `reset-db`): one live line on a terminal;
without one (a pipe, a file, CI), where a live display prints nothing for minutes, a plain line
per change: the elapsed time, the phase and the component."""

import time
from collections.abc import Mapping
from types import TracebackType

from rich.live import Live
from rich.text import Text

from mwaa_local.cli.output import err, interactive, progress
from mwaa_local.runtime.common import ONE_SHOT_SERVICES
from mwaa_local.runtime.stack import ServiceState


def state_word(state: ServiceState) -> str:
    if state.ready:
        return "done" if state.service in ONE_SHOT_SERVICES else "ready"
    if state.service in ONE_SHOT_SERVICES and state.status == "exited":
        return f"exited {state.exit_code}"
    return state.health or state.status


def progress_line(states: Mapping[str, ServiceState], verb: str = "starting") -> Text:
    parts = [f"{service} {state_word(state)}" for service, state in sorted(states.items())]
    return Text(f"{verb}: " + ", ".join(parts))


class Progress:
    """A context manager; `step` reports one step, `states` is wait_until_ready's callback."""

    def __init__(self, verb: str = "starting") -> None:
        self.verb = verb
        self.started = time.monotonic()
        self.plain = not interactive()
        self.seen: dict[str, str] = {}
        self.live: Live | None = None

    def __enter__(self) -> "Progress":
        if not self.plain:
            self.live = Live(Text(self.verb), console=err, transient=True, refresh_per_second=4)
            self.live.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.live is not None:
            self.live.__exit__(kind, error, trace)

    def step(self, phase: str, component: str, detail: str) -> None:
        if self.plain:
            elapsed = time.monotonic() - self.started
            progress(f"{elapsed:7.1f} s  {phase:<7} {component}: {detail}")
        elif self.live is not None:
            self.live.update(Text(f"{self.verb}: {component} {detail}"))

    def states(self, states: Mapping[str, ServiceState]) -> None:
        if not self.plain:
            if self.live is not None:
                self.live.update(progress_line(states, self.verb))
            return
        for service, state in sorted(states.items()):
            word = state_word(state)
            if self.seen.get(service) != word:
                self.seen[service] = word
                self.step("health", service, word)
