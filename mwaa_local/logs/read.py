"""Reading one log group of a stack: its files from the logs volume and its components' console
output, as events (mwaa_local/logs/events.py)."""

from mwaa_local.logs.events import (
    CONSOLE_GROUPS,
    Event,
    file_streams,
    select,
    since_datetime,
)
from mwaa_local.mwaa.logging_levels import group_name, log_types
from mwaa_local.runtime.stack import Stack


def group_events(
    stack: Stack,
    log_type: str,
    stream_pattern: str | None = None,
    filter_pattern: str | None = None,
    since: float | None = None,
) -> tuple[str, list[Event]]:
    """The group's name and the events the query selects."""
    environment = stack.environment
    name = group_name(environment.name, log_type)
    setting = log_types(environment.logging_configuration)[log_type]
    if not setting.enabled:
        return name, []
    streams = []
    root = stack.export_log_streams()
    for stream, path in file_streams(root / name):
        text = path.read_text(encoding="utf-8", errors="replace")
        streams.append((stream, text.splitlines(), path.stat().st_mtime))
    for container in stack.containers():
        service = container.labels.get("com.docker.compose.service", "")
        if CONSOLE_GROUPS.get(service) != log_type:
            continue
        host = container.attrs["Config"].get("Hostname", container.name)
        raw = container.logs(timestamps=True, since=since_datetime(since))
        lines = raw.decode("utf-8", errors="replace").splitlines()
        streams.append((f"{service}_{host}", lines, 0.0))
    return name, select(streams, setting, stream_pattern, filter_pattern, since)
