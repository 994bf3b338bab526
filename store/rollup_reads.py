"""Read a window of the daily rollups for many farms at once, one query per rollup table (issue #17).

A window ``[start, end)`` is read as its whole UTC days from ``sensor_days`` / ``count_days`` and, when
``start`` or ``end`` is not midnight, its partial first and last day from the raw rows, aggregated the
same way (:func:`store.rollups.sensor_days_sql`, :func:`store.rollups.count_days_sql`): the result is
what aggregating the window's raw rows gives. The counts of frames the vision worker quarantined (a frame
status, which may change after its counts were rolled up) are read from the raw rows and taken out of the
histograms. Functions never commit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from store.rollups import EVIDENCE_METHODS, count_days_sql, sensor_days_sql
from vocabulary.metrics import GPS_METRICS

__all__ = [
    "CountDayRow",
    "SensorDayRow",
    "count_window_query",
    "sensor_window_query",
    "window_count_days",
    "window_sensor_days",
]


@dataclass(frozen=True, kw_only=True)
class SensorDayRow:
    """One farm's device and metric on one UTC day of the window (see :mod:`store.rollups`)."""

    farm_id: UUID
    day: date
    device_id: str
    metric: str
    readings: int
    value_sum: Decimal
    value_sum_sq: Decimal
    value_min: float
    value_max: float
    last_time: datetime
    gps_values: list[float] | None


@dataclass(kw_only=True)
class CountDayRow:
    """One farm's device, camera and species on one UTC day of the window; ``heads`` is ``{head: frames}``.

    The three histograms hold the same evidence frames (recycled and quarantined ones left out).
    """

    farm_id: UUID
    day: date
    device_id: str
    camera_id: str
    species: str
    count_rows: int = 0
    counted_rows: int = 0
    last_time: datetime | None = None
    heads: Counter[int] = field(default_factory=Counter)
    lows: Counter[int] = field(default_factory=Counter)
    """``{count_low: frames}`` of the evidence frames with an interval (all of them when its total is ``heads``')."""
    highs: Counter[int] = field(default_factory=Counter)
    """``{count_high: frames}`` of the same frames, an unbounded end under :data:`store.rollups.UNBOUNDED`."""


def _split(start: datetime, end: datetime) -> dict[str, object]:
    """The window's whole days ``[d0, d1)`` and its partial edges ``[s0, e0)`` and ``[s1, e1)`` (maybe empty)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")
    first = datetime.combine(start.date(), time(), UTC)
    first = first if first == start else first + timedelta(days=1)
    last = datetime.combine(end.date(), time(), UTC)
    if last < first:  # no whole day: the window is one raw range
        return {"d0": first.date(), "d1": first.date(), "s0": start, "e0": end, "s1": end, "e1": end}
    return {"d0": first.date(), "d1": last.date(), "s0": start, "e0": first, "s1": last, "e1": end}


def sensor_window_query(
    *, farm_ids: Sequence[UUID | str], start: datetime, end: datetime
) -> tuple[str, dict[str, object]]:
    """The query of :func:`window_sensor_days` and its parameters (``bench.portfolio_refresh`` times it alone)."""
    params = {**_split(start, end), "farms": [str(f) for f in farm_ids], "gps": list(GPS_METRICS)}
    raw = "farm_id = ANY(%(farms)s::uuid[]) AND time >= %(s{0})s AND time < %(e{0})s"
    query = f"""SELECT farm_id, day, device_id, metric, readings, value_sum, value_sum_sq, value_min, value_max,
                       last_time, gps_values
                FROM sensor_days WHERE farm_id = ANY(%(farms)s::uuid[]) AND day >= %(d0)s AND day < %(d1)s
                UNION ALL {sensor_days_sql(raw.format(0))}
                UNION ALL {sensor_days_sql(raw.format(1))}"""
    return query, params


def window_sensor_days(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str], start: datetime, end: datetime
) -> list[SensorDayRow]:
    """Per farm, UTC day, device and metric over ``[start, end)``: the readings' exact daily aggregates.

    Raises:
        ValueError: the window is empty or reversed.
    """
    query, params = sensor_window_query(farm_ids=farm_ids, start=start, end=end)
    with conn.cursor(row_factory=class_row(SensorDayRow)) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def count_window_query(
    *, farm_ids: Sequence[UUID | str], start: datetime, end: datetime
) -> tuple[str, dict[str, object]]:
    """The query of :func:`window_count_days` and its parameters (``bench.portfolio_refresh`` times it alone).

    Its first column is true on the rows to take out (the counts of quarantined frames).
    """
    params = {
        **_split(start, end),
        "farms": [str(f) for f in farm_ids],
        "evidence": list(EVIDENCE_METHODS),
        "start": start,
        "end": end,
    }
    raw = "c.farm_id = ANY(%(farms)s::uuid[]) AND c.time >= %(s{0})s AND c.time < %(e{0})s"
    quarantined = (
        "c.farm_id = ANY(%(farms)s::uuid[]) AND c.time >= %(start)s AND c.time < %(end)s "
        "AND (c.farm_id, c.frame_sha256) IN (SELECT farm_id, sha256 FROM frames "
        "WHERE status = 'quarantined' AND farm_id = ANY(%(farms)s::uuid[]))"
    )
    query = f"""SELECT false, farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time,
                       head_frames, low_frames, high_frames
                FROM count_days WHERE farm_id = ANY(%(farms)s::uuid[]) AND day >= %(d0)s AND day < %(d1)s
                UNION ALL SELECT false, * FROM ({count_days_sql(raw.format(0))}) e0
                UNION ALL SELECT false, * FROM ({count_days_sql(raw.format(1))}) e1
                UNION ALL SELECT true, * FROM ({count_days_sql(quarantined)}) q"""
    return query, params


def window_count_days(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str], start: datetime, end: datetime
) -> list[CountDayRow]:
    """Per farm, UTC day, device, camera and species over ``[start, end)``: rows, last time, head histogram.

    The histogram leaves out frames flagged ``recycled_photo`` and frames the vision worker quarantined;
    rows without a device are not read. Unordered.

    Raises:
        ValueError: the window is empty or reversed.
    """
    query, params = count_window_query(farm_ids=farm_ids, start=start, end=end)
    merged: dict[tuple[UUID, date, str, str, str], CountDayRow] = {}
    subtracted: list[CountDayRow] = []
    with conn.cursor() as cur:
        cur.execute(query, params)
        for taken_out, farm, day, device, camera, species, rows, counted, last, heads, lows, highs in cur.fetchall():
            row = merged.get(key := (farm, day, device, camera, species))
            if row is None:
                row = merged[key] = CountDayRow(
                    farm_id=farm, day=day, device_id=device, camera_id=camera, species=species
                )
            if taken_out:
                subtracted.append(row)
                row.heads.subtract({int(h): int(n) for h, n in heads.items()})
                row.lows.subtract({int(h): int(n) for h, n in lows.items()})
                row.highs.subtract({int(h): int(n) for h, n in highs.items()})
                continue
            row.count_rows += int(rows)
            row.counted_rows += int(counted)
            row.last_time = last if row.last_time is None else max(row.last_time, last)
            row.heads.update({int(h): int(n) for h, n in heads.items()})
            row.lows.update({int(h): int(n) for h, n in lows.items()})
            row.highs.update({int(h): int(n) for h, n in highs.items()})
    for row in subtracted:  # the stored histograms hold positive counts only: only these can drop to 0 or below
        row.heads = Counter({h: n for h, n in row.heads.items() if n > 0})
        row.lows = Counter({h: n for h, n in row.lows.items() if n > 0})
        row.highs = Counter({h: n for h, n in row.highs.items() if n > 0})
    return [r for r in merged.values() if r.count_rows > 0]
