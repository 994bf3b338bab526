"""Session fixtures: a real PostgreSQL and a real MQTT broker.

The test command (``scripts/test.sh``) provisions the system PostgreSQL with TimescaleDB and
Mosquitto and passes their URLs in ``FARMTRUST_TEST_DB_URL`` / ``FARMTRUST_TEST_MQTT_URL`` (or the
``--test-dsn`` / ``--test-mqtt`` options). When they are unset, the fixtures start the embedded
PostgreSQL and broker themselves, so a test always talks to a real server and is never skipped.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
TEST_DATA = Path(__file__).resolve().parent / "data"
TEST_TOPIC_ROOT = f"ft-test-{uuid.uuid4().hex[:10]}/v1"
"""This test session's MQTT topic root: parallel runs on one broker never take each other's messages."""
TEST_SHARE_GROUP = f"ingest-{uuid.uuid4().hex[:10]}"
"""This test session's shared-subscription group."""


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--test-dsn", default=os.environ.get("FARMTRUST_TEST_DB_URL"), help="admin URL of a PostgreSQL")
    parser.addoption("--test-mqtt", default=os.environ.get("FARMTRUST_TEST_MQTT_URL"), help="URL of an MQTT broker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"admin_url", "db_url", "conn", "fresh_db_url", "template_db"}:
            item.add_marker(pytest.mark.db)
        if names & {"mqtt_url", "broker"}:
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def admin_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of a real PostgreSQL server's maintenance database (provisioned or embedded)."""
    url = request.config.getoption("--test-dsn")
    if url:
        yield url
        return
    from farmtrust.services import start_embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="farmtrust-test-pg-"))
    os.chmod(folder, 0o755)
    url, server = start_embedded_postgres(folder / "data")
    yield url
    server.cleanup()  # type: ignore[attr-defined]


def with_dbname(url: str, name: str) -> str:
    """Return the postgresql:// ``url`` with its database replaced by ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _db_url(admin: str, name: str) -> str:
    return with_dbname(admin, name)


def _clone(admin_url: str, template: str, prefix: str) -> str:
    """Create a database from ``template``; retry while a straggler (e.g. a TimescaleDB worker) holds it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for attempt in range(20):
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
                )
                return name
            except psycopg.errors.ObjectInUse:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (template,))
                time.sleep(0.1 * (attempt + 1))
    raise RuntimeError(f"template database {template} stayed busy")


def _drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> Iterator[str]:
    """A migrated database used only as the template of test databases (nobody may connect to it)."""
    from store.migrations import migrate

    name = f"ft_tmpl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(_db_url(admin_url, name), autocommit=True) as conn:
        migrate(conn)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # TimescaleDB's scheduler connects to every database with the extension; a template must be idle
        conn.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(sql.Identifier(name)))
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    yield name
    _drop(admin_url, name)


@pytest.fixture
def fresh_db_url(admin_url: str, template_db: str) -> Iterator[str]:
    """URL of a new, migrated database of this test's own (dropped afterwards)."""
    name = _clone(admin_url, template_db, "ft_test")
    yield _db_url(admin_url, name)
    _drop(admin_url, name)


@pytest.fixture(scope="session")
def db_url(admin_url: str, template_db: str) -> Iterator[str]:
    """URL of the shared migrated database (tests isolate themselves with ``conn``'s rollback)."""
    name = _clone(admin_url, template_db, "ft_shared")
    yield _db_url(admin_url, name)
    _drop(admin_url, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with psycopg.connect(db_url) as connection:
        yield connection
        connection.rollback()


@pytest.fixture(scope="session")
def mqtt_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real MQTT broker (provisioned Mosquitto, or an embedded one)."""
    url = request.config.getoption("--test-mqtt")
    if url:
        yield url
        return
    from farmtrust.services import start_broker

    url, _protocol, _kind, proc = start_broker(tmp_path_factory.mktemp("broker"))
    yield url
    proc.terminate()
    proc.wait(5)
