"""Dashboard sessions and failed sign-ins.

A session is a random token held in the browser's cookie; only its sha256 is stored (like API keys, the
token has 256 bits of entropy, so a plain hash is enough). A session lives while its API key is not
revoked, it was used within the idle lifetime, it is younger than the absolute lifetime and it was not
ended by signing out.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from store.tenants import Principal


@dataclass(frozen=True)
class Lifetime:
    """How long a session lives: since its last use (idle) and since sign-in (absolute)."""

    idle_s: int
    absolute_s: int


@dataclass(frozen=True)
class Throttle:
    """Where a client stands with failed sign-ins: blocked, and for how many more seconds."""

    blocked: bool
    retry_after_s: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(conn: psycopg.Connection, *, key_id: UUID, client: str, lifetime: Lifetime) -> str:
    """Open a session for an API key; return its token (the only copy: the database keeps its hash).

    Sessions that have expired or ended are deleted on the way.
    """
    conn.execute(
        """DELETE FROM dashboard_sessions
           WHERE ended_at IS NOT NULL OR last_seen_at < now() - make_interval(secs => %s)
              OR created_at < now() - make_interval(secs => %s)""",
        (lifetime.idle_s, lifetime.absolute_s),
    )
    token = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO dashboard_sessions (token_hash, api_key_id, client) VALUES (%s, %s, %s)",
        (_hash(token), key_id, client),
    )
    return token


TOUCH_EVERY_S = 15
"""A session's last use is written at most this often (a page with many thumbnails writes once)."""


def resume_session(conn: psycopg.Connection, *, token: str, lifetime: Lifetime) -> Principal | None:
    """The organization of a live session (and mark it used now); None when it expired, ended or never was."""
    row = conn.execute(
        """WITH live AS (
               SELECT s.id, s.last_seen_at, o.id AS org_id, o.kind, o.name, k.id AS key_id
               FROM dashboard_sessions s JOIN api_keys k ON k.id = s.api_key_id
                    JOIN organizations o ON o.id = k.organization_id
               WHERE s.token_hash = %s AND k.revoked_at IS NULL AND s.ended_at IS NULL
                 AND s.last_seen_at >= now() - make_interval(secs => %s)
                 AND s.created_at >= now() - make_interval(secs => %s)),
           touched AS (
               UPDATE dashboard_sessions s SET last_seen_at = now() FROM live
               WHERE s.id = live.id AND live.last_seen_at < now() - make_interval(secs => %s))
           SELECT org_id, kind, name, key_id FROM live""",
        (_hash(token), lifetime.idle_s, lifetime.absolute_s, TOUCH_EVERY_S),
    ).fetchone()
    return None if row is None else Principal(row[0], row[1], row[2], row[3])


def end_session(conn: psycopg.Connection, *, token: str) -> None:
    """Sign out: the session's token stops working at once."""
    conn.execute(
        "UPDATE dashboard_sessions SET ended_at = coalesce(ended_at, now()) WHERE token_hash = %s", (_hash(token),)
    )


def login_throttle(conn: psycopg.Connection, *, client: str, max_failures: int, window_s: int) -> Throttle:
    """Whether ``client`` failed ``max_failures`` sign-ins within the last ``window_s`` seconds.

    Takes a transaction-level advisory lock on the client, so that its parallel attempts are checked and
    recorded one after the other (hold the transaction open until :func:`record_login_failure`).
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ft_login:' || %s, 0))", (client,))
    conn.execute(
        "DELETE FROM dashboard_login_failures WHERE client = %s AND failed_at < now() - make_interval(secs => %s)",
        (client, window_s),
    )
    rows = conn.execute(
        """SELECT failed_at FROM dashboard_login_failures WHERE client = %s
           ORDER BY failed_at DESC LIMIT %s""",
        (client, max_failures),
    ).fetchall()
    if len(rows) < max_failures:
        return Throttle(blocked=False, retry_after_s=0)
    # blocked until the oldest of the last max_failures failures leaves the window
    oldest: datetime = rows[-1][0]
    row = conn.execute(
        "SELECT ceil(extract(epoch FROM %s + make_interval(secs => %s) - now()))::int", (oldest, window_s)
    ).fetchone()
    assert row is not None
    return Throttle(blocked=True, retry_after_s=max(1, int(row[0])))


def record_login_failure(conn: psycopg.Connection, *, client: str) -> None:
    """Count one failed sign-in of ``client``."""
    conn.execute("INSERT INTO dashboard_login_failures (client) VALUES (%s)", (client,))
