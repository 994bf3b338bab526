"""A farm's verified records: herd counts, sensor series, crop areas, device coverage and alerts.

HTTP only: each route checks that the caller may see the farm and shapes what ``usecases.farm_records`` reads.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query

from api.deps import Conn, CurrentOrg, visible_farm
from api.schemas import CountedFramePublic, HerdDayPublic, HerdPublic
from usecases import farm_records

router = APIRouter(prefix="/v1/farms/{farm_id}", tags=["records"])


@router.get("/herd", operation_id="herd_record")
def herd(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, days: Annotated[int, Query(ge=1, le=730)] = 90
) -> HerdPublic:
    """Daily maximum head count per species over the last ``days`` (time buckets on the hypertable index)."""
    visible_farm(conn, principal, farm_id)
    rows = farm_records.herd(conn, farm_id=farm_id, days=days)
    data = [
        HerdDayPublic(
            day=r.day, species=r.species, head=r.head, photos=r.photos, head_low=r.head_low, head_high=r.head_high
        )
        for r in rows
    ]
    return HerdPublic(farm_id=farm_id, days=days, data=data)


@router.get("/evidence", operation_id="herd_evidence")
def evidence(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[CountedFramePublic]:
    """The latest counts with their interval, frame hash, perceptual hash, model and evidence thumbnail path."""
    visible_farm(conn, principal, farm_id)
    rows = farm_records.evidence(conn, farm_id=farm_id, limit=limit)
    return [
        CountedFramePublic(
            time=r.time,
            species=r.species,
            count=r.count,
            count_low=r.count_low,
            count_high=r.count_high,
            device_id=r.device_id,
            camera_id=r.camera_id,
            frame_sha256=r.frame_sha256,
            phash=r.phash,
            model_sha256=r.model_sha256,
            evidence=r.evidence_path,
        )
        for r in rows
    ]


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
    return [asdict(r) for r in farm_records.sensor_series(conn, farm_id=farm_id, metric=metric, days=days)]


@router.get("/crop-areas", operation_id="crop_areas")
def crop_areas(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[dict[str, Any]]:
    """Each field's latest crop-area estimate next to what was declared."""
    visible_farm(conn, principal, farm_id)
    return [
        {
            "field_id": r.field_id,
            "external_id": r.external_id,
            "declared_crop": r.declared_crop,
            "declared_ha": r.declared_area_ha,
            "cropped_ha": r.cropped_ha,
            "grassland_ha": r.grassland_ha,
            "area_ha": r.area_ha,
            "ratio": r.ratio,
            "ratio_low": r.ratio_low,
            "ratio_high": r.ratio_high,
            "clear_observations": r.clear_observations,
            "flags": r.flags,
            "estimated_at": r.estimated_at,
            "method_version": r.method_version,
        }
        for r in farm_records.crop_areas(conn, farm_id=farm_id)
    ]


@router.get("/coverage", operation_id="device_coverage")
def coverage(
    farm_id: UUID, principal: CurrentOrg, conn: Conn, days: Annotated[int, Query(ge=1, le=365)] = 60
) -> list[dict[str, Any]]:
    """Per device over the last ``days``: status, last seen, days with data, messages stored, expected and missing.

    The definitions are those of the credit record (``store.coverage``): a day with data is a UTC day with
    a sensor reading or a count of the device; sequence numbers are counted per key epoch.
    """
    visible_farm(conn, principal, farm_id)
    return [
        {
            "device_id": r.device_id,
            "status": r.status,
            "last_seen_at": r.last_seen_at,
            "days_with_data": len(r.days),
            "messages": r.messages,
            "expected_messages": r.expected,
            "missing_messages": r.missing,
            "window_days": days,
        }
        for r in farm_records.coverage(conn, farm_ids=[farm_id], days=days)
    ]


@router.get("/alerts", operation_id="farm_alerts")
def alerts(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[dict[str, Any]]:
    """Open early-warning alerts of the farm."""
    visible_farm(conn, principal, farm_id)
    return [
        {
            "id": a.id,
            "code": a.code,
            "severity": a.severity,
            "message": a.message,
            "evidence": a.evidence,
            "raised_at": a.raised_at,
            "loan_id": a.loan_id,
        }
        for a in farm_records.open_alerts(conn, farm_ids=[farm_id])
    ]
