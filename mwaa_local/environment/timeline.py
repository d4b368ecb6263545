"""Where `start` spends its time: the phases it went through and when each component became
ready, measured as it runs (`mwaa-local start --timings`)."""

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mwaa_local.runtime.stack import ServiceState


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    marks: list[tuple[str, float]] = field(default_factory=list)
    ready: dict[str, float] = field(default_factory=dict)

    def mark(self, phase: str) -> None:
        """`phase` just ended."""
        self.marks.append((phase, time.monotonic() - self.started))

    def watch(self, states: Mapping[str, ServiceState]) -> None:
        """A poll of the components: note when each was first seen ready."""
        now = time.monotonic() - self.started
        for service, state in states.items():
            if state.ready and service not in self.ready:
                self.ready[service] = now

    def rows(self, phases: Mapping[str, Mapping[str, Any]] = {}) -> list[tuple[str, float, float]]:
        """(what, ended at, took) in order, seconds from the command's start: the phases, then
        each component's readiness (after `compose up` began) with its start-sequence steps."""
        rows, previous = [], 0.0
        for phase, at in self.marks:
            rows.append((phase, at, at - previous))
            previous = at
        up = dict(self.marks).get("compose up", 0.0)
        for service, at in sorted(self.ready.items(), key=lambda item: item[1]):
            steps = []
            for step in ("plugins", "startup_script", "requirements"):
                seconds = phases.get(service, {}).get(step, {}).get("duration")
                if seconds:
                    steps.append(f"{step} {seconds:.1f} s")
            detail = f" ({', '.join(steps)})" if steps else ""
            rows.append((f"{service} ready{detail}", at, at - up))
        return rows
