"""Read-only totals behind the API's ``/metrics``: credit decisions by status and open alerts."""

from __future__ import annotations

import psycopg

from store.loans import open_alert_counts


def credit_decision_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many credit decisions there are of each status (``{"approved": n, ...}``)."""
    rows = conn.execute("SELECT status, count(*) FROM credit_decisions GROUP BY status ORDER BY status").fetchall()
    return {str(status): int(n) for status, n in rows}


def open_alert_count(conn: psycopg.Connection) -> int:
    """How many credit alerts are not resolved (the open alerts of every farm)."""
    return sum(open_alert_counts(conn).values())
