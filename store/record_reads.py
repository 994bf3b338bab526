"""Read the credit records of many farms at once from the daily rollups: one query per table (issue #17).

:func:`read_farm_records` reads, for a batch of farms over ``[as_of - window_days, as_of)``: the farms,
the sensor and count rollups of the window (:mod:`store.rollup_reads`: whole days from the rollups, a
partial first or last day from the raw rows), the frames with a perceptual hash (a per-frame read, by
index), device coverage (:mod:`store.coverage`), fields with their latest estimate and deliveries.
Figures are computed from the rollups exactly as the raw rows' SQL aggregates give them: a daily mean
and population standard deviation from the exact numeric sums, rounded half away from zero to 4
decimals; a camera's daily head as the low median (``percentile_disc(0.5)``) of its histogram, and its
interval (issue #16) as the low medians of its frames' lower and upper ends when every frame has one; a
device's position as the median (``percentile_cont(0.5)``) of all its GPS values in the window, rounded
to 6 decimals. :func:`store.credit_records.read_farm_record` is this read for one farm.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from math import isqrt
from typing import Any
from uuid import UUID

import psycopg

from credit.errors import RecordError
from credit.money import Amount, D
from credit.record import (
    Delivery,
    DeviceCoverage,
    FarmRecord,
    FieldRecord,
    FrameSeen,
    NdviPoint,
    SensorDay,
)
from store.camera_days import camera_day, camera_intervals, herd_days
from store.coverage import DeviceCoverageRow, device_coverage
from store.crop_areas import FieldCropAreaRow, field_crop_areas
from store.errors import StoreError
from store.rollup_reads import CountDayRow, SensorDayRow, window_count_days, window_sensor_days
from store.rollups import as_numeric
from vocabulary.metrics import GPS_METRICS, Metric
from vocabulary.species import SPECIES

log = logging.getLogger(__name__)

__all__ = ["FarmNotFoundError", "read_farm_records"]

_Q4 = Decimal("0.0001")
_Q7 = Decimal("0.0000001")


class FarmNotFoundError(StoreError, LookupError):
    """No farm has the given id."""


def _round(numerator: int, denominator: int, places: int) -> Decimal:
    """``round(numerator / denominator, places)`` as PostgreSQL's numeric does it: half away from zero, no -0."""
    q, r = divmod(abs(numerator) * 10**places, abs(denominator))
    q += 2 * r >= abs(denominator)
    out = Decimal(q).scaleb(-places)
    return -out if q and (numerator < 0) != (denominator < 0) else out


def _round_sqrt(numerator: int, denominator: int, places: int) -> Decimal:
    """``round(sqrt(numerator / denominator), places)``, half up, in exact integer arithmetic (no double rounding)."""
    p, q = max(numerator, 0) * 10 ** (2 * places), denominator
    k = isqrt(p * q) // q  # floor(sqrt(p / q))
    k += 4 * p >= (2 * k + 1) ** 2 * q  # at or past the half: round up
    return Decimal(k).scaleb(-places)


def _sensor_day(row: SensorDayRow) -> SensorDay:
    """A day's summary from its exact sums: mean and population standard deviation rounded to 4 decimals.

    The sums are exact decimals, so the figures are computed as fractions of integers and rounded once.
    """
    n = row.readings
    a, b = row.value_sum.as_integer_ratio()  # sum = a / b
    c, d = row.value_sum_sq.as_integer_ratio()  # sum of squares = c / d
    # variance = sum_sq / n - (sum / n)^2 = (n c b^2 - a^2 d) / (d b^2 n^2)
    variance = (n * c * b * b - a * a * d, d * b * b * n * n)
    low, high = as_numeric(row.value_min).as_integer_ratio(), as_numeric(row.value_max).as_integer_ratio()
    return SensorDay(
        row.day,
        row.device_id,
        row.metric,
        n,
        _round(a, b * n, 4),
        _round(*low, 4),
        _round(*high, 4),
        _round_sqrt(*variance, 4),
    )


def _median(values: list[float]) -> Decimal | None:
    """``round(percentile_cont(0.5)::numeric, 6)`` of ``values``, in PostgreSQL's float arithmetic."""
    if not values:
        return None
    ordered = sorted(values)
    position = 0.5 * (len(ordered) - 1)
    low, high = ordered[math.floor(position)], ordered[math.ceil(position)]
    middle = low if low == high else low + ((position - math.floor(position)) * (high - low))
    return _round(*as_numeric(middle).as_integer_ratio(), 6)


@dataclass
class _Farm:
    """What the window's rollups say about one farm, gathered before its record is built."""

    sensors: list[SensorDay] = field(default_factory=list)
    days: dict[str, set[date]] = field(default_factory=dict)
    last: dict[str, datetime] = field(default_factory=dict)
    gps: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cameras: list[CountDayRow] = field(default_factory=list)
    unknown: Counter[str] = field(default_factory=Counter)

    def saw(self, device: str, day: date, last: datetime) -> None:
        self.days.setdefault(device, set()).add(day)
        self.last[device] = max(self.last.get(device, last), last)


def _gather(sensors: list[SensorDayRow], counts: list[CountDayRow], farms: list[str]) -> dict[str, _Farm]:
    out = {farm: _Farm() for farm in farms}
    for s in sensors:
        farm = out[str(s.farm_id)]
        farm.saw(s.device_id, s.day, s.last_time)
        if s.metric in GPS_METRICS:
            farm.gps.setdefault((s.device_id, s.metric), []).extend(s.gps_values or ())
        else:
            farm.sensors.append(_sensor_day(s))
    for c in counts:
        farm = out[str(c.farm_id)]
        assert c.last_time is not None
        farm.saw(c.device_id, c.day, c.last_time)
        if c.species not in SPECIES:
            farm.unknown[c.species] += c.counted_rows
        elif c.heads:
            farm.cameras.append(c)
    return out


def _devices(farm: _Farm, covered: list[DeviceCoverageRow], end: datetime) -> tuple[DeviceCoverage, ...]:
    out = []
    for c in covered:
        lat = _median(farm.gps.get((c.device_id, Metric.GPS_LAT_DEG.value), []))
        lon = _median(farm.gps.get((c.device_id, Metric.GPS_LON_DEG.value), []))
        seen = max((t for t in (c.last_seen_at, farm.last.get(c.device_id)) if t is not None), default=None)
        seen = min(seen, end) if seen is not None else None
        days = len(farm.days.get(c.device_id, ()))
        last_seen = seen.astimezone(UTC) if seen else None
        out.append(DeviceCoverage(c.device_id, c.status, c.messages, c.expected, c.missing, days, last_seen, lat, lon))
    return tuple(out)


def _ring(geometry: Any) -> tuple[tuple[Decimal, Decimal], ...]:
    geom = json.loads(geometry) if isinstance(geometry, str) else geometry
    coords = (geom or {}).get("coordinates") or []
    kind = (geom or {}).get("type")
    ring = coords[0] if kind == "Polygon" and coords else coords[0][0] if kind == "MultiPolygon" and coords else []
    return tuple((D(str(x)).quantize(_Q7), D(str(y)).quantize(_Q7)) for x, y, *_ in ring)


def _field(f: FieldCropAreaRow) -> FieldRecord:
    ndvi: tuple[NdviPoint, ...] = ()
    if f.estimated_at is not None:
        series = f.ndvi_series if isinstance(f.ndvi_series, list) else json.loads(f.ndvi_series or "[]")
        ndvi = tuple(
            NdviPoint(date.fromisoformat(p["date"]), D(str(p["ndvi"])).quantize(_Q4))
            for p in series
            if p.get("ndvi") is not None
        )
    return FieldRecord(
        str(f.field_id),
        f.declared_crop,
        f.declared_area_ha.quantize(_Q4) if f.declared_area_ha is not None else None,
        f.cropped_ha.quantize(_Q4) if f.cropped_ha is not None else None,
        int(f.clear_observations or 0),
        _ring(f.geometry),
        ndvi,
        tuple(sorted(f.flags or ())),
        grassland_ha=f.grassland_ha.quantize(_Q4) if f.grassland_ha is not None else None,
    )


def _farm_ids(farm_ids: Sequence[UUID | str]) -> list[str]:
    out = []
    for farm_id in farm_ids:
        try:
            out.append(str(UUID(str(farm_id))))
        except ValueError:
            raise FarmNotFoundError(f"farm_id={farm_id!r} is not a valid id; use the farm's UUID") from None
    return list(dict.fromkeys(out))


def read_farm_records(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str], as_of: datetime, window_days: int = 60
) -> dict[str, FarmRecord]:
    """The stored production records of ``farm_ids`` over ``[as_of - window_days, as_of)``, by farm id text.

    One query per table for the whole batch; no loan history (``usecases.farm_records`` adds it).
    Counts and declared head of a species outside :data:`vocabulary.species.SPECIES` (stored before
    ingest refused them) are left out of the record with a warning, so they cannot make the farm
    undecidable; the device's activity still counts for its coverage.

    Raises:
        FarmNotFoundError: an id is not a UUID or no farm has it.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.
    """
    if as_of.tzinfo is None:
        raise RecordError(f"as_of={as_of!r} has no time zone; pass a timezone-aware UTC datetime")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=window_days)
    farms = _farm_ids(farm_ids)
    if not farms:
        return {}
    rows = {
        str(r[0]): (r[1], r[2], r[3] or {})
        for r in conn.execute(
            """SELECT f.id, f.region, f.declared_herd,
                      (SELECT jsonb_object_agg(d.id, d.camera_profile) FROM devices d WHERE d.farm_id = f.id)
               FROM farms f WHERE f.id = ANY(%s::uuid[])""",
            (farms,),
        ).fetchall()
    }
    if missing := [f for f in farms if f not in rows]:
        raise FarmNotFoundError(
            f"farm_id={missing[0]} does not exist; list farms with the API or create it first"
            + (f" ({len(missing) - 1} more missing)" if len(missing) > 1 else "")
        )
    gathered = _gather(
        window_sensor_days(conn, farm_ids=farms, start=start, end=as_of),
        window_count_days(conn, farm_ids=farms, start=start, end=as_of),
        farms,
    )
    frames: dict[str, list[FrameSeen]] = {}
    for farm, t, dev, ph, sha in conn.execute(
        """SELECT farm_id, time, device_id, phash, frame_sha256 FROM livestock_counts
           WHERE farm_id = ANY(%s::uuid[]) AND time >= %s AND time < %s AND phash IS NOT NULL
             AND device_id IS NOT NULL""",
        (farms, start, as_of),
    ).fetchall():
        frames.setdefault(str(farm), []).append(FrameSeen(t.astimezone(UTC), dev, ph, sha))
    covered: dict[str, list[DeviceCoverageRow]] = {}
    for c in device_coverage(conn, farm_ids=farms, start=start, end=as_of, with_days=False):
        covered.setdefault(str(c.farm_id), []).append(c)
    fields: dict[str, list[FieldRecord]] = {}
    for f in field_crop_areas(conn, farm_ids=farms, estimated_before=as_of):
        fields.setdefault(str(f.farm_id), []).append(_field(f))
    deliveries: dict[str, list[Delivery]] = {}
    for farm, d, p, q, u, a, c in conn.execute(
        """SELECT farm_id, delivered_on, product, quantity, unit, amount, currency FROM coop_deliveries
           WHERE farm_id = ANY(%s::uuid[]) AND delivered_on >= %s AND delivered_on < %s""",
        (farms, start.date(), as_of.date()),
    ).fetchall():
        deliveries.setdefault(str(farm), []).append(
            Delivery(d, p, q.quantize(Decimal("0.001")), u, Amount(a.quantize(Decimal("0.01")), c.strip()))
        )
    return {
        farm: _record(
            farm,
            rows[farm],
            gathered[farm],
            as_of=as_of,
            window_days=window_days,
            frames=frames.get(farm, []),
            covered=covered.get(farm, []),
            fields=fields.get(farm, []),
            deliveries=deliveries.get(farm, []),
        )
        for farm in farms
    }


def _record(
    farm: str,
    row: tuple[str, dict[str, Any] | None, dict[str, str]],
    gathered: _Farm,
    *,
    as_of: datetime,
    window_days: int,
    frames: list[FrameSeen],
    covered: list[DeviceCoverageRow],
    fields: list[FieldRecord],
    deliveries: list[Delivery],
) -> FarmRecord:
    region, declared, profiles = row
    # a count is verified only from a device registered to the farm; its camera profile is the device's
    cameras = [camera_day(c, profiles[c.device_id]) for c in gathered.cameras if c.device_id in profiles]
    declared_herd = {str(k): int(v) for k, v in (declared or {}).items()}
    unknown = Counter({s: n for s, n in gathered.unknown.items() if n})
    for species in sorted(set(declared_herd) - set(SPECIES)):
        unknown[species] += 1
        del declared_herd[species]
    if unknown:
        log.warning(
            "farm %s: left out counts and declared head of unknown species %s (rows per species); known: %s",
            farm,
            dict(sorted(unknown.items())),
            ", ".join(SPECIES),
        )
    return FarmRecord(
        farm_id=farm,
        as_of=as_of,
        window_days=window_days,
        region=region,
        declared_herd=tuple(declared_herd.items()),
        herd_days=herd_days(cameras),
        frames=tuple(frames),
        sensor_days=tuple(gathered.sensors),
        devices=_devices(gathered, covered, as_of),
        fields=tuple(fields),
        deliveries=tuple(deliveries),
        camera_intervals=camera_intervals(cameras),
    )
