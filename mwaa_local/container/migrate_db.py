"""The one-shot `migrate-db` job: migrate the metadata database, then create the admin login or
reset its password, in one interpreter (one Airflow import instead of two saves seconds on every
start): `python -m mwaa_local.container.migrate_db USERNAME`, the password in
MWAA_LOCAL_ADMIN_PASSWORD.

MWAA signs users in through IAM; locally, Flask-AppBuilder's own login stands in (the auth manager
MWAA keeps on Airflow 2 and 3, mwaa-behaviour.md 8.2).
"""

import os
import sys


def migrate() -> None:
    """`airflow db migrate`, through Airflow's own CLI parser."""
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(["db", "migrate"])
    args.func(args)


def ensure_admin(username: str, password: str) -> str:
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        security = appbuilder.sm
        role = security.find_role("Admin")
        user = security.find_user(username=username)
        if user is None:
            security.add_user(username, "Admin", "User", f"{username}@example.com", role, password)
            return f"created admin user {username}"
        security.reset_password(user.id, password)
        return f"reset the password of admin user {username}"


if __name__ == "__main__":
    migrate()
    if len(sys.argv) > 1 and os.environ.get("MWAA_LOCAL_ADMIN_PASSWORD"):
        print(ensure_admin(sys.argv[1], os.environ["MWAA_LOCAL_ADMIN_PASSWORD"]))
