"""CloudWatch's GetMetricData and ListMetrics over the environment's AmazonMWAA and AWS/MWAA
series (mwaa-behaviour.md 7.2). Parameters and results are dicts in the model's member names;
timestamps are epoch seconds (Epoch in results, so the CBOR protocol tags them)."""

import time
from collections.abc import Callable
from typing import Any

from mwaa_local.api.errors import ApiError
from mwaa_local.api.telemetry import Telemetry
from mwaa_local.metrics.series import Series

INVALID_PARAMETER = "InvalidParameterValueException"
STATISTICS = ("Sum", "Average", "Minimum", "Maximum", "SampleCount")
# ListMetrics lists the metrics with datapoints in the past two weeks.
LIST_WINDOW_SECONDS = 14 * 86400

Handler = Callable[[Telemetry, dict[str, Any]], dict[str, Any]]


class Epoch(float):
    """A timestamp in epoch seconds: a number in JSON, CBOR's tag 1 (botocore's timestamp)."""


def invalid(message: str) -> ApiError:
    return ApiError(INVALID_PARAMETER, message)


def _dimensions(items: list[dict[str, Any]] | None) -> dict[str, str]:
    return {d["Name"]: d.get("Value", "") for d in items or []}


def _find(series: list[Series], metric: dict[str, Any]) -> Series | None:
    """The series with exactly this namespace, name and dimensions, as CloudWatch matches."""
    wanted = _dimensions(metric.get("Dimensions"))
    for found in series:
        if (
            found.namespace == metric.get("Namespace")
            and found.name == metric.get("MetricName")
            and found.dimensions == wanted
        ):
            return found
    return None


def get_metric_data(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    start, end = float(params["StartTime"]), float(params["EndTime"])
    if end <= start:
        raise invalid("The parameter StartTime must be less than the parameter EndTime.")
    descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    by_period: dict[int, list[Series]] = {}
    results = []
    messages = []
    for query in params["MetricDataQueries"]:
        if query.get("Expression") is not None:
            raise invalid(
                f"Query {query['Id']}: mwaa-local does not evaluate metric math expressions; "
                "use MetricStat."
            )
        stat = query.get("MetricStat")
        if stat is None:
            raise invalid(f"Query {query['Id']}: give MetricStat or Expression.")
        period = int(stat["Period"])
        if period < 1:
            raise invalid(f"Query {query['Id']}: Period must be at least 1.")
        if period not in by_period:
            by_period[period] = telemetry.metric_series(start, period)
        found = _find(by_period[period], stat["Metric"])
        unit = stat.get("Unit")
        points = []
        if stat["Stat"] not in STATISTICS:
            messages.append({"Code": "Unsupported", "Value": f"{query['Id']}: {stat['Stat']}"})
        elif found is not None and (unit is None or unit == found.unit):
            for moment, point in sorted(found.points.items(), reverse=descending):
                if moment < end:
                    points.append((moment, point.as_cloudwatch(found.unit)[stat["Stat"]]))
        if query.get("ReturnData", True) is False:
            continue
        results.append(
            {
                "Id": query["Id"],
                "Label": query.get("Label") or stat["Metric"]["MetricName"],
                "Timestamps": [Epoch(moment) for moment, _ in points],
                "Values": [float(value) for _, value in points],
                "StatusCode": "Complete",
            }
        )
    answer: dict[str, Any] = {"MetricDataResults": results}
    if messages:
        answer["Messages"] = messages
    return answer


def list_metrics(telemetry: Telemetry, params: dict[str, Any]) -> dict[str, Any]:
    namespace, name = params.get("Namespace"), params.get("MetricName")
    filters = params.get("Dimensions") or []
    metrics = []
    for series in telemetry.metric_series(time.time() - LIST_WINDOW_SECONDS, 86400):
        if namespace and series.namespace != namespace:
            continue
        if name and series.name != name:
            continue
        if any(
            f["Name"] not in series.dimensions
            or ("Value" in f and series.dimensions[f["Name"]] != f["Value"])
            for f in filters
        ):
            continue
        dimensions = sorted(series.dimensions.items())
        metrics.append(
            {
                "Namespace": series.namespace,
                "MetricName": series.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
            }
        )
    return {"Metrics": metrics}


HANDLERS: dict[str, Handler] = {
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}
