"""Metric series in CloudWatch's shape from the stack's records: Airflow's StatsD aggregates
(container/statsd_collector.py) named by mwaa/metrics.py, and the autoscaler's AWS/MWAA worker
counts; datapoints per period with Sum, Average, Minimum, Maximum and SampleCount."""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mwaa_local.mwaa.metrics import (
    NAMESPACE,
    UNITS,
    allow_list,
    allowed,
    mwaa_metric,
)


@dataclass
class Datapoint:
    timestamp: int
    sum: float = 0.0
    count: int = 0
    minimum: float = float("inf")
    maximum: float = float("-inf")

    def add(self, total: float, count: int, low: float, high: float) -> None:
        self.sum += total
        self.count += count
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)

    def as_cloudwatch(self, unit: str) -> dict:
        return {
            "Timestamp": self.timestamp,
            "Sum": self.sum,
            "Average": self.sum / self.count if self.count else 0.0,
            "Minimum": self.minimum,
            "Maximum": self.maximum,
            "SampleCount": self.count,
            "Unit": unit,
        }


@dataclass
class Series:
    namespace: str
    name: str
    dimensions: dict[str, str]
    unit: str
    points: dict[int, Datapoint] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return self.namespace, self.name, tuple(sorted(self.dimensions.items()))

    def add(self, at: float, period: int, total: float, count: int, low: float, high: float):
        start = int(at) // period * period
        self.points.setdefault(start, Datapoint(start)).add(total, count, low, high)

    def total(self) -> Datapoint:
        whole = Datapoint(min(self.points, default=0))
        for point in self.points.values():
            whole.add(point.sum, point.count, point.minimum, point.maximum)
        return whole

    def as_dict(self) -> dict:
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(self.dimensions.items())],
            "Datapoints": [p.as_cloudwatch(self.unit) for _, p in sorted(self.points.items())],
        }


def parse_records(lines: Iterable[str]) -> list[dict]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a rotation or a crash
    return records


def build_series(
    statsd: Iterable[dict],
    service: Iterable[dict],
    environment_name: str,
    options: Mapping[str, str],
    since: float,
    period: int = 60,
) -> list[Series]:
    """Every series with data since `since`, in `period`-second datapoints."""
    entries, pattern = allow_list(options)
    found: dict[tuple, Series] = {}
    for record in statsd:
        if record.get("t", 0) < since or not allowed(record["n"], entries, pattern):
            continue
        named = mwaa_metric(record["n"])
        if named is None:
            continue
        metric, dimensions = named
        series = Series(NAMESPACE, metric, {"Environment": environment_name, **dimensions},
                        UNITS.get(record["k"], "None"))  # fmt: skip
        series = found.setdefault(series.key, series)
        series.add(record["t"], period, record["sum"], record["count"], record["min"],
                   record["max"])  # fmt: skip
    for record in service:
        if record.get("t", 0) < since:
            continue
        series = Series(record["ns"], record["n"], dict(record.get("d", {})), "Count")
        series = found.setdefault(series.key, series)
        value = float(record["v"])
        series.add(record["t"], period, value, 1, value, value)
    return sorted(found.values(), key=lambda s: s.key)


SPARKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A one-line chart of the values, lowest to highest."""
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[1 + int((v - low) / span * (len(SPARKS) - 2))] for v in values)
