"""Dependencies of the routes, as ``Annotated`` aliases: the settings, a connection, the caller."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID

import anyio.to_thread
import psycopg
from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from psycopg.pq import TransactionStatus

from api.config import ApiConfig
from api.dashboard.session import SAFE_METHODS, SESSION_COOKIE, check_session_csrf, session_principal
from api.errors import ApiError
from store.tenants import Principal, authenticate, farm_visible


async def get_settings(request: Request) -> ApiConfig:
    """The settings the app was created with (async: FastAPI runs a plain ``def`` dependency in a thread)."""
    return request.app.state.settings  # type: ignore[no-any-return]


CONNECTION_WAIT_S = 10.0
"""How long a request waits for a free database connection before it is answered 503 (retry)."""

_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _slots_of(request: Request) -> asyncio.Semaphore:
    """One semaphore per event loop (a test may serve the same app from two loops).

    Its size is the pool's, but never more than the threadpool's: see :func:`get_conn`.
    """
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        threads = int(anyio.to_thread.current_default_thread_limiter().total_tokens)
        slots = _slots[loop] = asyncio.Semaphore(min(request.app.state.pool.max_size, threads))
    return slots


async def get_conn(request: Request) -> AsyncIterator[psycopg.Connection]:
    """A pooled connection; the request's work commits when the route returns without error.

    Requests queue for a connection on the event loop, not in worker threads: a thread that blocked in
    ``pool.getconn`` would hold one of the threadpool's tokens that the requests owning the connections
    need to finish (and give them back), so under load the server would stall until the pool timed out.

    Lock waits follow the same rule. A request holding a connection uses at most one worker thread at a
    time, and at most ``threads`` requests hold one (the semaphore is never larger than the threadpool):
    so while some wait in threads for a row or key lock, the request holding that lock always finds a
    thread for its commit. Without that bound, 20 repayments on one loan stalled the API for good: 8
    lock waiters held the 8 threads, and the lock holder's commit waited for a thread. Every wait is
    bounded too: ``lock_timeout`` and ``statement_timeout`` on API connections (``api.lock_errors``).

    A route that committed itself leaves nothing to commit, and an idle connection goes back to the pool
    without I/O: both skip the hop through a worker thread, which under load waits for a free thread and
    the GIL (a credit decision made six such hops; now three).

    Raises:
        ApiError: 503 when no connection came free within ``CONNECTION_WAIT_S``.
    """
    slots = _slots_of(request)
    try:
        await asyncio.wait_for(slots.acquire(), CONNECTION_WAIT_S)
    except TimeoutError:
        raise ApiError(503, "Service busy", "All database connections are busy; retry in a few seconds.") from None
    try:
        pool = request.app.state.pool
        conn = await run_in_threadpool(pool.getconn)
        try:
            yield conn
        except BaseException:
            await run_in_threadpool(conn.rollback)
            raise
        else:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                await run_in_threadpool(conn.commit)
        finally:
            if conn.info.transaction_status == TransactionStatus.IDLE:
                pool.putconn(conn)  # nothing to roll back or reset: no I/O, so no trip through a worker thread
            else:
                await run_in_threadpool(pool.putconn, conn)
    finally:
        slots.release()


Settings = Annotated[ApiConfig, Depends(get_settings)]
# scope="function": commit before the response is sent, so a failed commit is an error, never a 201
Conn = Annotated[psycopg.Connection, Depends(get_conn, scope="function")]


def get_principal(
    request: Request,
    conn: Conn,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
    x_api_key: Annotated[str | None, Header(description="the API key, as an alternative header")] = None,
) -> Principal:
    """The organization of the API key (header), or of the dashboard's session (cookie).

    A request that authenticates with the session cookie and changes something (not GET, HEAD or OPTIONS)
    must come from the same origin and send the session's CSRF token as ``X-CSRF-Token``.

    Raises:
        ApiError: 401 when the key or session is missing, unknown, expired or revoked; 403 for a
            cookie-authenticated change without a valid CSRF token.
    """
    token = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    if token:
        principal = authenticate(conn, token=token)
        if principal is None:
            raise ApiError(401, "Unauthorized", "This API key is unknown or was revoked; ask your administrator.")
        return principal
    if not request.cookies.get(SESSION_COOKIE):
        raise ApiError(401, "Unauthorized", "Send your API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
    principal = session_principal(request, conn)
    if principal is None:
        raise ApiError(401, "Unauthorized", "Your dashboard session ended or expired; sign in again.")
    if request.method not in SAFE_METHODS:
        check_session_csrf(request, request.headers.get("x-csrf-token", ""))
    return principal


CurrentOrg = Annotated[Principal, Depends(get_principal)]


def require(principal: Principal, *kinds: str) -> None:
    """Refuse a caller whose organization is not of one of ``kinds`` (403)."""
    if principal.kind not in kinds:
        raise ApiError(403, "Forbidden", f"This needs a {' or '.join(kinds)} key; yours is a {principal.kind} key.")


def visible_farm(conn: psycopg.Connection, principal: Principal, farm_id: UUID, scope: str = "records") -> None:
    """404 unless the caller may see the farm: another tenant's farm does not exist for it."""
    if not farm_visible(conn, principal=principal, farm_id=farm_id, scope=scope):
        raise ApiError(404, "Not found", f"Farm {farm_id} does not exist.")
