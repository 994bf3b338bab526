"""What the dashboard pages show, read straight from the store for one organization.

Every query is scoped by the organization that signed in: a cooperative sees its member farms, a
lender sees farms that granted it consent still valid, and nothing else (another tenant's farm
simply does not exist for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from api.dashboard.svg import MapField, Series


@dataclass(frozen=True)
class MemberRow:
    """One member farm on the cooperative's overview."""

    farm_id: UUID
    name: str
    declared_herd: dict[str, int]
    latest_counts: dict[str, int]
    devices: int
    devices_silent: int
    coverage_days: int
    open_alerts: int


def member_farms(conn: psycopg.Connection, *, cooperative_id: UUID, days: int = 60) -> list[MemberRow]:
    """The cooperative's member farms with herd, device health, data coverage and open alerts."""
    rows = conn.execute(
        """
        SELECT f.id, f.name, f.declared_herd,
          (SELECT coalesce(jsonb_object_agg(species, n), '{}'::jsonb) FROM (
              SELECT DISTINCT ON (species) species, count AS n FROM livestock_counts lc
              WHERE lc.farm_id = f.id ORDER BY species, time DESC) latest),
          (SELECT count(*) FROM devices d WHERE d.farm_id = f.id AND d.status = 'active'),
          (SELECT count(*) FROM devices d WHERE d.farm_id = f.id AND d.status = 'active'
              AND (d.last_seen_at IS NULL OR d.last_seen_at < now() - interval '48 hours')),
          (SELECT count(DISTINCT date_bin('1 day', time, '2000-01-01'::timestamptz)) FROM sensor_readings sr
              WHERE sr.farm_id = f.id AND sr.time >= now() - make_interval(days => %(days)s)),
          (SELECT count(*) FROM credit_alerts a WHERE a.farm_id = f.id AND a.resolved_at IS NULL)
        FROM farms f WHERE f.cooperative_id = %(coop)s ORDER BY f.name
        """,
        {"coop": cooperative_id, "days": days},
    ).fetchall()
    return [MemberRow(r[0], r[1], r[2] or {}, r[3] or {}, r[4], r[5], r[6], r[7]) for r in rows]


def herd_series(conn: psycopg.Connection, *, farm_id: UUID, days: int = 90) -> list[Series]:
    """Daily maximum head count per species over the last ``days`` (time-bucketed on the hypertable index)."""
    rows = conn.execute(
        """SELECT species, date_bin('1 day', time, '2000-01-01'::timestamptz) AS day, max(count)
           FROM livestock_counts WHERE farm_id = %s AND time >= now() - make_interval(days => %s)
           GROUP BY species, day ORDER BY species, day""",
        (farm_id, days),
    ).fetchall()
    by_species: dict[str, list[tuple[date, float]]] = {}
    for species, day, n in rows:
        by_species.setdefault(species, []).append((day.date(), float(n)))
    return [Series(species, points) for species, points in sorted(by_species.items())]


@dataclass(frozen=True)
class EvidenceRow:
    """A counted frame with its evidence thumbnail."""

    time: datetime
    species: str
    count: int
    device_id: str | None
    frame_sha256: str | None
    evidence_path: str | None


def evidence(conn: psycopg.Connection, *, farm_id: UUID, limit: int = 12) -> list[EvidenceRow]:
    """The latest counts that carry an evidence thumbnail."""
    rows = conn.execute(
        """SELECT time, species, count, device_id, frame_sha256, evidence_path FROM livestock_counts
           WHERE farm_id = %s AND evidence_path IS NOT NULL ORDER BY time DESC LIMIT %s""",
        (farm_id, limit),
    ).fetchall()
    return [EvidenceRow(*r) for r in rows]


def evidence_path(conn: psycopg.Connection, *, farm_ids: list[UUID], frame_sha256: str) -> str | None:
    """The stored thumbnail of a frame counted on one of ``farm_ids``; None when none of them has it.

    Another farm citing the same frame hash is never looked at.
    """
    row = conn.execute(
        """SELECT evidence_path FROM livestock_counts
           WHERE frame_sha256 = %s AND farm_id = ANY(%s) AND evidence_path IS NOT NULL
           ORDER BY time DESC LIMIT 1""",
        (frame_sha256, farm_ids),
    ).fetchone()
    return None if row is None else str(row[0])


def _table_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def field_map_rows(conn: psycopg.Connection, *, farm_id: UUID) -> list[MapField]:
    """The farm's fields with the latest observed/declared ratio from remote sensing."""
    has_estimates = _table_exists(conn, "crop_area_estimates")
    ratio_sql = (
        "(SELECT e.ratio FROM crop_area_estimates e WHERE e.field_id = fl.id ORDER BY e.estimated_at DESC LIMIT 1)"
        if has_estimates
        else "NULL::numeric"
    )
    rows = conn.execute(
        f"SELECT coalesce(fl.name, fl.external_id, fl.id::text), fl.geometry, {ratio_sql} "
        "FROM fields fl WHERE fl.farm_id = %s ORDER BY 1",
        (farm_id,),
    ).fetchall()
    return [MapField(r[0], r[1], float(r[2]) if r[2] is not None else None) for r in rows]


@dataclass(frozen=True)
class CropRow:
    """A field's latest crop-area estimate next to what was declared."""

    field: str
    declared_crop: str | None
    declared_ha: Decimal | None
    cropped_ha: Decimal | None
    grassland_ha: Decimal | None
    ratio: Decimal | None
    flags: list[str]


def crop_rows(conn: psycopg.Connection, *, farm_id: UUID) -> list[CropRow]:
    """Cropped vs declared hectares per field (latest estimate)."""
    if not _table_exists(conn, "crop_area_estimates"):
        return []
    rows = conn.execute(
        """SELECT coalesce(fl.name, fl.external_id, fl.id::text), fl.declared_crop, fl.declared_area_ha,
                  e.cropped_ha, e.grassland_ha, e.ratio, coalesce(e.flags, '{}')
           FROM fields fl LEFT JOIN LATERAL (
               SELECT * FROM crop_area_estimates e WHERE e.field_id = fl.id
               ORDER BY estimated_at DESC LIMIT 1) e ON true
           WHERE fl.farm_id = %s ORDER BY 1""",
        (farm_id,),
    ).fetchall()
    return [CropRow(*r) for r in rows]


def alerts(conn: psycopg.Connection, *, farm_ids: list[UUID]) -> list[dict[str, Any]]:
    """Open early-warning alerts of the given farms, most recent first."""
    rows = conn.execute(
        """SELECT a.raised_at, f.name, a.code, a.severity, a.message
           FROM credit_alerts a JOIN farms f ON f.id = a.farm_id
           WHERE a.farm_id = ANY(%s) AND a.resolved_at IS NULL ORDER BY a.raised_at DESC""",
        (farm_ids,),
    ).fetchall()
    return [dict(zip(("raised_at", "farm", "code", "severity", "message"), r, strict=True)) for r in rows]


def device_health(conn: psycopg.Connection, *, farm_id: UUID) -> list[dict[str, Any]]:
    """The farm's devices: status, last seen, messages stored, open sequence gaps."""
    gaps = "(SELECT count(*) FROM device_gaps g WHERE g.device_id = d.id AND g.closed_at IS NULL)"
    messages = "(SELECT count(*) FROM ingest_messages m WHERE m.device_id = d.id)"
    if not _table_exists(conn, "device_gaps"):
        gaps, messages = "0", "0"
    rows = conn.execute(
        f"SELECT d.id, d.status, d.last_seen_at, {messages}, {gaps} FROM devices d WHERE d.farm_id = %s ORDER BY d.id",
        (farm_id,),
    ).fetchall()
    return [dict(zip(("device_id", "status", "last_seen_at", "messages", "open_gaps"), r, strict=True)) for r in rows]
