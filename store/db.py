"""Connections and pools to PostgreSQL, with errors a person can act on."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import ConnectionPool

from store.errors import DatabaseUnreachableError

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open one connection, translating connection failures into a clear error.

    Raises:
        DatabaseUnreachableError: the URL is malformed or the server does not answer.
    """
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        host = urlsplit(url).hostname or "local socket"
        raise DatabaseUnreachableError(
            f"Cannot connect to the database at {redact(url)} ({host}): {first}. "
            "Check FARMTRUST_DB__URL, or unset it to use the embedded PostgreSQL."
        ) from None
    except psycopg.ProgrammingError as exc:
        raise DatabaseUnreachableError(
            f"Database URL {redact(url)} is not valid: {exc}. Use postgresql://user@host:port/dbname."
        ) from None


def timeouts_option(*, lock_timeout_s: float, statement_timeout_s: float) -> str:
    """The libpq ``options`` that give every transaction of a connection a lock and a statement timeout."""
    return f"-c lock_timeout={round(lock_timeout_s * 1000)} -c statement_timeout={round(statement_timeout_s * 1000)}"


def open_pool(url: str, *, min_size: int = 1, max_size: int = 10, options: str | None = None) -> ConnectionPool:
    """Open a connection pool after checking that the database answers.

    ``options`` are libpq's server options for each connection (e.g. :func:`timeouts_option`).

    Raises:
        DatabaseUnreachableError: the database does not answer.
    """
    connect(url).close()
    kwargs: dict[str, object] = {"connect_timeout": 10} | ({"options": options} if options else {})
    pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=False, kwargs=kwargs)
    pool.open(wait=True, timeout=30)
    log.info("opened pool to %s (min %d, max %d)", redact(url), min_size, max_size)
    return pool


def ping(conn: psycopg.Connection) -> None:
    """Run a trivial query: returns when the database answers, raises psycopg's error otherwise."""
    conn.execute("SELECT 1")
