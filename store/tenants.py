"""Organizations, API keys and consents: who may see what.

API keys are random 32-byte tokens shown once; only their sha256 is stored (a token has 256 bits of
entropy, so a plain hash is enough: no slow KDF is needed as it would be for a password).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from store.errors import StoreError
from vocabulary.organizations import CONSENT_SCOPES

KEY_PREFIX = "ft_"


class TenantError(StoreError, LookupError):
    """An organization, key or consent does not exist (or is not this caller's)."""


@dataclass(frozen=True)
class Principal:
    """The organization an API key belongs to."""

    organization_id: UUID
    kind: str  # cooperative | lender | admin
    name: str
    key_id: UUID


def hash_key(token: str) -> str:
    """sha256 hex of an API key."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_organization(conn: psycopg.Connection, *, kind: str, name: str) -> UUID:
    """Create an organization (or return the existing one of that kind and name)."""
    row = conn.execute(
        """INSERT INTO organizations (kind, name) VALUES (%s, %s)
           ON CONFLICT (kind, name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
        (kind, name),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def organization_exists(conn: psycopg.Connection, *, organization_id: UUID) -> bool:
    """Whether an organization has ``organization_id``."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = %s)", (organization_id,)).fetchone()
    return bool(row and row[0])


def create_api_key(conn: psycopg.Connection, *, organization_id: UUID, label: str = "") -> tuple[UUID, str]:
    """Create a key for the organization; return its id and the token (shown once, never stored)."""
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_keys (organization_id, prefix, key_hash, label) VALUES (%s, %s, %s, %s) RETURNING id",
        (organization_id, token[:10], hash_key(token), label),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0])), token


def authenticate(conn: psycopg.Connection, *, token: str) -> Principal | None:
    """The organization of a valid, unrevoked key; None otherwise."""
    row = conn.execute(
        """SELECT o.id, o.kind, o.name, k.id FROM api_keys k JOIN organizations o ON o.id = k.organization_id
           WHERE k.key_hash = %s AND k.revoked_at IS NULL""",
        (hash_key(token),),
    ).fetchone()
    return None if row is None else Principal(row[0], row[1], row[2], row[3])


def revoke_api_key(conn: psycopg.Connection, *, key_id: UUID, organization_id: UUID | None = None) -> None:
    """Revoke a key at once (of ``organization_id`` only, when given).

    Raises:
        TenantError: no such key.
    """
    row = conn.execute(
        """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = %s AND (%s::uuid IS NULL OR organization_id = %s) RETURNING id""",
        (key_id, organization_id, organization_id),
    ).fetchone()
    if row is None:
        raise TenantError(f"API key {key_id} does not exist")


def grant_consent(
    conn: psycopg.Connection,
    *,
    farm_id: UUID,
    lender_id: UUID,
    granted_by: UUID,
    expires_at: datetime,
    scope: tuple[str, ...] = CONSENT_SCOPES,
) -> UUID:
    """Record that a farmer, through their cooperative, lets ``lender_id`` see the farm until ``expires_at``.

    Raises:
        TenantError: the farm is not a member of ``granted_by``, or ``lender_id`` is not a lender.
    """
    ok = conn.execute(
        """SELECT EXISTS (SELECT 1 FROM farms WHERE id = %s AND cooperative_id = %s),
                  EXISTS (SELECT 1 FROM organizations WHERE id = %s AND kind = 'lender')""",
        (farm_id, granted_by, lender_id),
    ).fetchone()
    if not ok or not ok[0]:
        raise TenantError(f"Farm {farm_id} does not exist")
    if not ok[1]:
        raise TenantError(f"Lender {lender_id} does not exist")
    row = conn.execute(
        """INSERT INTO consents (farm_id, lender_id, granted_by, scope, expires_at)
           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
        (farm_id, lender_id, granted_by, list(scope), expires_at),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def farm_visible(conn: psycopg.Connection, *, principal: Principal, farm_id: UUID, scope: str = "records") -> bool:
    """Whether ``principal`` may see the farm: a member of its cooperative, a consented lender, or an admin."""
    if principal.kind == "admin":
        row = conn.execute("SELECT EXISTS (SELECT 1 FROM farms WHERE id = %s)", (farm_id,)).fetchone()
    elif principal.kind == "cooperative":
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM farms WHERE id = %s AND cooperative_id = %s)",
            (farm_id, principal.organization_id),
        ).fetchone()
    else:
        row = conn.execute(
            """SELECT EXISTS (SELECT 1 FROM consents WHERE farm_id = %s AND lender_id = %s AND revoked_at IS NULL
                              AND expires_at > now() AND %s = ANY(scope))""",
            (farm_id, principal.organization_id, scope),
        ).fetchone()
    return bool(row and row[0])


def visible_farm_ids(conn: psycopg.Connection, *, principal: Principal, scope: str | None = None) -> list[UUID]:
    """Every farm ``principal`` may see; for a lender, only consents that include ``scope`` (any, when None)."""
    if principal.kind == "admin":
        rows = conn.execute("SELECT id FROM farms ORDER BY id").fetchall()
    elif principal.kind == "cooperative":
        rows = conn.execute(
            "SELECT id FROM farms WHERE cooperative_id = %s ORDER BY id", (principal.organization_id,)
        ).fetchall()
    else:
        rows = conn.execute(
            """SELECT DISTINCT farm_id FROM consents WHERE lender_id = %s AND revoked_at IS NULL
               AND expires_at > now() AND (%s::text IS NULL OR %s = ANY(scope)) ORDER BY farm_id""",
            (principal.organization_id, scope, scope),
        ).fetchall()
    return [r[0] for r in rows]
