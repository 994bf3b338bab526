"""Dependencies of the routes, as ``Annotated`` aliases: the settings, a connection, the caller."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import Depends, Header, Request

from api.errors import ApiError
from farmtrust.settings import Settings as SettingsModel
from store.tenants import Principal, authenticate, farm_visible


def get_settings(request: Request) -> SettingsModel:
    """The settings the app was created with."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_conn(request: Request) -> Iterator[psycopg.Connection]:
    """A pooled connection; the request's work commits when the route returns without error."""
    with request.app.state.pool.connection() as conn:
        yield conn


Settings = Annotated[SettingsModel, Depends(get_settings)]
Conn = Annotated[psycopg.Connection, Depends(get_conn)]


def get_principal(
    request: Request,
    conn: Conn,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
    x_api_key: Annotated[str | None, Header(description="the API key, as an alternative header")] = None,
) -> Principal:
    """The organization of the API key (header, or the dashboard's session cookie).

    Raises:
        ApiError: 401 when the key is missing, unknown or revoked.
    """
    token = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        token = authorization[7:].strip()
    token = token or request.cookies.get("ft_key")
    if not token:
        raise ApiError(401, "Unauthorized", "Send your API key as 'Authorization: Bearer <key>' or 'X-API-Key'.")
    principal = authenticate(conn, token=token)
    if principal is None:
        raise ApiError(401, "Unauthorized", "This API key is unknown or was revoked; ask your administrator.")
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
