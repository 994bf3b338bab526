"""FarmTrust's database layer: PostgreSQL (TimescaleDB where present) through psycopg 3."""

from store.db import connect, open_pool, redact
from store.errors import (
    DatabaseUnreachableError,
    ExtensionPrivilegeError,
    MigrationChecksumError,
    MigrationError,
    StoreError,
)
from store.migrations import load_migrations, migrate, status
from store.timescale import hypertables, timescale_available, timescale_enabled

__all__ = [
    "DatabaseUnreachableError",
    "ExtensionPrivilegeError",
    "MigrationChecksumError",
    "MigrationError",
    "StoreError",
    "connect",
    "hypertables",
    "load_migrations",
    "migrate",
    "open_pool",
    "redact",
    "status",
    "timescale_available",
    "timescale_enabled",
]
