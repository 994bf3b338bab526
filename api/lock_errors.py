"""Lock and statement timeouts of the API's transactions, answered as problems the client may retry.

API connections wait at most ``Settings.api.lock_timeout_s`` for a lock (PostgreSQL's ``lock_timeout``,
SQLSTATE 55P03) and run a statement for at most ``statement_timeout_s`` (57014): another request
holding the same loan or idempotency key gives a 409, a statement that ran too long a 503, both with
``Retry-After``. The transaction was rolled back, so nothing of the request was stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api.errors import problem

RETRY_AFTER_S = 1


async def _lock_timeout(request: Request, exc: Exception) -> JSONResponse:
    response = problem(
        409,
        "Conflict",
        "Another request is changing the same resource (or using the same Idempotency-Key) right now; "
        "nothing was stored: retry in a moment.",
        request,
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


async def _statement_timeout(request: Request, exc: Exception) -> JSONResponse:
    response = problem(503, "Service busy", "The database took too long; nothing was stored: retry shortly.", request)
    response.headers["Retry-After"] = str(2 * RETRY_AFTER_S)
    return response


def lock_error_handlers() -> dict[Any, Any]:
    """Handlers for ``lock_timeout`` (409) and ``statement_timeout`` (503), given to FastAPI."""
    from psycopg.errors import LockNotAvailable, QueryCanceled

    return {LockNotAvailable: _lock_timeout, QueryCanceled: _statement_timeout}
