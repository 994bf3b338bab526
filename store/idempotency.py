"""Idempotency records: the first response to an organization's request key, replayed for its retries.

Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

__all__ = ["StoredResponse", "find_response", "lock_key", "remember_response"]


@dataclass(frozen=True, kw_only=True)
class StoredResponse:
    """The response stored for a key, and the hash of the request that produced it."""

    request_hash: str
    status_code: int
    response: Any


def lock_key(conn: psycopg.Connection, *, organization_id: UUID, key: str) -> None:
    """Take a transaction-scoped lock on ``(organization_id, key)``: concurrent retries wait for the first."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{organization_id}:{key}",))


def find_response(conn: psycopg.Connection, *, organization_id: UUID, key: str) -> StoredResponse | None:
    """The response stored for ``key`` of ``organization_id``, or None."""
    with conn.cursor(row_factory=class_row(StoredResponse)) as cur:
        return cur.execute(
            "SELECT request_hash, status_code, response FROM idempotency_keys WHERE organization_id = %s AND key = %s",
            (organization_id, key),
        ).fetchone()


def remember_response(
    conn: psycopg.Connection,
    *,
    organization_id: UUID,
    key: str,
    request_hash: str,
    response: Any,
    status_code: int = 201,
) -> None:
    """Store the response (plain JSON data) to ``key`` of ``organization_id``."""
    conn.execute(
        """INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response)
           VALUES (%s, %s, %s, %s, %s)""",
        (organization_id, key, request_hash, status_code, Jsonb(response)),
    )
