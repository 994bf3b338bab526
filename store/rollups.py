"""Daily rollups of sensor readings and livestock counts, kept exactly in the raw rows' transaction (issue #17).

``sensor_days`` holds per farm, device, metric and UTC day the readings' count, exact numeric sum and sum of
squares (over ``value::numeric``: float8 at 15 significant digits, as PostgreSQL casts it), min, max, the
last reading's time and, for GPS metrics only, every value. ``count_days`` holds per farm, device, camera
(``''`` for none), species and UTC day the rows (all, and those not ``declared``), the last row's time and
the histogram ``{head: frames}`` of the evidence rows (:data:`store.counts.EVIDENCE_METHODS`, not flagged
``recycled_photo``), with the histograms of those frames' interval ends (migration 0092): ``low_frames``
``{count_low: frames}`` and ``high_frames`` ``{count_high: frames}`` of the frames that carry an interval, an
unbounded upper end under :data:`UNBOUNDED`. Rows without a device are not rolled up.

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
    "UNBOUNDED",
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
UNBOUNDED = 2**31 - 1
"""An unbounded upper end (``count_high`` NULL) in ``high_frames``: above any stored count (``integer``'s largest)."""
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
    lows: Counter[int] = field(default_factory=Counter)
    highs: Counter[int] = field(default_factory=Counter)


def _histogram(counts: Counter[int]) -> str:
    return json.dumps({str(h): n for h, n in sorted(counts.items())})


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
            if r.count_low is not None:
                acc.lows[r.count_low] += 1
                acc.highs[UNBOUNDED if r.count_high is None else r.count_high] += 1
    if not days:
        return 0
    keys = sorted(days)
    conn.execute(
        """INSERT INTO count_days AS c (farm_id, day, device_id, camera_id, species, count_rows, counted_rows,
                                      last_time, head_frames, low_frames, high_frames)
           SELECT farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, heads::jsonb,
                  lows::jsonb, highs::jsonb
           FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bigint[],
                       %s::timestamptz[], %s::text[], %s::text[], %s::text[])
                AS b(farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, heads,
                     lows, highs)
           ON CONFLICT (farm_id, day, device_id, camera_id, species) DO UPDATE SET
               count_rows = c.count_rows + EXCLUDED.count_rows,
               counted_rows = c.counted_rows + EXCLUDED.counted_rows,
               last_time = greatest(c.last_time, EXCLUDED.last_time),
               head_frames = ft_histogram_add(c.head_frames, EXCLUDED.head_frames),
               low_frames = ft_histogram_add(c.low_frames, EXCLUDED.low_frames),
               high_frames = ft_histogram_add(c.high_frames, EXCLUDED.high_frames)""",
        (
            [k[0] for k in keys],
            [k[1] for k in keys],
            [k[2] for k in keys],
            [k[3] for k in keys],
            [k[4] for k in keys],
            [days[k].rows for k in keys],
            [days[k].counted for k in keys],
            [days[k].last_time for k in keys],
            [_histogram(days[k].heads) for k in keys],
            [_histogram(days[k].lows) for k in keys],
            [_histogram(days[k].highs) for k in keys],
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

    Columns: farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, head_frames,
    low_frames, high_frames. ``where`` may use ``%(evidence)s`` (bound to the evidence methods). Each row is
    seen three times (``kind`` h: its count, l: its lower end, u: its upper end or :data:`UNBOUNDED`) so one
    grouping gives the three histograms; the interval ones hold only evidence frames with an interval.
    """
    return f"""SELECT farm_id, day, device_id, camera_id, species,
                      sum(n) FILTER (WHERE kind = 'h')::bigint AS count_rows,
                      sum(counted) FILTER (WHERE kind = 'h')::bigint AS counted_rows, max(last_time) AS last_time,
                      {_histogram_sql("h", "head_frames")}, {_histogram_sql("l", "low_frames")},
                      {_histogram_sql("u", "high_frames")}
               FROM (SELECT c.farm_id, (c.time AT TIME ZONE 'UTC')::date AS day, c.device_id,
                            coalesce(c.camera_id, '') AS camera_id, c.species, v.kind, v.value, count(*) AS n,
                            count(*) FILTER (WHERE c.method <> 'declared') AS counted, max(c.time) AS last_time,
                            count(*) FILTER (WHERE c.method = ANY(%(evidence)s::text[])
                                             AND NOT ('{_RECYCLED}' = ANY(c.flags))
                                             AND (v.kind = 'h' OR c.count_low IS NOT NULL)) AS frames
                     FROM livestock_counts c
                     CROSS JOIN LATERAL (VALUES ('h', c.count), ('l', c.count_low),
                                                ('u', coalesce(c.count_high, {UNBOUNDED}))) v(kind, value)
                     WHERE c.device_id IS NOT NULL AND ({where})
                     GROUP BY 1, 2, 3, 4, 5, 6, 7) per_value
               GROUP BY 1, 2, 3, 4, 5"""


def _histogram_sql(kind: str, name: str) -> str:
    return (
        f"coalesce(jsonb_object_agg(value, frames) FILTER (WHERE kind = '{kind}' AND frames > 0), "
        f"'{{}}'::jsonb) AS {name}"
    )


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
