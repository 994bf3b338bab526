"""TimescaleDB where present, plain PostgreSQL otherwise."""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from store.errors import ExtensionPrivilegeError

log = logging.getLogger(__name__)


def timescale_available(conn: psycopg.Connection) -> bool:
    """Whether the server can load the ``timescaledb`` extension (installed and preloaded)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'), "
        "current_setting('shared_preload_libraries', true)"
    ).fetchone()
    return bool(row and row[0] and "timescaledb" in (row[1] or ""))


def timescale_enabled(conn: psycopg.Connection) -> bool:
    """Whether the ``timescaledb`` extension is created in this database."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')").fetchone()
    return bool(row and row[0])


def ensure_timescale(conn: psycopg.Connection) -> bool:
    """Create the extension when the server has it; return whether it is enabled.

    Raises:
        ExtensionPrivilegeError: the extension is available but this role may not create it.
    """
    if timescale_enabled(conn):
        return True
    if not timescale_available(conn):
        return False
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.errors.InsufficientPrivilege:
        raise ExtensionPrivilegeError(
            "TimescaleDB is installed but this role may not create it. Run "
            "'CREATE EXTENSION timescaledb;' as a superuser in this database, or grant the role CREATE."
        ) from None
    log.info("enabled the timescaledb extension")
    return True


def hypertables(conn: psycopg.Connection) -> set[str]:
    """Names of the hypertables in this database (empty on plain PostgreSQL)."""
    if not timescale_enabled(conn):
        return set()
    rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables").fetchall()
    return {r[0] for r in rows}


def set_retention(conn: psycopg.Connection, *, table: str, days: int) -> bool:
    """Ask TimescaleDB to drop chunks of ``table`` older than ``days``; return whether it could.

    The Apache-2 edition has no background retention policy (it is a Timescale License feature);
    there this returns False and ``drop_old_chunks`` can be run on a schedule instead.
    """
    if not timescale_enabled(conn):
        return False
    has_policy = conn.execute("SELECT current_setting('timescaledb.license', true) = 'timescale'").fetchone()
    if not (has_policy and has_policy[0]):
        log.info("retention for %s: no policy in the Apache-2 edition; use drop_old_chunks", table)
        return False
    conn.execute(
        sql.SQL("SELECT add_retention_policy({}, {}::interval, if_not_exists => true)").format(
            sql.Literal(table), sql.Literal(f"{days} days")
        )
    )
    return True


def drop_old_chunks(conn: psycopg.Connection, *, table: str, days: int) -> int:
    """Drop time-series data of ``table`` older than ``days``; return chunks (or rows) removed."""
    if timescale_enabled(conn) and table in hypertables(conn):
        rows = conn.execute(
            "SELECT drop_chunks(%s::regclass, older_than => now() - make_interval(days => %s))",
            (table, days),
        ).fetchall()
        return len(rows)
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE time < now() - make_interval(days => %s)").format(sql.Identifier(table)),
        (days,),
    )
    return cur.rowcount


RETENTION_TABLES = ("sensor_readings", "livestock_counts")
"""The raw time series that ``Settings.db.retention_days`` trims (hypertables under TimescaleDB)."""
RETENTION_LOCK_ID = int.from_bytes(b"FTRT", "big")
"""Transaction advisory lock that keeps one retention run at a time (several ingest workers may try)."""


def run_retention(conn: psycopg.Connection, *, days: int) -> dict[str, int] | None:
    """Drop the data of every table in :data:`RETENTION_TABLES` older than ``days`` (commit is the caller's).

    Under TimescaleDB whole chunks older than the cutoff are dropped (``drop_chunks``: rows in the chunk
    that straddles the cutoff stay until the next run after it has aged); on plain PostgreSQL the old
    rows are deleted.

    Returns:
        Chunks (TimescaleDB) or rows (plain PostgreSQL) removed per table; None when another process's
        run holds the lock (nothing done).

    Raises:
        ValueError: ``days`` is below 1.
    """
    if days < 1:
        raise ValueError(f"retention days must be at least 1, got {days}")
    locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RETENTION_LOCK_ID,)).fetchone()
    if not (locked and locked[0]):
        log.info("retention: another run holds the lock; skipped")
        return None
    removed = {table: drop_old_chunks(conn, table=table, days=days) for table in RETENTION_TABLES}
    log.info("retention (%d days): removed %s", days, removed)
    return removed
