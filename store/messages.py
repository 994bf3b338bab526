"""Reads of ``ingest_messages``: how many signed messages ingest has stored (exactly once each)."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

__all__ = ["count_messages"]


def count_messages(
    conn: psycopg.Connection, *, device_ids: Sequence[str], exclude_kinds: Sequence[str] = ("status",)
) -> int:
    """How many messages of ``device_ids`` are stored, leaving out the kinds in ``exclude_kinds``."""
    row = conn.execute(
        "SELECT count(*) FROM ingest_messages WHERE device_id = ANY(%s) AND NOT (kind = ANY(%s))",
        (list(device_ids), list(exclude_kinds)),
    ).fetchone()
    return int(row[0]) if row else 0
