"""Read-only totals behind the API's ``/metrics``: credit decisions by status and open alerts."""

from __future__ import annotations

import psycopg


def credit_decision_counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many credit decisions there are of each status (``{"approved": n, ...}``)."""
    rows = conn.execute("SELECT status, count(*) FROM credit_decisions GROUP BY status ORDER BY status").fetchall()
    return {str(status): int(n) for status, n in rows}


def open_alert_count(conn: psycopg.Connection) -> int:
    """How many credit alerts are not resolved."""
    row = conn.execute("SELECT count(*) FROM credit_alerts WHERE resolved_at IS NULL").fetchone()
    return int(row[0]) if row else 0
