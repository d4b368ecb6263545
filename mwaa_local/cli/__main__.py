from mwaa_local.cli.main import cli

cli(prog_name="mwaa-local")
