"""Device coverage: the one definition of how well a device's data covers a window (issue #13).

For each device of the given farms, over the window ``[start, end)``:

- **a day with data** is a UTC calendar day on which the device stored at least one sensor reading
  or livestock count of its farm (``days``, sorted);
- **messages** are the device's stored ingest messages whose device time falls in the window;
- **expected** is, summed over the device's key epochs (sequence numbers restart at 0 with each new
  key), ``highest seq - lowest seq + 1`` of the window's messages of that epoch;
- **missing** is the larger of ``expected - messages`` and the open sequence gaps that ingest
  recorded inside those spans (a gap ingest has not closed yet counts even when no later message
  arrived in the window).

The API's coverage route, the dashboard's member overview and device table, and the credit record
(:func:`store.credit_records.read_farm_record`) all read it here. Functions never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

__all__ = ["DeviceCoverageRow", "device_coverage"]


@dataclass(frozen=True, kw_only=True)
class DeviceCoverageRow:
    """How well one device's data covers a window (see the module's definition)."""

    device_id: str
    farm_id: UUID
    status: str
    last_seen_at: datetime | None
    days: list[date]
    messages: int
    expected: int
    missing: int


def device_coverage(
    conn: psycopg.Connection,
    *,
    farm_ids: Sequence[UUID | str],
    start: datetime,
    end: datetime,
    with_days: bool = True,
) -> list[DeviceCoverageRow]:
    """Coverage of every device of ``farm_ids`` over ``[start, end)``, by farm then device id.

    ``with_days=False`` leaves ``days`` empty and skips the scan of the time series: for a caller that
    has just read the window's readings and counts itself and takes the days from them (the credit record).
    """
    query = _COVERAGE.replace("{active}", _DAYS if with_days else _NO_DAYS)
    with conn.cursor(row_factory=class_row(DeviceCoverageRow)) as cur:
        cur.execute(query, {"farms": [str(f) for f in farm_ids], "start": start, "end": end})
        return cur.fetchall()


# Each time series is filtered by farm in its own scan (not through a join with the devices), so the
# (farm_id, ..., time) indexes and chunk exclusion apply: a join scanned every farm's rows of the window.
_DAYS = """
    active AS (
        SELECT farm_id, device_id, array_agg(DISTINCT day ORDER BY day) AS days FROM (
            SELECT r.farm_id, r.device_id, (r.time AT TIME ZONE 'UTC')::date AS day
            FROM sensor_readings r
            WHERE r.farm_id = ANY(%(farms)s::uuid[]) AND r.time >= %(start)s AND r.time < %(end)s
            UNION ALL
            SELECT c.farm_id, c.device_id, (c.time AT TIME ZONE 'UTC')::date
            FROM livestock_counts c
            WHERE c.farm_id = ANY(%(farms)s::uuid[]) AND c.time >= %(start)s AND c.time < %(end)s
        ) seen
        GROUP BY farm_id, device_id)"""

_NO_DAYS = """
    active AS (SELECT NULL::uuid AS farm_id, NULL::text AS device_id, NULL::date[] AS days WHERE false)"""

_COVERAGE = """
    WITH d AS (SELECT id, farm_id, status, last_seen_at FROM devices WHERE farm_id = ANY(%(farms)s::uuid[])),
    spans AS (
        SELECT m.device_id, m.key_epoch, count(*) AS n, min(m.seq) AS lo, max(m.seq) AS hi
        FROM ingest_messages m JOIN d ON d.id = m.device_id AND d.farm_id = m.farm_id
        WHERE m.farm_id = ANY(%(farms)s::uuid[]) AND m.device_time >= %(start)s AND m.device_time < %(end)s
        GROUP BY m.device_id, m.key_epoch),
    gaps AS (
        SELECT s.device_id, sum(least(g.seq_to, s.hi) - greatest(g.seq_from, s.lo) + 1) AS n
        FROM spans s JOIN device_gaps g ON g.device_id = s.device_id AND g.key_epoch = s.key_epoch
             AND g.seq_to >= s.lo AND g.seq_from <= s.hi
        WHERE g.closed_at IS NULL GROUP BY s.device_id),
    totals AS (
        SELECT device_id, sum(n) AS messages, sum(hi - lo + 1) AS expected FROM spans GROUP BY device_id),
    {active}
    SELECT d.id AS device_id, d.farm_id, d.status, d.last_seen_at,
           coalesce(a.days, '{}'::date[]) AS days,
           coalesce(t.messages, 0)::bigint AS messages, coalesce(t.expected, 0)::bigint AS expected,
           greatest(coalesce(t.expected, 0) - coalesce(t.messages, 0), coalesce(g.n, 0))::bigint AS missing
    FROM d LEFT JOIN totals t ON t.device_id = d.id LEFT JOIN gaps g ON g.device_id = d.id
           LEFT JOIN active a ON a.device_id = d.id AND a.farm_id = d.farm_id
    ORDER BY d.farm_id, d.id
"""
