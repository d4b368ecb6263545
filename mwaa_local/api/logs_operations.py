"""CloudWatch Logs' read operations over the environment's log groups: FilterLogEvents,
GetLogEvents, DescribeLogGroups and DescribeLogStreams, with the members, defaults, limits and
errors of botocore's `logs` model. Parameters and results are the awsJson 1.1 bodies as dicts
(times are milliseconds since the epoch).

Stream names are CloudWatch's: Airflow's CloudwatchTaskHandler writes a task log's stream with
every ":" of its file name as "_" (`run_id=manual__2026-03-01T12_00_00+00_00`), as the model's
stream name pattern `[^:*]*` requires; the local files keep the ":" of the run id.
"""

import base64
import glob
from collections.abc import Callable
from typing import Any

from mwaa_local.api.errors import ApiError
from mwaa_local.api.telemetry import LogGroup, Telemetry
from mwaa_local.logs.events import Event

INVALID_PARAMETER = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
FILTER_LIMIT = 10000  # FilterLogEvents' and GetLogEvents' default and largest `limit`
DESCRIBE_LIMIT = 50

Handler = Callable[[Telemetry, dict[str, Any]], dict[str, Any]]


def invalid(message: str) -> ApiError:
    return ApiError(INVALID_PARAMETER, message)


def _group(telemetry: Telemetry, params: dict[str, Any]) -> LogGroup:
    """logGroupName or logGroupIdentifier (a name or an ARN, with or without ":*")."""
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    wanted = name or identifier
    if not wanted:
        raise invalid("Either logGroupName or logGroupIdentifier must be specified.")
    if wanted.startswith("arn:") and ":log-group:" in wanted:
        wanted = wanted.split(":log-group:", 1)[1].removesuffix(":*")
    for group in telemetry.log_groups():
        if group.name == wanted:
            return group
    raise ApiError(NOT_FOUND, "The specified log group does not exist.")


def _offset(token: str | None) -> int:
    """The position a nextToken of _token() names (0 without one)."""
    if token is None:
        return 0
    try:
        return _position(base64.urlsafe_b64decode(token.encode()).decode(), "o/")
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        raise invalid("The specified nextToken is invalid.") from None


def _position(token: str, prefix: str) -> int:
    if not token.startswith(prefix) or not token[len(prefix) :].isdigit():
        raise invalid("The specified nextToken is invalid.")
    return int(token[len(prefix) :])


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o/{offset}".encode()).decode()


def _limit(params: dict[str, Any], default: int) -> int:
    return int(params.get("limit") or default)


def stream_name(stream: str) -> str:
    """A local stream's name as CloudWatch holds it."""
    return stream.replace(":", "_")


def _stream_glob(name: str, prefix: bool = False) -> str:
    """The reader's glob for the local streams a CloudWatch stream name (or prefix) names."""
    return glob.escape(name).replace("_", "[_:]") + ("*" if prefix else "")


def _event(event: Event, number: int) -> dict[str, Any]:
    return event.as_cloudwatch(number) | {"logStreamName": stream_name(event.stream)}


def _in_window(event: Event, params: dict[str, Any]) -> bool:
    start, end = params.get("startTime"), params.get("endTime")
    return (start is None or event.timestamp >= start) and (end is None or event.timestamp <= end)


def filter_log_events(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(telemetry, params)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names and prefix:
        raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive.")
    pattern = None
    if prefix:
        pattern = _stream_glob(prefix, prefix=True)
    elif names and len(names) == 1:
        pattern = _stream_glob(names[0])
    start = params.get("startTime")
    events = telemetry.log_events(
        group, pattern, params.get("filterPattern"), None if start is None else start / 1000
    )
    chosen = [
        e for e in events if (not names or stream_name(e.stream) in names) and _in_window(e, params)
    ]
    offset = _offset(params.get("nextToken"))
    end = offset + _limit(params, FILTER_LIMIT)
    result: dict[str, Any] = {
        "events": [_event(e, n) for n, e in enumerate(chosen[offset:end], offset)]
    }
    if end < len(chosen):
        result["nextToken"] = _token(end)
    else:  # on the last page, every stream searched (a deprecated member the CLI still prints)
        streams = sorted({stream_name(e.stream) for e in chosen})
        result["searchedLogStreams"] = [
            {"logStreamName": s, "searchedCompletely": True} for s in streams
        ]
    return result


def get_log_events(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    """One stream's events: without a token the newest `limit` (the oldest with startFromHead);
    `f/<n>` pages forward from event n, `b/<n>` backward from it, as AWS's tokens read."""
    group = _group(telemetry, params)
    stream = params["logStreamName"]
    found = telemetry.log_events(group, _stream_glob(stream), None, None)
    events = [e for e in found if stream_name(e.stream) == stream]
    if not events:
        raise ApiError(NOT_FOUND, "The specified log stream does not exist.")
    chosen = [e for e in events if _in_window(e, params)]
    limit = _limit(params, FILTER_LIMIT)
    token = params.get("nextToken")
    if token is None:
        low = 0 if params.get("startFromHead") else max(0, len(chosen) - limit)
        high = min(len(chosen), low + limit)
    elif token.startswith("f/"):
        low = min(_position(token, "f/"), len(chosen))
        high = min(len(chosen), low + limit)
    elif token.startswith("b/"):
        high = min(_position(token, "b/"), len(chosen))
        low = max(0, high - limit)
    else:
        raise invalid("The specified nextToken is invalid.")
    return {
        "events": [
            {"timestamp": e.timestamp, "message": e.message, "ingestionTime": e.timestamp}
            for e in chosen[low:high]
        ],
        "nextForwardToken": f"f/{high:056d}",
        "nextBackwardToken": f"b/{low:056d}",
    }


def describe_log_groups(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    if prefix and pattern:
        raise invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive.")
    identifiers = params.get("logGroupIdentifiers")
    groups = [
        g
        for g in telemetry.log_groups()
        if (not prefix or g.name.startswith(prefix))
        and (not pattern or pattern.lower() in g.name.lower())
        and (not identifiers or g.name in identifiers or g.arn in identifiers)
    ]
    offset = _offset(params.get("nextToken"))
    end = offset + _limit(params, DESCRIBE_LIMIT)
    result: dict[str, Any] = {
        "logGroups": [
            {
                "logGroupName": g.name,
                "creationTime": g.created,
                "metricFilterCount": 0,
                "arn": f"{g.arn}:*",
                "logGroupClass": "STANDARD",
                "logGroupArn": g.arn,
            }
            for g in groups[offset:end]
        ]
    }
    if end < len(groups):
        result["nextToken"] = _token(end)
    return result


def describe_log_streams(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    group = _group(telemetry, params)
    prefix = params.get("logStreamNamePrefix")
    by_time = params.get("orderBy") == "LastEventTime"
    if prefix and by_time:
        raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
    pattern = _stream_glob(prefix, prefix=True) if prefix else None
    streams: dict[str, list[int]] = {}
    for event in telemetry.log_events(group, pattern, None, None):
        name = stream_name(event.stream)
        first_last = streams.setdefault(name, [event.timestamp, event.timestamp])
        first_last[0] = min(first_last[0], event.timestamp)
        first_last[1] = max(first_last[1], event.timestamp)
    names = sorted(streams, key=lambda s: (streams[s][1], s) if by_time else s)
    if params.get("descending"):
        names.reverse()
    offset = _offset(params.get("nextToken"))
    end = offset + _limit(params, DESCRIBE_LIMIT)
    result: dict[str, Any] = {
        "logStreams": [
            {
                "logStreamName": name,
                "creationTime": streams[name][0],
                "firstEventTimestamp": streams[name][0],
                "lastEventTimestamp": streams[name][1],
                "lastIngestionTime": streams[name][1],
                "arn": f"{group.arn}:log-stream:{name}",
                "storedBytes": 0,
            }
            for name in names[offset:end]
        ]
    }
    if end < len(names):
        result["nextToken"] = _token(end)
    return result


HANDLERS: dict[str, Handler] = {
    "FilterLogEvents": filter_log_events,
    "GetLogEvents": get_log_events,
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
}
