"""Requests made once per idempotency key: a retry gets the first response, another request with the key a conflict."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

import psycopg

from store.idempotency import find_response, lock_key, remember_response
from usecases.errors import IdempotencyKeyReusedError

__all__ = ["remember", "replay", "request_hash"]


def request_hash(*parts: Any) -> str:
    """The SHA-256 of the request's parts (plain JSON values), to tell a retry from another request."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def replay(conn: psycopg.Connection, *, organization_id: UUID, key: str, request_hash: str) -> Any | None:
    """The response stored for ``key``, or None when it is new; concurrent retries wait here for the first.

    The lock on the key is held until the caller's transaction ends, so call :func:`remember` before committing.

    Raises:
        IdempotencyKeyReusedError: the key was used for a different request.
    """
    lock_key(conn, organization_id=organization_id, key=key)
    stored = find_response(conn, organization_id=organization_id, key=key)
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyKeyReusedError(f"Idempotency-Key {key!r} was already used for a different request.")
    return stored.response


def remember(conn: psycopg.Connection, *, organization_id: UUID, key: str, request_hash: str, response: Any) -> None:
    """Store ``response`` (plain JSON values) as the answer to ``key``."""
    remember_response(conn, organization_id=organization_id, key=key, request_hash=request_hash, response=response)
