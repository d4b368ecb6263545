"""`mwaa-local api`: the environment's MWAA API endpoint in the foreground (`start` runs it
detached)."""

import logging

import click

from mwaa_local.api.process import serve
from mwaa_local.cli.commands_settings import Project
from mwaa_local.cli.output import out

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command("api")
@click.pass_obj
def api_command(project: Project) -> None:
    """Serve the environment's MWAA API (boto3's `mwaa` client, `aws mwaa`) on 127.0.0.1,
    port Local.ApiPort, until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    environment = project.environment

    def ready(server) -> None:
        out.print(f"MWAA API of {environment.name}: {server.endpoint_url}", markup=False)
        out.print(
            f"  export AWS_ENDPOINT_URL_MWAA={server.endpoint_url} "
            "AWS_DISABLE_HOST_PREFIX_INJECTION=true",
            markup=False,
        )

    serve(environment, on_ready=ready)


COMMANDS = [api_command]
