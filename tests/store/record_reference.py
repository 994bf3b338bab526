"""The credit record as read from the raw rows before issue #17: the reference the rollup read must equal.

This is ``store.credit_records.read_farm_record`` as it was on main at 91a8667, with issue #16's count
intervals (raw readings and counts aggregated per call, ``store.counts.daily_window_counts``), kept in the
tests only, verbatim but for the imports and its name.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from credit.count_intervals import CameraInterval
from credit.errors import RecordError
from credit.money import Amount, D
from credit.record import (
    Delivery,
    DeviceCoverage,
    FarmRecord,
    FieldRecord,
    FrameSeen,
    HerdDay,
    NdviPoint,
    SensorDay,
)
from store.counts import CameraDay, daily_window_counts
from store.coverage import device_coverage
from store.credit_records import FarmNotFoundError
from store.crop_areas import field_crop_areas
from vocabulary.metrics import GPS_METRICS
from vocabulary.species import SPECIES

log = logging.getLogger(__name__)

_Q4 = Decimal("0.0001")
_Q7 = Decimal("0.0000001")


def _ring(geometry: Any) -> tuple[tuple[Decimal, Decimal], ...]:
    geom = json.loads(geometry) if isinstance(geometry, str) else geometry
    coords = (geom or {}).get("coordinates") or []
    kind = (geom or {}).get("type")
    ring = coords[0] if kind == "Polygon" and coords else coords[0][0] if kind == "MultiPolygon" and coords else []
    return tuple((D(str(x)).quantize(_Q7), D(str(y)).quantize(_Q7)) for x, y, *_ in ring)


_GPS = GPS_METRICS


@dataclass
class _Activity:
    """What the window's sensor and count rows say about one device: days with data and the last row."""

    days: set[date]
    last: datetime | None = None
    has_gps: bool = False

    def saw(self, day: date, last: datetime) -> None:
        self.days.add(day)
        self.last = last if self.last is None else max(self.last, last)


def _devices(
    conn: psycopg.Connection,
    farm: str,
    start: datetime,
    end: datetime,
    activity: dict[str, _Activity],
) -> tuple[DeviceCoverage, ...]:
    # messages, expected and missing from the one coverage query; the days with data from this record's
    # own pass over the readings and counts (the same definition: a UTC day with a row of the device)
    covered = device_coverage(conn, farm_ids=[farm], start=start, end=end, with_days=False)
    positions: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    if any(a.has_gps for a in activity.values()):
        positions = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                """SELECT device_id,
                          round((percentile_cont(0.5) WITHIN GROUP (ORDER BY value)
                                 FILTER (WHERE metric = 'gps_lat_deg'))::numeric, 6),
                          round((percentile_cont(0.5) WITHIN GROUP (ORDER BY value)
                                 FILTER (WHERE metric = 'gps_lon_deg'))::numeric, 6)
                   FROM sensor_readings WHERE farm_id = %s AND time >= %s AND time < %s
                     AND metric IN ('gps_lat_deg', 'gps_lon_deg') GROUP BY device_id""",
                (farm, start, end),
            ).fetchall()
        }
    out = []
    for c in covered:
        # days with data, messages, expected and missing as defined once in store.coverage
        seen_data = activity.get(c.device_id, _Activity(set()))
        lat, lon = positions.get(c.device_id, (None, None))
        seen = max((t for t in (c.last_seen_at, seen_data.last) if t is not None), default=None)
        seen = min(seen, end) if seen is not None else None
        out.append(
            DeviceCoverage(
                c.device_id,
                c.status,
                c.messages,
                c.expected,
                c.missing,
                len(seen_data.days),
                seen.astimezone(UTC) if seen else None,
                lat,
                lon,
            )
        )
    return tuple(out)


def _fields(conn: psycopg.Connection, farm: str, end: datetime) -> tuple[FieldRecord, ...]:
    out = []
    # the latest estimate made before the record's as-of, read by the one latest-estimate query
    for f in field_crop_areas(conn, farm_ids=[farm], estimated_before=end):
        ndvi: tuple[NdviPoint, ...] = ()
        if f.estimated_at is not None:
            series = f.ndvi_series if isinstance(f.ndvi_series, list) else json.loads(f.ndvi_series or "[]")
            ndvi = tuple(
                NdviPoint(date.fromisoformat(p["date"]), D(str(p["ndvi"])).quantize(_Q4))
                for p in series
                if p.get("ndvi") is not None
            )
        out.append(
            FieldRecord(
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
        )
    return tuple(out)


def _herd_days(cameras: list[CameraDay]) -> tuple[HerdDay, ...]:
    """Per day and species: each camera's low median summed over the cameras (each sees different animals).

    The day's interval sums the cameras' intervals too: none when one of the cameras has none, unbounded
    above when one of them is.
    """
    days: dict[tuple[date, str], list[CameraDay]] = {}
    for c in cameras:
        if c.species in SPECIES:
            days.setdefault((c.day, c.species), []).append(c)
    out = []
    for (day, species), seen in days.items():
        whole = all(c.head_low is not None for c in seen)
        bounded = whole and all(c.head_high is not None for c in seen)
        out.append(
            HerdDay(
                day,
                species,
                sum(c.head for c in seen),
                sum(c.frames for c in seen),
                cameras=len(seen),
                head_low=sum(c.head_low or 0 for c in seen) if whole else None,
                head_high=sum(c.head_high or 0 for c in seen) if bounded else None,
            )
        )
    return tuple(out)


def _camera_intervals(cameras: list[CameraDay]) -> tuple[CameraInterval, ...] | None:
    """Per camera and species: its days with an interval, their head and widths summed (None: no camera had one).

    Days on which the camera saw none of the species are left out: a width per head needs a head (an
    aerial camera's 0-1 for the cattle it never sees says nothing about how well it counts sheep).
    """
    totals: dict[tuple[str, str, str, str], tuple[int, int, int, int]] = {}
    for c in cameras:
        if c.species in SPECIES and c.head_low is not None and c.head > 0:
            key = (c.device_id, c.camera_id, c.species, c.profile)
            days, head, width, unbounded = totals.get(key, (0, 0, 0, 0))
            if c.head_high is None:
                totals[key] = (days + 1, head, width, unbounded + 1)
            else:
                totals[key] = (days + 1, head + c.head, width + c.head_high - c.head_low, unbounded)
    return tuple(CameraInterval(*key, *sums) for key, sums in totals.items()) or None


def raw_farm_record(
    conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime, window_days: int = 60
) -> FarmRecord:
    """Read the stored production record of ``farm_id`` over ``[as_of - window_days, as_of)``, without loan history.

    Raises:
        FarmNotFoundError: no farm has ``farm_id``.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.

    Counts and declared head of a species outside :data:`vocabulary.species.SPECIES` (stored before
    ingest refused them) are left out of the record with a warning, so they cannot make the farm
    undecidable; the device's activity still counts for its coverage.
    """
    if as_of.tzinfo is None:
        raise RecordError(f"as_of={as_of!r} has no time zone; pass a timezone-aware UTC datetime")
    as_of = as_of.astimezone(UTC)
    start = as_of - timedelta(days=window_days)
    try:
        farm = str(UUID(str(farm_id)))
    except ValueError:
        raise FarmNotFoundError(f"farm_id={farm_id!r} is not a valid id; use the farm's UUID") from None
    row = conn.execute("SELECT region, declared_herd FROM farms WHERE id = %s", (farm,)).fetchone()
    if row is None:
        raise FarmNotFoundError(f"farm_id={farm_id} does not exist; list farms with the API or create it first")
    region, declared = row
    # one pass over each time-series table gives the daily summaries and each device's active days
    activity: dict[str, _Activity] = {}
    unknown: dict[str, int] = {}
    for day, species, device, counted, n, last in conn.execute(
        """SELECT (time AT TIME ZONE 'UTC')::date, species, device_id, method <> 'declared', count(*), max(time)
           FROM livestock_counts WHERE farm_id = %s AND time >= %s AND time < %s GROUP BY 1, 2, 3, 4""",
        (farm, start, as_of),
    ).fetchall():
        if device is None:
            continue
        activity.setdefault(device, _Activity(set())).saw(day, last)
        if counted and species not in SPECIES:
            unknown[species] = unknown.get(species, 0) + int(n)
    camera_days = daily_window_counts(conn=conn, farm_id=farm, start=start, end=as_of)
    herd = _herd_days(camera_days)
    frames = conn.execute(
        """SELECT time, device_id, phash, frame_sha256 FROM livestock_counts
           WHERE farm_id = %s AND time >= %s AND time < %s AND phash IS NOT NULL AND device_id IS NOT NULL""",
        (farm, start, as_of),
    ).fetchall()
    sensors = []
    for day, device, metric, n, mean, lo, hi, sd, last in conn.execute(
        """SELECT (time AT TIME ZONE 'UTC')::date, device_id, metric, count(*),
                  round(avg(value)::numeric, 4), round(min(value)::numeric, 4), round(max(value)::numeric, 4),
                  round(coalesce(stddev_pop(value), 0)::numeric, 4), max(time)
           FROM sensor_readings WHERE farm_id = %s AND time >= %s AND time < %s GROUP BY 1, 2, 3""",
        (farm, start, as_of),
    ).fetchall():
        seen = activity.setdefault(device, _Activity(set()))
        seen.saw(day, last)
        if metric in _GPS:
            seen.has_gps = True
        else:
            sensors.append(SensorDay(day, device, metric, int(n), mean, lo, hi, sd))
    declared_herd = {str(k): int(v) for k, v in (declared or {}).items()}
    for species in sorted(set(declared_herd) - set(SPECIES)):
        unknown[species] = unknown.get(species, 0) + 1
        del declared_herd[species]
    if unknown:
        log.warning(
            "farm %s: left out counts and declared head of unknown species %s (rows per species); known: %s",
            farm,
            dict(sorted(unknown.items())),
            ", ".join(SPECIES),
        )
    deliveries = conn.execute(
        """SELECT delivered_on, product, quantity, unit, amount, currency FROM coop_deliveries
           WHERE farm_id = %s AND delivered_on >= %s AND delivered_on < %s""",
        (farm, start.date(), as_of.date()),
    ).fetchall()
    return FarmRecord(
        farm_id=farm,
        as_of=as_of,
        window_days=window_days,
        region=region,
        declared_herd=tuple(declared_herd.items()),
        herd_days=herd,
        frames=tuple(FrameSeen(t.astimezone(UTC), dev, ph, sha) for t, dev, ph, sha in frames),
        sensor_days=tuple(sensors),
        devices=_devices(conn, farm, start, as_of, activity),
        fields=_fields(conn, farm, as_of),
        deliveries=tuple(
            Delivery(d, p, q.quantize(Decimal("0.001")), u, Amount(a.quantize(Decimal("0.01")), c.strip()))
            for d, p, q, u, a, c in deliveries
        ),
        camera_intervals=_camera_intervals(camera_days),
    )
