"""Reads of a farm's sensor readings: daily summaries of one metric.

Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import psycopg
from psycopg.rows import class_row

__all__ = ["SensorDayRow", "sensor_days"]


@dataclass(frozen=True, kw_only=True)
class SensorDayRow:
    """One UTC day of one metric of a farm: mean, minimum, maximum and how many readings."""

    day: date
    mean: float
    min: float
    max: float
    readings: int


def sensor_days(conn: psycopg.Connection, *, farm_id: UUID | str, metric: str, days: int) -> list[SensorDayRow]:
    """Daily mean, minimum and maximum of ``metric`` over the last ``days`` (all devices of the farm), by day."""
    with conn.cursor(row_factory=class_row(SensorDayRow)) as cur:
        cur.execute(
            """SELECT (date_bin('1 day', time, '2000-01-01'::timestamptz) AT TIME ZONE 'UTC')::date AS day,
                      avg(value) AS mean, min(value) AS min, max(value) AS max, count(*) AS readings
               FROM sensor_readings WHERE farm_id = %s AND metric = %s AND time >= now() - make_interval(days => %s)
               GROUP BY 1 ORDER BY 1""",
            (farm_id, metric, days),
        )
        return cur.fetchall()
