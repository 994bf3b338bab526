"""Errors of the API, and the one table that turns every error into RFC 9457 problem details.

Exception tree::

    ApiError                 an HTTP-level problem with its status (401, 403, 404, 409, 413, 422)

A value the database refuses (``psycopg.DataError``: a NUL byte, a numeric overflow, a date out of
range) is the client's mistake: a 422 problem, never a 500. ``PROBLEM_RESPONSES`` documents the problem
responses in the OpenAPI document, as ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details; ``errors`` lists each invalid field of a 422 (``path``, ``message``, ``type``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    errors: list[dict[str, str]] | None = None


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": Problem.model_json_schema()}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_response("The body is not well-formed (for instance, not UTF-8 JSON)."),
    401: _problem_response("The API key is missing, unknown or revoked."),
    403: _problem_response("The key's organization may not do this."),
    404: _problem_response("Not found, or not visible to the caller's organization."),
    405: _problem_response("Method not allowed; the Allow header lists the methods that are."),
    409: _problem_response("Conflicts with what is stored."),
    413: _problem_response("The request body is larger than the API accepts."),
    422: _problem_response("Invalid request: each invalid field is named in errors."),
    503: _problem_response("No database connection came free in time; retry after Retry-After seconds."),
}
"""Problem responses every API route may answer; given to each router as ``responses=``."""


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
    response = problem(exc.status_code, "HTTP error", str(exc.detail), request)
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request, (exc.headers or {}).get("Allow", "")))
    return response


_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _allowed_methods(request: Request, first_route: str) -> list[str]:
    """Every method served at the request's path: Starlette's 405 names only the first matching route's."""
    from starlette.routing import compile_path

    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        paths = request.app.openapi()["paths"]
        table = [(compile_path(p)[0], {m.upper() for m in ops if m in _HTTP_METHODS}) for p, ops in paths.items()]
        request.app.state.allowed_methods = table
    methods = {m.strip() for m in first_route.split(",") if m.strip()}
    for regex, served in table:
        if regex.match(request.url.path):
            methods |= served
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


async def _data(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (NUL byte, numeric overflow, out-of-range date): the client's 422."""
    assert isinstance(exc, psycopg.DataError)
    reason = exc.diag.message_primary or str(exc).splitlines()[0]
    return problem(422, "Unprocessable value", f"A value cannot be stored: {reason}.", request)


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    """Store, credit and use-case errors: not found -> 404, conflicts -> 409, bad values -> 422."""
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
    from usecases.errors import UseCaseError

    return {
        ApiError: _api_error,
        RequestValidationError: _validation,
        StarletteHTTPException: _http,
        StoreError: _domain,
        CreditError: _domain,
        UseCaseError: _domain,
        PoolTimeout: _busy,
        psycopg.DataError: _data,
    }
