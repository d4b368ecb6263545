"""`mwaa-local metrics`: the environment's metrics under MWAA's names, as a table or a chart."""

import time

import click
from rich.table import Table

from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.commands_stack import open_stack
from mwaa_local.cli.output import err, line, out, print_json
from mwaa_local.logs.events import parse_since
from mwaa_local.metrics.read import stack_series
from mwaa_local.metrics.series import Series, sparkline


def dimensions_text(series: Series) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(series.dimensions.items()) if k != "Environment")


@click.command("metrics")
@click.argument("name", required=False)
@click.option("--since", default="1h", show_default=True, help="How far back (10m, 2h, a time).")
@click.option("--period", default=60, show_default=True, help="Seconds per datapoint.")
@click.option("--json", "as_json", is_flag=True, help="Print the series as JSON.")
@click.pass_obj
def metrics_command(
    project: Project, name: str | None, since: str, period: int, as_json: bool
) -> None:
    """Airflow's metrics as MWAA publishes them (AmazonMWAA, AWS/MWAA): every metric with its
    totals, or one metric's datapoints and a chart."""
    stack = open_stack(project)
    series = stack_series(stack, parse_since(since), max(period, 1))
    if name:
        series = [s for s in series if s.name.lower() == name.lower()]
    if as_json:
        print_json([s.as_dict() for s in series])
        return
    if not series:
        err.print(f"No metrics{' named ' + name if name else ''} since {since}.")
        return
    if name:
        show_datapoints(series)
        return
    for namespace in sorted({s.namespace for s in series}):
        shown = [s for s in series if s.namespace == namespace]
        widest = max(len(s.name) for s in shown)
        table = Table(title=namespace, title_justify="left")
        table.add_column("Metric", no_wrap=True, min_width=widest)
        for heading in ("Dimensions", "Unit", "Sum", "Avg", "Min", "Max", "n"):
            table.add_column(heading, overflow="fold")
        for s in shown:
            row = s.total().as_cloudwatch(s.unit)
            table.add_row(
                s.name, dimensions_text(s), s.unit, f"{row['Sum']:g}", f"{row['Average']:.3g}",
                f"{row['Minimum']:g}", f"{row['Maximum']:g}", str(row["SampleCount"]),
            )  # fmt: skip
        out.print(table)


def show_datapoints(series: list[Series]) -> None:
    for s in series:
        points = [p for _, p in sorted(s.points.items())]
        statistic = "Sum" if s.unit == "Count" and s.namespace == "AmazonMWAA" else "Maximum"
        values = [p.as_cloudwatch(s.unit)[statistic] for p in points]
        out.print(line((f"{s.namespace} {s.name}", "bold"), f" {dimensions_text(s)} ({statistic})"))
        out.print(f"  {sparkline(values)}  {min(values):g} .. {max(values):g}", markup=False)
        for point, value in zip(points, values, strict=True):
            moment = time.strftime("%H:%M:%S", time.gmtime(point.timestamp))
            out.print(f"  {moment}  {value:g}", markup=False)


COMMANDS = [metrics_command]
