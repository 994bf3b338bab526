"""Errors of the API, and the one table that turns every error into RFC 9457 problem details.

Exception tree::

    ApiError                 an HTTP-level problem with its status (401, 403, 404, 409, 422)
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """A problem to answer with ``status``, a short ``title`` and a ``detail`` saying what to do."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        """Keep the parts of the problem."""
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    """A problem-details response."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": request.url.path}
    return JSONResponse({**body, **extra}, status_code=status, media_type=PROBLEM_JSON)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    response = problem(exc.status, exc.title, exc.detail, request)
    if exc.status == 503:
        response.headers["Retry-After"] = "2"
    return response


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"path": "/".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()
    ]
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return problem(422, "Invalid request", detail, request, errors=errors)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, "HTTP error", str(exc.detail), request)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    """Store and credit errors: not found -> 404, conflicts -> 409, bad values -> 422."""
    name = type(exc).__name__
    if isinstance(exc, LookupError):
        return problem(404, "Not found", str(exc), request)
    if "Idempotency" in name or "Conflict" in name:
        return problem(409, "Conflict", str(exc), request)
    return problem(422, "Unprocessable request", str(exc), request)


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    """No database connection came free in time: a 503 the client may retry, not a 500."""
    response = problem(503, "Service busy", "All database connections are busy; retry in a few seconds.", request)
    response.headers["Retry-After"] = "2"
    return response


def exception_handlers() -> dict[Any, Any]:
    """The table given to FastAPI: every error class the API answers, and how."""
    from psycopg_pool import PoolTimeout

    from credit.errors import CreditError
    from store.errors import StoreError

    return {
        ApiError: _api_error,
        RequestValidationError: _validation,
        StarletteHTTPException: _http,
        StoreError: _domain,
        CreditError: _domain,
        PoolTimeout: _busy,
    }
