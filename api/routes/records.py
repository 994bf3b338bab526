"""A farm's verified records: herd counts, sensor series, crop areas, device coverage and alerts."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import Conn, CurrentOrg, visible_farm
from api.schemas import HerdDayPublic, HerdPublic

router = APIRouter(prefix="/v1/farms/{farm_id}", tags=["records"])


@router.get("/herd", operation_id="herd_record")
def herd(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, days: Annotated[int, Query(ge=1, le=730)] = 90
) -> HerdPublic:
    """Daily maximum head count per species over the last ``days`` (time buckets on the hypertable index)."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT date_bin('1 day', time, '2000-01-01'::timestamptz) AS day, species, max(count),
                  count(DISTINCT frame_sha256)
           FROM livestock_counts WHERE farm_id = %s AND time >= now() - make_interval(days => %s)
           GROUP BY day, species ORDER BY day, species""",
        (farm_id, days),
    ).fetchall()
    data = [HerdDayPublic(day=r[0].date(), species=r[1], head=r[2], photos=r[3]) for r in rows]
    return HerdPublic(farm_id=farm_id, days=days, data=data)


@router.get("/evidence", operation_id="herd_evidence")
def evidence(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[dict[str, Any]]:
    """The latest counts with their frame hash, perceptual hash, model and evidence thumbnail path."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT time, species, count, device_id, camera_id, frame_sha256, phash, model_sha256, evidence_path
           FROM livestock_counts WHERE farm_id = %s AND count > 0 ORDER BY time DESC LIMIT %s""",
        (farm_id, limit),
    ).fetchall()
    keys = ("time", "species", "count", "device_id", "camera_id", "frame_sha256", "phash", "model_sha256", "evidence")
    return [dict(zip(keys, r, strict=True)) for r in rows]


@router.get("/sensors", operation_id="sensor_series")
def sensors(
    farm_id: UUID,
    principal: CurrentOrg,
    conn: Conn,
    metric: Annotated[str, Query(pattern=r"^[a-z_]+$")] = "water_flow_l_min",
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> list[dict[str, Any]]:
    """Daily mean, minimum and maximum of one metric."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT date_bin('1 day', time, '2000-01-01'::timestamptz) AS day,
                  avg(value), min(value), max(value), count(*)
           FROM sensor_readings WHERE farm_id = %s AND metric = %s AND time >= now() - make_interval(days => %s)
           GROUP BY day ORDER BY day""",
        (farm_id, metric, days),
    ).fetchall()
    return [{"day": r[0].date(), "mean": r[1], "min": r[2], "max": r[3], "readings": r[4]} for r in rows]


@router.get("/crop-areas", operation_id="crop_areas")
def crop_areas(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[dict[str, Any]]:
    """Each field's latest crop-area estimate next to what was declared."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT f.id, f.external_id, f.declared_crop, f.declared_area_ha, e.cropped_ha, e.grassland_ha, e.area_ha,
                  e.ratio, e.ratio_low, e.ratio_high, e.clear_observations, e.flags, e.estimated_at, e.method_version
           FROM fields f LEFT JOIN LATERAL (SELECT * FROM crop_area_estimates c WHERE c.field_id = f.id
                                            ORDER BY estimated_at DESC LIMIT 1) e ON true
           WHERE f.farm_id = %s ORDER BY f.external_id""",
        (farm_id,),
    ).fetchall()
    keys = (
        "field_id",
        "external_id",
        "declared_crop",
        "declared_ha",
        "cropped_ha",
        "grassland_ha",
        "area_ha",
        "ratio",
        "ratio_low",
        "ratio_high",
        "clear_observations",
        "flags",
        "estimated_at",
        "method_version",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


@router.get("/coverage", operation_id="device_coverage")
def coverage(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, days: Annotated[int, Query(ge=1, le=365)] = 60
) -> list[dict[str, Any]]:
    """Per device: status, last seen, days with data, messages stored and open sequence gaps."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT d.id, d.status, d.last_seen_at,
                  (SELECT count(DISTINCT date_bin('1 day', m.device_time, '2000-01-01'::timestamptz))
                     FROM ingest_messages m WHERE m.device_id = d.id
                     AND m.device_time >= now() - make_interval(days => %s)),
                  (SELECT count(*) FROM ingest_messages m WHERE m.device_id = d.id),
                  (SELECT coalesce(sum(g.seq_to - g.seq_from + 1), 0) FROM device_gaps g
                     WHERE g.device_id = d.id AND g.closed_at IS NULL)
           FROM devices d WHERE d.farm_id = %s ORDER BY d.id""",
        (days, farm_id),
    ).fetchall()
    keys = ("device_id", "status", "last_seen_at", "days_with_data", "messages", "missing_messages")
    return [{**dict(zip(keys, r, strict=True)), "window_days": days} for r in rows]


@router.get("/alerts", operation_id="farm_alerts")
def alerts(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[dict[str, Any]]:
    """Open early-warning alerts of the farm."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        """SELECT id, code, severity, message, evidence, raised_at, loan_id FROM credit_alerts
           WHERE farm_id = %s AND resolved_at IS NULL ORDER BY raised_at DESC""",
        (farm_id,),
    ).fetchall()
    keys = ("id", "code", "severity", "message", "evidence", "raised_at", "loan_id")
    return [dict(zip(keys, r, strict=True)) for r in rows]
