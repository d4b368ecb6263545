"""What a finished `migrate-db` leaves in the metadata database, so that a later start with the
same image and admin login skips the job (one Airflow import, several seconds on every start).

The marker is the Airflow version, a hash of the admin login and Airflow's migration revision at
the time; any change to one of them runs the full migration again. The database is Postgres in
the containers, SQLite under the host runtime.
"""

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator, Mapping

from mwaa_local.container.services import connect_database

TABLE = "mwaa_local_state"
KEY = "migrate-db"


def expected_prefix(env: Mapping[str, str]) -> str:
    login = f"{env.get('MWAA_LOCAL_ADMIN_USERNAME', '')}:{env.get('MWAA_LOCAL_ADMIN_PASSWORD', '')}"
    return f"{env.get('AIRFLOW_VERSION', '')}:{hashlib.sha256(login.encode()).hexdigest()}"


class _Database:
    """The few statements the marker needs, in Postgres' or SQLite's words."""

    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        if self.sqlite:
            # sqlite:////absolute/path or sqlite:///relative/path
            self.connection = sqlite3.connect(url.partition(":///")[2], timeout=30)
        else:
            self.connection = connect_database(url)
        self.mark = "?" if self.sqlite else "%s"

    def has_table(self, cursor, name: str) -> bool:
        if self.sqlite:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
            return cursor.fetchone() is not None
        cursor.execute("SELECT to_regclass(%s)", (name,))
        return cursor.fetchone()[0] is not None


@contextlib.contextmanager
def _open(env: Mapping[str, str]) -> Iterator[tuple[_Database, object]]:
    database = _Database(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        cursor = database.connection.cursor()
        try:
            yield database, cursor
        finally:
            cursor.close()
    finally:
        database.connection.close()


def _read(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(the recorded marker, Airflow's current migration revision); None where absent."""
    with _open(env) as (database, cursor):
        marker = revision = None
        if database.has_table(cursor, TABLE):
            cursor.execute(f"SELECT value FROM {TABLE} WHERE key = {database.mark}", (KEY,))
            row = cursor.fetchone()
            marker = row[0] if row else None
        if database.has_table(cursor, "alembic_version"):
            cursor.execute("SELECT version_num FROM alembic_version")
            row = cursor.fetchone()
            revision = row[0] if row else None
        return marker, revision


def is_current(env: Mapping[str, str]) -> bool:
    marker, revision = _read(env)
    return revision is not None and marker == f"{expected_prefix(env)}:{revision}"


def record(env: Mapping[str, str]) -> None:
    _, revision = _read(env)
    with _open(env) as (database, cursor):
        mark = database.mark
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (key text PRIMARY KEY, value text)")
        cursor.execute(
            f"INSERT INTO {TABLE} (key, value) VALUES ({mark}, {mark}) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (KEY, f"{expected_prefix(env)}:{revision}"),
        )
        database.connection.commit()
