"""Read a farm's production record from the database, and store and read credit decisions.

:func:`read_farm_record` reads the stored inputs of a decision over ``[as_of - window_days, as_of)``
into :class:`credit.FarmRecord`: the daily verified herd (:func:`store.counts.daily_window_counts`), frame
hashes, daily sensor summaries (rounded to 4 decimals at this door, so the record hashes the same after a
round trip), per-device coverage (:mod:`store.coverage`), fields with the latest remote sensing estimate and
cooperative deliveries. The farm's loan history is computed by ``usecases.farm_records``.
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
from psycopg.rows import dict_row

from credit.audit import AuditEntry
from credit.canonical import canonical_json, sha256_hex
from credit.decision import Decision
from credit.money import Amount, D
from credit.policy import Policy
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
from store.audit import AUDIT_LOCK_ID, append_entry
from store.counts import CameraDay, daily_window_counts
from store.coverage import device_coverage
from store.crop_areas import field_crop_areas
from store.errors import StoreError
from vocabulary.metrics import GPS_METRICS
from vocabulary.species import SPECIES

log = logging.getLogger(__name__)

_Q4 = Decimal("0.0001")
_Q7 = Decimal("0.0000001")

__all__ = [
    "DecisionNotFoundError",
    "FarmNotFoundError",
    "PolicyConflictError",
    "StoredDecision",
    "decision_audit_payload",
    "latest_decisions",
    "load_decision",
    "read_farm_record",
    "record_decision",
    "register_policy",
]


class FarmNotFoundError(StoreError, LookupError):
    """No farm has the given id."""


class DecisionNotFoundError(StoreError, LookupError):
    """No credit decision has the given id."""


class PolicyConflictError(StoreError, ValueError):
    """A policy version is already stored with a different text."""


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored: the frozen record, the canonical output text, and the policy text."""

    decision_id: UUID
    farm_id: UUID
    record: FarmRecord
    output: str
    output_hash: str
    policy_text: str
    audit_seq: int


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
    """Per day and species: each camera's low median summed over the cameras (each sees different animals)."""
    days: dict[tuple[date, str], list[CameraDay]] = {}
    for c in cameras:
        if c.species in SPECIES:
            days.setdefault((c.day, c.species), []).append(c)
    return tuple(
        HerdDay(day, species, sum(c.head for c in seen), sum(c.frames for c in seen), cameras=len(seen))
        for (day, species), seen in days.items()
    )


def read_farm_record(
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
    from credit.errors import RecordError

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
    herd = _herd_days(daily_window_counts(conn=conn, farm_id=farm, start=start, end=as_of))
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
    )


def register_policy(conn: psycopg.Connection, *, policy: Policy) -> AuditEntry | None:
    """Store a policy version once (and audit it); return the new audit entry, or None if already stored.

    Raises:
        PolicyConflictError: the version is stored with a different text.
    """
    row = conn.execute("SELECT sha256 FROM credit_policies WHERE version = %s", (policy.version,)).fetchone()
    if row is None:
        # the audit log's lock, then look again: two first decisions at once must not both register it
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_ID,))
        row = conn.execute("SELECT sha256 FROM credit_policies WHERE version = %s", (policy.version,)).fetchone()
    if row is not None:
        if row[0] != policy.sha256:
            raise PolicyConflictError(
                f"policy version {policy.version!r} is already stored with another text; bump `version` in the file"
            )
        return None
    entry = append_entry(
        conn,
        kind="policy.registered",
        payload={"version": policy.version, "sha256": policy.sha256, "text": policy.text},
    )
    conn.execute(
        "INSERT INTO credit_policies (version, sha256, body) VALUES (%s, %s, %s)",
        (policy.version, policy.sha256, policy.text),
    )
    log.info("registered credit policy %s (%s)", policy.version, policy.sha256[:12])
    return entry


def decision_audit_payload(
    *, decision: Decision, record: FarmRecord, policy: Policy, output_hash: str
) -> dict[str, object]:
    """The payload of a decision's ``credit.decision`` audit entry (one decision, or a refresh batch's)."""
    return {
        "farm_id": record.farm_id,
        "as_of": record.as_of,
        "record_hash": decision.record_hash,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "output_hash": output_hash,
        "status": decision.status,
        "limit": decision.limit,
        "score": decision.score,
        "fraud_score": decision.fraud_score,
        "verification_score": decision.verification_score,
    }


def record_decision(
    conn: psycopg.Connection,
    *,
    decision: Decision,
    record: FarmRecord,
    policy: Policy,
    lender_organization_id: UUID | None = None,
) -> tuple[UUID, AuditEntry]:
    """Store a decision with its frozen record and an audit entry; return the decision id and the entry.

    ``lender_organization_id`` is the lender that asked for the decision: only it may open loans from it.

    Raises:
        StoreError: the decision does not belong to ``record`` or ``policy``.
        PolicyConflictError: the policy version is stored with a different text.
    """
    if decision.record_hash != record.record_hash() or decision.policy_sha256 != policy.sha256:
        raise StoreError("decision does not match the record or policy it is stored with; decide again")
    register_policy(conn, policy=policy)
    output = canonical_json(decision)
    output_hash = sha256_hex(output)  # = decision.output_hash(), without serialising twice
    entry = append_entry(
        conn,
        kind="credit.decision",
        payload=decision_audit_payload(decision=decision, record=record, policy=policy, output_hash=output_hash),
    )
    row = conn.execute(
        """INSERT INTO credit_decisions (farm_id, as_of, window_days, policy_version, record_hash, record, output,
               output_hash, status, limit_amount, currency, score, verification_score, fraud_score, audit_seq,
               lender_organization_id)
           VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            record.farm_id,
            record.as_of,
            record.window_days,
            policy.version,
            decision.record_hash,
            record.canonical,
            output,
            output_hash,
            decision.status,
            decision.limit.number,
            decision.limit.currency,
            decision.score,
            decision.verification_score,
            decision.fraud_score,
            entry.seq,
            lender_organization_id,
        ),
    ).fetchone()
    assert row is not None
    log.info(
        "recorded decision %s for farm %s: %s %s (audit %d)",
        row[0],
        record.farm_id,
        decision.status,
        decision.limit,
        entry.seq,
    )
    return row[0], entry


def load_decision(conn: psycopg.Connection, *, decision_id: UUID | str) -> StoredDecision:
    """A stored decision with its frozen record and policy text.

    Raises:
        DecisionNotFoundError: no decision has ``decision_id``.
    """
    row = conn.execute(
        """SELECT d.id, d.farm_id, d.record, d.output, d.output_hash, p.body, d.audit_seq
           FROM credit_decisions d JOIN credit_policies p ON p.version = d.policy_version WHERE d.id = %s""",
        (str(decision_id),),
    ).fetchone()
    if row is None:
        raise DecisionNotFoundError(f"decision_id={decision_id} does not exist")
    return StoredDecision(row[0], row[1], FarmRecord.from_plain(row[2]), row[3], row[4], row[5], row[6])


def latest_decisions(
    conn: psycopg.Connection, *, farm_ids: list[UUID], lender_organization_id: UUID
) -> list[dict[str, Any]]:
    """The lender's latest decision on each of ``farm_ids``, by farm name, with its stored output (a JSON text).

    Keys: id, farm, decided_at, status, limit, currency, score, verification, fraud, policy, output, audit_seq.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT * FROM (
                   SELECT DISTINCT ON (d.farm_id) d.id, f.name AS farm, d.decided_at, d.status,
                          d.limit_amount AS limit, rtrim(d.currency) AS currency, d.score,
                          d.verification_score AS verification, d.fraud_score AS fraud, d.policy_version AS policy,
                          d.output, d.audit_seq
                   FROM credit_decisions d JOIN farms f ON f.id = d.farm_id
                   WHERE d.farm_id = ANY(%s::uuid[]) AND d.lender_organization_id = %s
                   ORDER BY d.farm_id, d.decided_at DESC) latest
               ORDER BY farm, id""",
            ([str(f) for f in farm_ids], lender_organization_id),
        ).fetchall()
    return rows
