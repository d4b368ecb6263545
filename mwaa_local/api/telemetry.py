"""Where the CloudWatch Logs and CloudWatch answers come from: the environment's log groups and
metric series, read by mwaa_local/logs and mwaa_local/metrics exactly as `mwaa-local logs --group`
and `mwaa-local metrics` read them (mwaa-behaviour.md 7.1, 7.2). StackTelemetry
(api/stack_telemetry.py) reads a running stack."""

from dataclasses import dataclass
from typing import Protocol

from mwaa_local.logs.events import Event
from mwaa_local.metrics.series import Series


@dataclass(frozen=True)
class LogGroup:
    name: str
    log_type: str  # DAGProcessing, Scheduler, Task, WebServer, Worker
    arn: str  # without the trailing ":*"
    created: int  # ms since the epoch


class Telemetry(Protocol):
    def log_groups(self) -> list[LogGroup]:
        """The environment's log groups: one per enabled log type, as MWAA creates them."""
        ...

    def log_events(
        self,
        group: LogGroup,
        stream_pattern: str | None,
        filter_pattern: str | None,
        since: float | None,
    ) -> list[Event]:
        """The group's events (oldest first) from streams matching the glob, matching the
        filter pattern, at or after `since` (epoch seconds)."""
        ...

    def metric_series(self, since: float, period: int) -> list[Series]:
        """Every metric series with data since `since`, in `period`-second datapoints."""
        ...
