"""The dashboard's session cookie and its protection against cross-site requests (CSRF).

Signing in with an API key opens a server-side session (``store.sessions``); the browser holds only the
session's random token, in an HttpOnly, SameSite=Strict cookie that is ``Secure`` when the request came
over https. Every POST form carries a CSRF token and is refused (403) when its ``Origin`` is another site:

* before sign-in, the token is a random value also kept in its own cookie (double submit);
* after, it is an HMAC of the session token, so it is valid for that session only.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import psycopg
from fastapi import Request, Response

from api.config import ServerConfig
from api.errors import ApiError
from store.sessions import Lifetime, resume_session
from store.tenants import Principal

SESSION_COOKIE = "ft_session"
LOGIN_CSRF_COOKIE = "ft_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _api_settings(request: Request) -> ServerConfig:
    return request.app.state.settings.api  # type: ignore[no-any-return]


def lifetime(request: Request) -> Lifetime:
    """The configured idle and absolute lifetimes of a session."""
    api = _api_settings(request)
    return Lifetime(idle_s=api.session_idle_s, absolute_s=api.session_absolute_s)


def is_https(request: Request) -> bool:
    """Whether the browser reached us over TLS (``X-Forwarded-Proto`` counts only when configured)."""
    if request.url.scheme == "https":
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return _api_settings(request).trust_forwarded_proto and forwarded == "https"


def client_address(request: Request) -> str:
    """The client's address, the unit that failed sign-ins are counted per."""
    return request.client.host if request.client else "unknown"


def session_principal(request: Request, conn: psycopg.Connection) -> Principal | None:
    """The organization signed in with the request's session cookie; None without a live session."""
    token = request.cookies.get(SESSION_COOKIE)
    return resume_session(conn, token=token, lifetime=lifetime(request)) if token else None


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age_s: int | None) -> None:
    """Set a dashboard cookie: HttpOnly, SameSite=Strict, ``Secure`` over https."""
    response.set_cookie(
        name, value, max_age=max_age_s, path="/", httponly=True, samesite="strict", secure=is_https(request)
    )


def delete_cookie(request: Request, response: Response, name: str) -> None:
    """Make the browser drop a dashboard cookie."""
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=is_https(request))


def login_csrf_token(request: Request) -> tuple[str, bool]:
    """The sign-in form's CSRF token, and whether it is new (then set it with :data:`LOGIN_CSRF_COOKIE`)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE)
    if token and len(token) >= 32:
        return token, False
    return secrets.token_urlsafe(32), True


def session_csrf_token(request: Request) -> str:
    """The CSRF token of the request's session ('' without a session cookie)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return ""
    return hmac.new(token.encode(), b"farmtrust dashboard csrf", hashlib.sha256).hexdigest()


def check_same_origin(request: Request) -> None:
    """Refuse a request that a page of another site sent (its ``Origin`` or ``Sec-Fetch-Site`` says so).

    Raises:
        ApiError: 403.
    """
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    own = f"{'https' if is_https(request) else 'http'}://{host}"
    if origin is not None and origin.lower() != own.lower():
        raise ApiError(403, "Forbidden", f"Cross-site request refused: origin {origin!r} is not {own!r}.")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise ApiError(403, "Forbidden", "Cross-site request refused (Sec-Fetch-Site).")


def _refuse_unless_equal(given: str, expected: str) -> None:
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(
            403, "Forbidden", "The form's CSRF token is missing or stale: reload the page and submit it again."
        )


def check_login_csrf(request: Request, form_token: str) -> None:
    """Refuse a sign-in POST from another site or without the token of the sign-in form.

    Raises:
        ApiError: 403.
    """
    check_same_origin(request)
    _refuse_unless_equal(form_token, request.cookies.get(LOGIN_CSRF_COOKIE, ""))


def check_session_csrf(request: Request, token: str) -> None:
    """Refuse a signed-in POST (form field or ``X-CSRF-Token``) from another site or without the session's token.

    Raises:
        ApiError: 403.
    """
    check_same_origin(request)
    _refuse_unless_equal(token, session_csrf_token(request))
