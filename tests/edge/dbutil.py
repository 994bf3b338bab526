"""A per-test database cloned from the session template, retrying while a background worker touches it.

TimescaleDB's scheduler briefly connects to every database that has the extension, so
``CREATE DATABASE ... TEMPLATE`` can fail with ObjectInUse; a short retry makes the clone reliable.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors, sql

from tests.conftest import with_dbname


@contextmanager
def cloned_db(admin_url: str, template: str) -> Iterator[str]:
    """Yield the URL of a new database cloned from ``template``; drop it afterwards."""
    name = f"ft_ingest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for attempt in range(60):
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
                )
                break
            except errors.ObjectInUse:
                if attempt == 59:
                    raise
                time.sleep(0.1)
    try:
        yield with_dbname(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
