"""Log events as `aws logs filter-log-events` returns them: from a group's streams, filtered by
stream name, filter pattern and start time, each group's level and Enabled applied.

Streams come from two places: files in the logs volume (task logs, DAG processing logs, the
startup-script and requirements streams) and each component's console output, one stream per
container (`<component>_<hostname>`), as MWAA's stream names start with the component.
"""

import fnmatch
import re
import shlex
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mwaa_local.errors import MwaaLocalError
from mwaa_local.mwaa.logging_levels import LOG_TYPES, LogType, line_level

TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2})[T ,]+(\d{2}:\d{2}:\d{2})(\.\d+)?")
GROUP_TYPES = tuple(LOG_TYPES.values())
# Which components' console output goes to which group (mwaa-behaviour.md 7.1, 8.2).
CONSOLE_GROUPS = {
    "scheduler": "Scheduler",
    "triggerer": "Scheduler",
    "dag-processor": "DAGProcessing",
    "webserver": "WebServer",
    "api-server": "WebServer",
    "worker": "Worker",
    "hybrid": "Worker",
}


@dataclass(frozen=True)
class Event:
    stream: str
    timestamp: int  # ms since the epoch
    message: str

    def as_cloudwatch(self, number: int) -> dict:
        return {
            "logStreamName": self.stream,
            "timestamp": self.timestamp,
            "message": self.message,
            "ingestionTime": self.timestamp,
            "eventId": f"{self.timestamp:020d}{number:06d}",
        }


def group_type(name: str) -> str:
    """`Task`, `task` or `airflow-<Name>-Task` -> `Task`."""
    tail = name.rsplit("-", 1)[-1]
    for known in GROUP_TYPES:
        if tail.lower() == known.lower():
            return known
    raise MwaaLocalError(
        f"{name!r} is not a log group type.",
        hint="Use one of " + ", ".join(GROUP_TYPES) + " (or airflow-<Name>-<Type>).",
    )


def parse_since(text: str, now: float | None = None) -> float:
    """`10m`, `2h`, `30s`, `1d` ago, or an ISO date-time; seconds since the epoch."""
    now = time.time() if now is None else now
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if match:
        unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
        return now - int(match.group(1)) * unit
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise MwaaLocalError(
            f"--since {text!r} is neither a duration nor a date-time.",
            hint="Use e.g. 10m, 2h, 1d, or 2026-01-31T12:00:00Z.",
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def pattern_matcher(pattern: str | None):
    """A CloudWatch filter pattern of terms: every term (or "quoted phrase") must appear,
    case-sensitively; `?term ?other` matches lines with any of them."""
    if not pattern or not pattern.strip():
        return lambda message: True
    terms = shlex.split(pattern)
    any_of = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]
    all_of = [t for t in terms if not t.startswith("?")]
    return lambda message: (
        all(t in message for t in all_of) and (not any_of or any(t in message for t in any_of))
    )


def line_time(line: str) -> float | None:
    match = TIMESTAMP.search(line[:80])
    if not match:
        return None
    try:
        moment = datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC).timestamp() + float(match.group(3) or 0)


def events_of_lines(stream: str, lines: Iterable[str], default_time: float) -> Iterator[tuple]:
    """(event, level): a line without a level continues the one before (a traceback)."""
    level: str | None = None
    moment = default_time
    for line in lines:
        if not line.strip():
            continue
        level = line_level(line) or level
        moment = line_time(line) or moment
        yield Event(stream, int(moment * 1000), line), level


def file_streams(group_folder: Path) -> Iterator[tuple[str, Path]]:
    if not group_folder.is_dir():
        return
    for path in sorted(group_folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(group_folder).as_posix(), path


def select(
    streams: Iterable[tuple[str, Iterable[str], float]],
    setting: LogType,
    stream_pattern: str | None = None,
    filter_pattern: str | None = None,
    since: float | None = None,
) -> list[Event]:
    """The events of these (name, lines, default time) streams that the group keeps and the
    query asks for, oldest first."""
    if not setting.enabled:
        return []
    matches = pattern_matcher(filter_pattern)
    chosen = []
    for name, lines, default_time in streams:
        if stream_pattern and not fnmatch.fnmatchcase(name, stream_pattern):
            continue
        for event, level in events_of_lines(name, lines, default_time):
            if not setting.keeps(level):
                continue
            if since is not None and event.timestamp < since * 1000:
                continue
            if matches(event.message):
                chosen.append(event)
    return sorted(chosen, key=lambda e: (e.timestamp, e.stream))


def since_datetime(since: float | None) -> datetime | None:
    return None if since is None else datetime.fromtimestamp(since, UTC) - timedelta(seconds=1)
