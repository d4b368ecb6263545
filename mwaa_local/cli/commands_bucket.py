"""The bucket's versioned objects: `update` applies new versions (UpdateEnvironment), `versions`
lists the versions mwaa-local has recorded."""

import time

import click
from rich.table import Table

from mwaa_local.bucket.source import S3Bucket
from mwaa_local.bucket.versions import OBJECT_KINDS
from mwaa_local.cli.commands_settings import Project, changes_environment
from mwaa_local.cli.commands_stack import open_stack, show_changes
from mwaa_local.cli.output import err, out, print_json, print_table, warn
from mwaa_local.environment.update import (
    environment_settings,
    finish_interrupted_update,
    pending_changes,
    update_environment,
)
from mwaa_local.scaling import control as scaling


@click.command("update")
@click.option("--timeout", default=600, show_default=True, help="Seconds per component.")
@click.pass_obj
@changes_environment("update")
def update_command(project: Project, timeout: int) -> None:
    """Apply pending changes to plugins, requirements, startup script and settings, restarting
    the components one by one; roll back if one fails (like UpdateEnvironment)."""
    stack = open_stack(project)
    stack.require_running()
    interrupted = finish_interrupted_update(stack)
    if interrupted:
        warn(interrupted)
    wanted = stack.bucket_objects()
    changes = pending_changes(stack.record(), wanted, environment_settings(project.environment))
    if not changes:
        out.print(f"Nothing to update: {project.environment.name} runs what the bucket holds.")
        return
    out.print("Applying:")
    show_changes(changes)
    started = time.monotonic()
    update_environment(stack, wanted, timeout, on_step=lambda step: err.print(step))
    # The autoscaler reads MinWorkers, MaxWorkers and the cooldown when it starts.
    scaling.stop_for(stack)
    scaling.start_for(stack)
    seconds = time.monotonic() - started
    out.print(f"Environment {project.environment.name} is AVAILABLE (updated in {seconds:.1f} s).")


@click.command("versions")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def versions_command(project: Project, as_json: bool) -> None:
    """List the recorded versions of plugins.zip, requirements.txt and startup.sh (and, for an
    s3:// bucket, the bucket's own versions), marking the applied ones."""
    stack = open_stack(project)
    applied = stack.record().applied or {}
    applied_ids = {(v.kind, v.version_id) for v in applied.values() if v}
    rows = [
        {
            "Kind": OBJECT_KINDS[v.kind][0],
            "Key": v.key,
            "VersionId": v.version_id,
            "Size": v.size,
            "RecordedAt": v.recorded_at,
            "Applied": (v.kind, v.version_id) in applied_ids,
        }
        for v in stack.versions.history()
    ]
    bucket = stack.bucket()
    in_bucket = []
    if isinstance(bucket, S3Bucket):
        keys = sorted({v.key for v in stack.versions.history()})
        in_bucket = [
            {"Key": key, "VersionId": vid, "IsLatest": latest, "LastModified": modified}
            for key in keys
            for vid, latest, modified in bucket.list_versions(key)
        ]
    if as_json:
        print_json({"Recorded": rows, "InBucket": in_bucket})
        return
    table = Table("Kind", "Key", "Version id", "Size", "Recorded", "Applied")
    for row in rows:
        table.add_row(
            row["Kind"],
            row["Key"],
            row["VersionId"],
            str(row["Size"]),
            row["RecordedAt"],
            "yes" if row["Applied"] else "",
        )
    print_table(table)
    if in_bucket:
        table = Table("Key", "Version id in the bucket", "Latest", "Last modified")
        for row in in_bucket:
            latest = "yes" if row["IsLatest"] else ""
            table.add_row(row["Key"], row["VersionId"], latest, row["LastModified"])
        print_table(table)


COMMANDS = [update_command, versions_command]
