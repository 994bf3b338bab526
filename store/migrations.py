"""Versioned SQL migrations, applied in order, each in its own transaction.

Files live in ``store/migrations/NNNN_name.sql``. Each applied file is recorded in
``schema_migrations`` with its sha256; a file edited after it was applied stops the run.
Ranges by owner keep parallel work from colliding: 0001-0009 foundation, 0010-0019 ingest,
0020-0029 vision, 0030-0039 remote sensing, 0040-0049 credit, 0050-0059 api.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

import psycopg

from store.errors import MigrationChecksumError, MigrationError
from store.timescale import ensure_timescale

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_ID = 0x46_54_4D_49  # "FTMI": one migrator at a time


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class MigrationStatus:
    """Where one migration stands in a database."""

    version: int
    name: str
    applied_at: datetime | None
    changed: bool


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Read the migration files in version order.

    Raises:
        MigrationError: two files share a version, or a file name is malformed.
    """
    folder = directory or Path(str(resources.files("store") / "migrations"))
    found: dict[int, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"Migration file {path.name!r} must be named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"Migrations {found[version].name!r} and {path.stem!r} share version {version}")
        found[version] = Migration(version, path.stem, path.read_text())
    return [found[v] for v in sorted(found)]


def _ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def _applied(conn: psycopg.Connection) -> dict[int, tuple[str, str, datetime]]:
    rows = conn.execute("SELECT version, name, checksum, applied_at FROM schema_migrations").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _check_unchanged(migrations: list[Migration], applied: dict[int, tuple[str, str, datetime]]) -> None:
    for m in migrations:
        if m.version in applied and applied[m.version][1] != m.checksum:
            raise MigrationChecksumError(
                f"Migration {m.name}.sql was edited after it was applied (checksum differs). "
                "Restore the file and put the change in a new migration."
            )


def migrate(conn: psycopg.Connection, *, directory: Path | None = None) -> list[Migration]:
    """Apply every pending migration; return the ones applied (empty when up to date).

    ``conn`` must be in autocommit mode; each migration runs in its own transaction.

    Raises:
        MigrationChecksumError: an applied file was edited.
        MigrationError: a migration's SQL failed (that migration is rolled back).
        ExtensionPrivilegeError: TimescaleDB is available but may not be created.
    """
    migrations = load_migrations(directory)
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
    try:
        ensure_timescale(conn)
        _ensure_table(conn)
        applied = _applied(conn)
        _check_unchanged(migrations, applied)
        done: list[Migration] = []
        for m in migrations:
            if m.version in applied:
                continue
            try:
                with conn.transaction():
                    conn.execute(m.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"Migration {m.name}.sql failed and was rolled back: {exc}") from None
            log.info("applied migration %s", m.name)
            done.append(m)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))


def status(conn: psycopg.Connection, *, directory: Path | None = None) -> list[MigrationStatus]:
    """Return every known migration with when it was applied and whether its file changed since."""
    _ensure_table(conn)
    applied = _applied(conn)
    out = []
    for m in load_migrations(directory):
        row = applied.get(m.version)
        out.append(MigrationStatus(m.version, m.name, row[2] if row else None, bool(row and row[1] != m.checksum)))
    return out
