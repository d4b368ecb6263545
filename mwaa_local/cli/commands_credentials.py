"""`mwaa-local credentials`: who the tasks are in AWS (issue 12), never a key."""

import click

from mwaa_local.aws.stack_credentials import TaskCredentialsCheck, describe
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import out, print_json, warn
from mwaa_local.runtime.select import open_runtime

FIELDS = (
    ("Arn", "Tasks run as"),
    ("Account", "Account"),
    ("Mode", "Mode"),
    ("Source", "Source"),
    ("Expiration", "Expires"),
    ("Region", "Region"),
    ("CredentialsEndpoint", "Endpoint"),
    ("From", "From"),
)


def report_start_check(check: TaskCredentialsCheck) -> None:
    """The line `start` prints about the tasks' AWS credentials (a note when there are none)."""
    if check.identity is None:
        if check.aws.note:
            warn(check.aws.note)
        return
    identity = check.identity
    out.print(
        f"  AWS:        tasks run as {identity.arn} ({check.aws.mode}, {check.aws.region})",
        markup=False,
    )


@click.command("credentials")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def credentials_command(project: Project, as_json: bool) -> None:
    """Who the tasks are in AWS: account, ARN and expiry (never the keys). From the running
    credentials service, else computed on this machine as the service would."""
    report = describe(open_runtime(project.environment))
    if as_json:
        print_json(report)
        return
    if report.get("Note"):
        out.print(f"Mode:         {report['Mode']}", markup=False)
        out.print(f"Region:       {report['Region']}", markup=False)
        out.print(report["Note"], markup=False)
        return
    for key, label in FIELDS:
        if report.get(key):
            out.print(f"{label + ':':<13} {report[key]}", markup=False)


COMMANDS = [credentials_command]
