"""Waiting for the metadata database and the Celery broker, with a bounded, logged retry.

MWAA's own entrypoint retries the database before it starts a component
(anchor-amazon-mwaa-docker-images.md 3.7); the components would otherwise crash-loop while
Postgres initialises.
"""

import logging
import time
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from mwaa_local.errors import MwaaLocalError

log = logging.getLogger("mwaa-local")


def wait_for(what: str, check: Callable[[], None], timeout: float, interval: float = 1.0) -> None:
    """Call `check` until it stops raising, logging each failure, for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            check()
        except Exception as e:  # any failure is a reason to retry until the deadline
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MwaaLocalError(
                    f"{what} did not answer within {timeout:.0f} s ({attempt} attempts): {e}"
                ) from e
            log.info("waiting for %s (attempt %d): %s", what, attempt, e)
            time.sleep(min(interval, remaining))
            interval = min(interval * 1.5, 5.0)
        else:
            log.info("%s is ready (attempt %d)", what, attempt)
            return


def connect_database(url: str):
    """A psycopg2 connection to the Postgres database named by a SQLAlchemy URL."""
    import psycopg2  # installed with the postgres provider; imported late for host-side tests

    parts = urlsplit(url)
    return psycopg2.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        dbname=parts.path.lstrip("/"),
        connect_timeout=5,
    )


def check_database(url: str) -> None:
    """Connect to the metadata database and run SELECT 1."""
    connection = connect_database(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_redis(url: str) -> None:
    """PING the broker with redis-py (there with Airflow's Redis provider), AUTH included when the
    URL has a password; any failure is a ConnectionError."""
    import redis  # in the image; imported late so host-side tools need not have it

    try:
        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5).ping()
    except redis.RedisError as e:
        raise ConnectionError(f"Redis at {url.rpartition('@')[2]}: {e}") from e
