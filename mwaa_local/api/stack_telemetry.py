"""The Telemetry of a project's running stack: its log groups through mwaa_local/logs, its metric
series through mwaa_local/metrics (no second reader)."""

from collections.abc import Callable

from mwaa_local.api.telemetry import LogGroup
from mwaa_local.logs.events import Event
from mwaa_local.logs.read import group_events
from mwaa_local.metrics.read import stack_series
from mwaa_local.metrics.series import Series
from mwaa_local.mwaa.logging_levels import group_name, log_types
from mwaa_local.runtime.stack import Stack


class StackTelemetry:
    """The running stack of the project's environment; `arn` gives the environment's ARN, whose
    partition, region and account the log groups' ARNs share."""

    def __init__(self, stack: Callable[[], Stack], arn: Callable[[Stack], str]) -> None:
        self._stack = stack
        self._arn = arn

    def log_groups(self) -> list[LogGroup]:
        stack = self._stack()
        environment = stack.environment
        partition, _, region, account = self._arn(stack).split(":")[1:5]
        created = stack.state.secrets_file
        created_ms = int(created.stat().st_mtime * 1000) if created.is_file() else 0
        groups = []
        for log_type, setting in log_types(environment.logging_configuration).items():
            if setting.enabled:
                name = group_name(environment.name, log_type)
                arn = f"arn:{partition}:logs:{region}:{account}:log-group:{name}"
                groups.append(LogGroup(name, log_type, arn, created_ms))
        return sorted(groups, key=lambda g: g.name)

    def log_events(
        self,
        group: LogGroup,
        stream_pattern: str | None,
        filter_pattern: str | None,
        since: float | None,
    ) -> list[Event]:
        _, events = group_events(
            self._stack(), group.log_type, stream_pattern, filter_pattern, since
        )
        return events

    def metric_series(self, since: float, period: int) -> list[Series]:
        return stack_series(self._stack(), since, period)
