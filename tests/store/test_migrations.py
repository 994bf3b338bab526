from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from store.errors import MigrationChecksumError, MigrationError
from store.migrations import load_migrations, migrate, status
from store.timescale import hypertables, timescale_available
from tests.conftest import with_dbname

EXPECTED_TABLES = {
    "organizations",
    "farms",
    "devices",
    "fields",
    "sensor_readings",
    "livestock_counts",
    "ingest_quarantine",
}


@pytest.fixture
def empty_db(admin_url):
    name = f"ft_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = with_dbname(admin_url, name)
    yield url
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_migrate_applies_all_then_is_a_no_op(empty_db):
    with psycopg.connect(empty_db, autocommit=True) as c:
        first = migrate(c)
        second = migrate(c)
        tables = {r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        rows = status(c)
    assert [m.version for m in first] == [m.version for m in load_migrations()]
    assert second == []
    assert EXPECTED_TABLES <= tables
    assert all(r.applied_at is not None and not r.changed for r in rows)


def test_time_series_tables_are_hypertables_when_timescale_is_present(conn):
    if timescale_available(conn):
        assert {"sensor_readings", "livestock_counts"} <= hypertables(conn)
    else:  # plain PostgreSQL: the same schema as ordinary tables
        assert hypertables(conn) == set()
        assert conn.execute("SELECT to_regclass('sensor_readings')").fetchone()[0] is not None


def test_provisioned_server_has_timescale(request, conn):
    """When the test command provisioned the system PostgreSQL, TimescaleDB must be in use."""
    if request.config.getoption("--test-dsn") and "127.0.0.1:5432" in request.config.getoption("--test-dsn"):
        assert timescale_available(conn)
        assert "sensor_readings" in hypertables(conn)


def test_edited_migration_is_refused(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_a.sql").write_text("CREATE TABLE a (x int);")
    with psycopg.connect(empty_db, autocommit=True) as c:
        assert len(migrate(c, directory=folder)) == 1
        (folder / "0001_a.sql").write_text("CREATE TABLE a (x bigint);")
        with pytest.raises(MigrationChecksumError, match=r"0001_a\.sql was edited"):
            migrate(c, directory=folder)


def test_failed_migration_rolls_back(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_ok.sql").write_text("CREATE TABLE ok (x int);")
    (folder / "0002_bad.sql").write_text("CREATE TABLE half (x int); SELECT no_such_function();")
    with psycopg.connect(empty_db, autocommit=True) as c:
        with pytest.raises(MigrationError, match=r"0002_bad\.sql failed"):
            migrate(c, directory=folder)
        assert c.execute("SELECT to_regclass('half')").fetchone()[0] is None
        assert [r.version for r in status(c, directory=folder) if r.applied_at] == [1]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "0001_UPPER.sql"])
def test_malformed_file_names_are_refused(tmp_path: Path, name: str):
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"must be named NNNN_name\.sql"):
        load_migrations(tmp_path)
