"""Daily rollups of sensor readings and livestock counts, kept exactly in the raw rows' transaction (issue #17).

``sensor_days`` holds per farm, device, metric and UTC day the readings' count, exact numeric sum and sum of
squares (over ``value::numeric``: float8 at 15 significant digits, as PostgreSQL casts it), min, max, the
last reading's time and, for GPS metrics only, every value. ``count_days`` holds per farm, device, camera
(``''`` for none), species and UTC day the rows (all, and those not ``declared``), the last row's time and
the histogram ``{head: frames}`` of the evidence rows (:data:`store.counts.EVIDENCE_METHODS`, not flagged
``recycled_photo``). Rows without a device are not rolled up.

:func:`store.ingest_copy.copy_readings` and :func:`store.counts.write_counts`, the only writers of raw rows,
call :func:`add_reading_days` / :func:`add_count_days` with exactly the rows they inserted (ingest writes
only messages new to its ledger, so a duplicate adds nothing). Each call is one ``INSERT ... ON CONFLICT DO
UPDATE`` of the batch's aggregated rows in key order, so concurrent writers serialise on the day's row and
cannot deadlock. :func:`rebuild_daily_rollups` recomputes a farm's rollups from its raw rows (for rows
written by hand, e.g. a data repair). Retention drops raw rows only: the rollups outlive them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Context, Decimal, Inexact, localcontext
from typing import TYPE_CHECKING
from uuid import UUID

import psycopg

from vocabulary.metrics import GPS_METRICS

if TYPE_CHECKING:
    from edge.protocol import TelemetryMessage
    from store.counts import CountRow

__all__ = [
    "EVIDENCE_METHODS",
    "EXACT",
    "add_count_days",
    "add_reading_days",
    "as_numeric",
    "count_days_sql",
    "rebuild_daily_rollups",
    "sensor_days_sql",
]

EXACT = Context(prec=120, traps=[Inexact])
"""Decimal arithmetic that raises rather than rounds (sums of 15-digit values stay far below 120 digits)."""
EVIDENCE_METHODS = ("snapshot", "edge_snapshot")
"""Count methods that are one frame's count (a ``window`` row is derived, a ``declared`` one is hearsay)."""
_RECYCLED = "recycled_photo"


def as_numeric(value: float) -> Decimal:
    """``value::numeric`` as PostgreSQL computes it: the float at 15 significant digits (``%.15g``)."""
    return Decimal(format(value, ".15g"))


@dataclass
class _SensorDay:
    readings: int = 0
    values: list[float] = field(default_factory=list)
    last_time: datetime | None = None


def add_reading_days(conn: psycopg.Connection, messages: Iterable[TelemetryMessage]) -> int:
    """Add the readings of ``messages`` (just inserted) to ``sensor_days``; return the rollup rows touched."""
    days: dict[tuple[UUID, date, str, str], _SensorDay] = {}
    for m in messages:
        for r in m.body.readings:
            t = r.time.astimezone(UTC)
            acc = days.get(key := (m.farm_id, t.date(), m.device_id, r.metric))
            if acc is None:
                acc = days[key] = _SensorDay()
            acc.values.append(r.value)
            acc.last_time = t if acc.last_time is None or t > acc.last_time else acc.last_time
    if not days:
        return 0
    keys = sorted(days)
    sums, squares = [], []
    exact: dict[float, tuple[Decimal, Decimal]] = {}  # sensors repeat values: convert each distinct one once
    with localcontext(EXACT):
        for k in keys:
            total, total_sq = Decimal(0), Decimal(0)
            for v in days[k].values:
                x = exact.get(v)
                if x is None:
                    d = as_numeric(v)
                    x = exact[v] = (d, d * d)
                total += x[0]
                total_sq += x[1]
            sums.append(total)
            squares.append(total_sq)
    conn.execute(
        """INSERT INTO sensor_days AS s (farm_id, day, device_id, metric, readings, value_sum, value_sum_sq,
                                       value_min, value_max, last_time, gps_values)
           SELECT farm_id, day, device_id, metric, readings, value_sum, value_sum_sq, value_min, value_max,
                  last_time, gps::double precision[]
           FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::text[], %s::bigint[], %s::numeric[], %s::numeric[],
                       %s::float8[], %s::float8[], %s::timestamptz[], %s::text[])
                AS b(farm_id, day, device_id, metric, readings, value_sum, value_sum_sq, value_min, value_max,
                     last_time, gps)
           ON CONFLICT (farm_id, day, device_id, metric) DO UPDATE SET
               readings = s.readings + EXCLUDED.readings,
               value_sum = s.value_sum + EXCLUDED.value_sum,
               value_sum_sq = s.value_sum_sq + EXCLUDED.value_sum_sq,
               value_min = least(s.value_min, EXCLUDED.value_min),
               value_max = greatest(s.value_max, EXCLUDED.value_max),
               last_time = greatest(s.last_time, EXCLUDED.last_time),
               gps_values = CASE WHEN EXCLUDED.gps_values IS NULL THEN s.gps_values
                                 ELSE coalesce(s.gps_values, '{}') || EXCLUDED.gps_values END""",
        (
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [k[3] for k in keys],
            [len(days[k].values) for k in keys],
            sums,
            squares,
            [min(days[k].values) for k in keys],
            [max(days[k].values) for k in keys],
            [days[k].last_time for k in keys],
            # repr() is the shortest text that parses back to the same double
            ["{" + ",".join(map(repr, days[k].values)) + "}" if k[3] in GPS_METRICS else None for k in keys],
        ),
    )
    return len(keys)


@dataclass
class _CountDay:
    rows: int = 0
    counted: int = 0
    last_time: datetime | None = None
    heads: Counter[int] = field(default_factory=Counter)


def add_count_days(conn: psycopg.Connection, rows: Sequence[CountRow]) -> int:
    """Add count ``rows`` (just inserted) to ``count_days``; return the rollup rows touched."""
    days: dict[tuple[UUID, date, str, str, str], _CountDay] = {}
    for r in rows:
        if r.device_id is None:
            continue
        t = r.time.astimezone(UTC)
        acc = days.setdefault((UUID(str(r.farm_id)), t.date(), r.device_id, r.camera_id or "", r.species), _CountDay())
        acc.rows += 1
        acc.counted += r.method != "declared"
        acc.last_time = t if acc.last_time is None or t > acc.last_time else acc.last_time
        if r.method in EVIDENCE_METHODS and _RECYCLED not in r.flags:
            acc.heads[r.count] += 1
    if not days:
        return 0
    keys = sorted(days)
    conn.execute(
        """INSERT INTO count_days AS c (farm_id, day, device_id, camera_id, species, count_rows, counted_rows,
                                      last_time, head_frames)
           SELECT farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, heads::jsonb
           FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
                       %s::timestamptz[], %s::text[])
                AS b(farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, heads)
           ON CONFLICT (farm_id, day, device_id, camera_id, species) DO UPDATE SET
               count_rows = c.count_rows + EXCLUDED.count_rows,
               counted_rows = c.counted_rows + EXCLUDED.counted_rows,
               last_time = greatest(c.last_time, EXCLUDED.last_time),
               head_frames = ft_histogram_add(c.head_frames, EXCLUDED.head_frames)""",
        (
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [k[3] for k in keys],
            [k[4] for k in keys],
            [days[k].rows for k in keys],
            [days[k].counted for k in keys],
            [days[k].last_time for k in keys],
            [json.dumps({str(h): n for h, n in sorted(days[k].heads.items())}) for k in keys],
        ),
    )
    return len(keys)


def sensor_days_sql(where: str) -> str:
    """A SELECT of ``sensor_days``-shaped rows aggregated from the ``sensor_readings`` rows that match ``where``.

    Columns: farm_id, day, device_id, metric, readings, value_sum, value_sum_sq, value_min, value_max,
    last_time, gps_values. ``where`` may use ``%(gps)s`` (bound to :data:`vocabulary.metrics.GPS_METRICS`).
    """
    return f"""SELECT farm_id, (time AT TIME ZONE 'UTC')::date AS day, device_id, metric, count(*) AS readings,
                      sum(value::numeric) AS value_sum, sum(value::numeric * value::numeric) AS value_sum_sq,
                      min(value) AS value_min, max(value) AS value_max, max(time) AS last_time,
                      CASE WHEN metric = ANY(%(gps)s::text[]) THEN array_agg(value) END AS gps_values
               FROM sensor_readings WHERE {where} GROUP BY 1, 2, 3, 4"""


def count_days_sql(where: str) -> str:
    """A SELECT of ``count_days``-shaped rows aggregated from the ``livestock_counts`` rows ``c`` matching ``where``.

    Columns: farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, head_frames.
    ``where`` may use ``%(evidence)s`` (bound to the evidence methods).
    """
    return f"""SELECT farm_id, day, device_id, camera_id, species, sum(n)::bigint AS count_rows,
                      sum(counted)::bigint AS counted_rows, max(last_time) AS last_time,
                      coalesce(jsonb_object_agg(count, frames) FILTER (WHERE frames > 0), '{{}}'::jsonb) AS head_frames
               FROM (SELECT c.farm_id, (c.time AT TIME ZONE 'UTC')::date AS day, c.device_id,
                            coalesce(c.camera_id, '') AS camera_id, c.species, c.count, count(*) AS n,
                            count(*) FILTER (WHERE c.method <> 'declared') AS counted, max(c.time) AS last_time,
                            count(*) FILTER (WHERE c.method = ANY(%(evidence)s::text[])
                                             AND NOT ('{_RECYCLED}' = ANY(c.flags))) AS frames
                     FROM livestock_counts c WHERE c.device_id IS NOT NULL AND ({where})
                     GROUP BY 1, 2, 3, 4, 5, 6) per_head
               GROUP BY 1, 2, 3, 4, 5"""


def rebuild_daily_rollups(conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str]) -> tuple[int, int]:
    """Recompute the rollups of ``farm_ids`` from their raw rows; return the sensor and count rollup rows.

    For raw rows written around the store's writers (a data repair, a test fixture); takes the farms' rows
    of both tables, so run it where no writer adds rows to these farms at the same time.
    """
    params = {"farms": [str(f) for f in farm_ids], "gps": list(GPS_METRICS), "evidence": list(EVIDENCE_METHODS)}
    conn.execute("DELETE FROM sensor_days WHERE farm_id = ANY(%(farms)s::uuid[])", params)
    conn.execute("DELETE FROM count_days WHERE farm_id = ANY(%(farms)s::uuid[])", params)
    sensors = conn.execute(
        "INSERT INTO sensor_days " + sensor_days_sql("farm_id = ANY(%(farms)s::uuid[])"), params
    ).rowcount
    counts = conn.execute(
        "INSERT INTO count_days " + count_days_sql("c.farm_id = ANY(%(farms)s::uuid[])"), params
    ).rowcount
    return sensors, counts
