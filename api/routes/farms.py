"""Member farms, their fields, devices and the consents granted to lenders (cooperatives)."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, status

from api.deps import Conn, CurrentOrg, require, visible_farm
from api.errors import ApiError
from api.schemas import (
    ConsentCreate,
    ConsentPublic,
    DeviceCreate,
    DevicePublic,
    FarmCreate,
    FarmPublic,
    FarmsPublic,
    FieldCreate,
    FieldPublic,
    KeyRotation,
)
from store.ingest_devices import rotate_device_key
from store.tenants import farm_visible, grant_consent, visible_farm_ids

router = APIRouter(prefix="/v1", tags=["farms"])

_FARM_COLUMNS = "id, name, country, region, declared_herd, cooperative_id, created_at"


def _farm(row: tuple) -> FarmPublic:
    return FarmPublic(
        id=row[0],
        name=row[1],
        country=row[2],
        region=row[3],
        declared_herd=row[4] or {},
        cooperative_id=row[5],
        created_at=row[6],
    )


@router.get("/farms", operation_id="list_farms")
def list_farms(
    principal: CurrentOrg,
    conn: Conn,
    cursor: Annotated[UUID | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FarmsPublic:
    """Farms the caller may see (members, or farms whose consent includes the ``records`` scope), by id."""
    ids = visible_farm_ids(conn, principal=principal, scope="records")
    rows = conn.execute(
        f"SELECT {_FARM_COLUMNS} FROM farms WHERE id = ANY(%s) AND (%s::uuid IS NULL OR id > %s) ORDER BY id LIMIT %s",
        (ids, cursor, cursor, limit + 1),
    ).fetchall()
    page = [_farm(r) for r in rows[:limit]]
    return FarmsPublic(data=page, count=len(ids), next_cursor=str(page[-1].id) if len(rows) > limit else None)


@router.post("/farms", status_code=status.HTTP_201_CREATED, operation_id="create_farm")
def create_farm(body: FarmCreate, principal: CurrentOrg, conn: Conn) -> FarmPublic:
    """Add a member farm to the calling cooperative."""
    require(principal, "cooperative")
    row = conn.execute(
        f"""INSERT INTO farms (cooperative_id, name, country, region, declared_herd) VALUES (%s, %s, %s, %s, %s)
            RETURNING {_FARM_COLUMNS}""",
        (principal.organization_id, body.name, body.country, body.region, json.dumps(body.declared_herd)),
    ).fetchone()
    assert row is not None
    return _farm(row)


@router.get("/farms/{farm_id}", operation_id="get_farm")
def get_farm(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> FarmPublic:
    """One farm the caller may see."""
    visible_farm(conn, principal, farm_id)
    row = conn.execute(f"SELECT {_FARM_COLUMNS} FROM farms WHERE id = %s", (farm_id,)).fetchone()
    assert row is not None
    return _farm(row)


_FIELD_COLUMNS = "id, external_id, name, geometry, declared_crop, declared_area_ha"


def _field(farm_id: UUID, row: tuple) -> FieldPublic:
    """A field as stored (so the answer shows what was kept, not what was sent)."""
    return FieldPublic(
        id=row[0],
        farm_id=farm_id,
        external_id=row[1],
        name=row[2],
        geometry=row[3],
        declared_crop=row[4],
        declared_area_ha=row[5],
    )


def _member(conn: psycopg.Connection, principal: CurrentOrg, farm_id: UUID) -> None:
    require(principal, "cooperative", "admin")
    visible_farm(conn, principal, farm_id)


@router.post("/farms/{farm_id}/fields", status_code=status.HTTP_201_CREATED, operation_id="create_field")
def create_field(farm_id: UUID, body: FieldCreate, principal: CurrentOrg, conn: Conn) -> FieldPublic:
    """Add a field (validated GeoJSON polygon in EPSG:4326) to a member farm."""
    _member(conn, principal, farm_id)
    try:
        row = conn.execute(
            f"""INSERT INTO fields (farm_id, external_id, name, geometry, declared_crop, declared_area_ha)
               VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_FIELD_COLUMNS}""",
            (
                farm_id,
                body.external_id,
                body.name,
                json.dumps(body.geometry.model_dump()),
                body.declared_crop,
                body.declared_area_ha,
            ),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise ApiError(409, "Conflict", f"Farm {farm_id} already has a field {body.external_id!r}.") from None
    assert row is not None
    return _field(farm_id, row)


@router.get("/farms/{farm_id}/fields", operation_id="list_fields")
def list_fields(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[FieldPublic]:
    """The farm's fields."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        f"SELECT {_FIELD_COLUMNS} FROM fields WHERE farm_id = %s ORDER BY external_id, id", (farm_id,)
    ).fetchall()
    return [_field(farm_id, r) for r in rows]


def _device(row: tuple) -> DevicePublic:
    device_id, farm_id, status_, key, last_seen = row
    return DevicePublic(
        id=device_id,
        farm_id=farm_id,
        status=status_,
        public_key_hex=bytes(key).hex(),
        mqtt_username=device_id,
        mqtt_topic_prefix=f"farmtrust/v1/{farm_id}/{device_id}/",
        last_seen_at=last_seen,
    )


@router.post("/farms/{farm_id}/devices", status_code=status.HTTP_201_CREATED, operation_id="provision_device")
def provision_device(farm_id: UUID, body: DeviceCreate, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Register a device's public key; it publishes as MQTT user ``id`` under its own topic prefix."""
    _member(conn, principal, farm_id)
    try:
        row = conn.execute(
            """INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)
               RETURNING id, farm_id, status, public_key, last_seen_at""",
            (body.id, farm_id, bytes.fromhex(body.public_key_hex)),
        ).fetchone()
    except psycopg.errors.UniqueViolation:
        raise ApiError(409, "Conflict", f"Device {body.id!r} already exists; pick another id.") from None
    assert row is not None
    return _device(row)


def _own_device(conn: psycopg.Connection, principal: CurrentOrg, device_id: str) -> UUID:
    """The farm of a device of the caller's; 404 naming only the device (never another tenant's farm)."""
    row = conn.execute("SELECT farm_id FROM devices WHERE id = %s", (device_id,)).fetchone()
    if row is None or not farm_visible(conn, principal=principal, farm_id=row[0]):
        raise ApiError(404, "Not found", f"Device {device_id!r} does not exist.")
    require(principal, "cooperative", "admin")
    return UUID(str(row[0]))


@router.post("/devices/{device_id}/rotate-key", operation_id="rotate_device_key")
def rotate_key(device_id: str, body: KeyRotation, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Replace a device's public key; messages signed with the old key are refused from now on.

    The new key starts a new key epoch: the device numbers its messages from 0 again, and replays are
    detected within the epoch (docs/edge.md).
    """
    _own_device(conn, principal, device_id)
    row = rotate_device_key(conn, device_id=device_id, public_key=bytes.fromhex(body.public_key_hex))
    assert row is not None
    return _device(row)


@router.post("/devices/{device_id}/revoke", operation_id="revoke_device")
def revoke_device(device_id: str, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Revoke a device at once: ingest quarantines its messages from now on."""
    _own_device(conn, principal, device_id)
    row = conn.execute(
        "UPDATE devices SET status = 'revoked' WHERE id = %s RETURNING id, farm_id, status, public_key, last_seen_at",
        (device_id,),
    ).fetchone()
    assert row is not None
    return _device(row)


@router.get("/farms/{farm_id}/devices", operation_id="list_devices")
def list_devices(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[DevicePublic]:
    """The farm's devices and when each was last seen."""
    visible_farm(conn, principal, farm_id)
    rows = conn.execute(
        "SELECT id, farm_id, status, public_key, last_seen_at FROM devices WHERE farm_id = %s ORDER BY id", (farm_id,)
    ).fetchall()
    return [_device(r) for r in rows]


@router.post("/farms/{farm_id}/consents", status_code=status.HTTP_201_CREATED, operation_id="grant_consent")
def create_consent(farm_id: UUID, body: ConsentCreate, principal: CurrentOrg, conn: Conn) -> ConsentPublic:
    """Grant a lender consent on the farmer's behalf (scope and expiry)."""
    require(principal, "cooperative")
    consent_id = grant_consent(
        conn,
        farm_id=farm_id,
        lender_id=body.lender_id,
        granted_by=principal.organization_id,
        expires_at=body.expires_at,
        scope=tuple(body.scope),
    )
    return ConsentPublic(
        id=consent_id, farm_id=farm_id, lender_id=body.lender_id, expires_at=body.expires_at, scope=body.scope
    )
