"""store.sessions on the real PostgreSQL: the throttle's window and Retry-After, and how a session is kept."""

from __future__ import annotations

import hashlib

from store.sessions import Lifetime, login_throttle, resume_session, start_session
from store.tenants import create_api_key, create_organization

LIFE = Lifetime(idle_s=600, absolute_s=3600)


def _fail(conn, client: str, *seconds_ago: int) -> None:
    for ago in seconds_ago:
        conn.execute(
            "INSERT INTO dashboard_login_failures (client, failed_at) VALUES (%s, now() - make_interval(secs => %s))",
            (client, ago),
        )


def test_a_client_is_blocked_until_its_oldest_counted_failure_leaves_the_window(conn):
    # now() is fixed within the transaction: failures 100, 50 and 10 s ago, a window of 120 s, at most 3:
    # blocked until the one of 100 s ago is 120 s old, i.e. for 20 more seconds
    _fail(conn, "192.0.2.1", 100, 50, 10)
    throttle = login_throttle(conn, client="192.0.2.1", max_failures=3, window_s=120)
    assert throttle.blocked and throttle.retry_after_s == 20
    # only the last 3 count: a fourth, older failure does not make the wait longer
    _fail(conn, "192.0.2.2", 110, 100, 50, 10)
    assert login_throttle(conn, client="192.0.2.2", max_failures=3, window_s=120).retry_after_s == 20


def test_failures_outside_the_window_or_of_another_client_do_not_count(conn):
    _fail(conn, "192.0.2.3", 130, 125, 10)
    _fail(conn, "192.0.2.4", 5, 4, 3)
    throttle = login_throttle(conn, client="192.0.2.3", max_failures=3, window_s=120)
    assert not throttle.blocked and throttle.retry_after_s == 0
    left = conn.execute("SELECT count(*) FROM dashboard_login_failures WHERE client = '192.0.2.3'").fetchone()[0]
    assert left == 1  # the two stale rows were deleted on the way


def test_a_session_stores_only_the_hash_of_its_token(conn):
    org = create_organization(conn, kind="cooperative", name="Session coop")
    key_id, _key = create_api_key(conn, organization_id=org)
    token = start_session(conn, key_id=key_id, client="192.0.2.9", lifetime=LIFE)
    [(stored,)] = conn.execute("SELECT token_hash FROM dashboard_sessions WHERE api_key_id = %s", (key_id,)).fetchall()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    principal = resume_session(conn, token=token, lifetime=LIFE)
    assert principal is not None and principal.organization_id == org and principal.key_id == key_id
    assert resume_session(conn, token=stored, lifetime=LIFE) is None  # the stored hash is no token
