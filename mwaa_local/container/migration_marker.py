"""What a finished `migrate-db` leaves in the metadata database, so that a later start with the
same image and admin login skips the job (one Airflow import, several seconds on every start).

The marker is the Airflow version, a hash of the admin login and Airflow's migration revision at
the time; any change to one of them runs the full migration again.
"""

import hashlib
from collections.abc import Mapping

from mwaa_local.container.services import connect_database

TABLE = "mwaa_local_state"
KEY = "migrate-db"


def expected_prefix(env: Mapping[str, str]) -> str:
    login = f"{env.get('MWAA_LOCAL_ADMIN_USERNAME', '')}:{env.get('MWAA_LOCAL_ADMIN_PASSWORD', '')}"
    return f"{env.get('AIRFLOW_VERSION', '')}:{hashlib.sha256(login.encode()).hexdigest()}"


def _read(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the recorded marker, Airflow's current migration revision); None where absent."""
    connection = connect_database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s), to_regclass('alembic_version')", (TABLE,))
            has_marker, has_revision = cursor.fetchone()
            marker = revision = None
            if has_marker:
                cursor.execute(f"SELECT value FROM {TABLE} WHERE key = %s", (KEY,))
                row = cursor.fetchone()
                marker = row[0] if row else None
            if has_revision:
                cursor.execute("SELECT version_num FROM alembic_version")
                row = cursor.fetchone()
                revision = row[0] if row else None
            return marker, revision
    finally:
        connection.close()


def is_current(env: Mapping[str, str]) -> bool:
    marker, revision = _read(env)
    return revision is not None and marker == f"{expected_prefix(env)}:{revision}"


def record(env: Mapping[str, str]) -> None:
    _, revision = _read(env)
    connection = connect_database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (key text PRIMARY KEY, value text)")
            cursor.execute(
                f"INSERT INTO {TABLE} (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                (KEY, f"{expected_prefix(env)}:{revision}"),
            )
    finally:
        connection.close()
