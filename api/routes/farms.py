"""Member farms, their fields, devices and the consents granted to lenders (cooperatives).

HTTP only: the routes check who may do what, call ``usecases.farms`` and ``usecases.devices``, and
shape the rows they return.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, Query, status

from api.deps import Conn, CurrentOrg, require, visible_farm
from api.errors import ApiError
from api.schemas import (
    CameraProfileUpdate,
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
from store.farms import FarmRow, FieldExistsError, FieldRow
from store.ingest_devices import DeviceExistsError, DeviceRow
from usecases import devices, farms
from vocabulary.cameras import CameraProfile

router = APIRouter(prefix="/v1", tags=["farms"])


def _farm(row: FarmRow) -> FarmPublic:
    return FarmPublic(
        id=row.id,
        name=row.name,
        country=row.country,
        region=row.region,
        declared_herd=row.declared_herd or {},
        cooperative_id=row.cooperative_id,
        created_at=row.created_at,
    )


@router.get("/farms", operation_id="list_farms")
def list_farms(
    principal: CurrentOrg,
    conn: Conn,
    cursor: Annotated[UUID | None, Query(description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> FarmsPublic:
    """Farms the caller may see (members, or farms whose consent includes the ``records`` scope), by id."""
    page = farms.visible_farms(conn, principal=principal, after=cursor, limit=limit)
    data = [_farm(r) for r in page.farms]
    return FarmsPublic(data=data, count=page.total, next_cursor=str(data[-1].id) if page.has_more else None)


@router.post("/farms", status_code=status.HTTP_201_CREATED, operation_id="create_farm")
def create_farm(body: FarmCreate, principal: CurrentOrg, conn: Conn) -> FarmPublic:
    """Add a member farm to the calling cooperative."""
    require(principal, "cooperative")
    row = farms.create_member_farm(
        conn,
        cooperative_id=principal.organization_id,
        name=body.name,
        country=body.country,
        region=body.region,
        declared_herd=body.declared_herd,
    )
    return _farm(row)


@router.get("/farms/{farm_id}", operation_id="get_farm")
def get_farm(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> FarmPublic:
    """One farm the caller may see."""
    visible_farm(conn, principal, farm_id)
    return _farm(farms.load_farm(conn, farm_id=farm_id))


def _field(row: FieldRow) -> FieldPublic:
    """A field as stored (so the answer shows what was kept, not what was sent)."""
    return FieldPublic(
        id=row.id,
        farm_id=row.farm_id,
        external_id=row.external_id,
        name=row.name,
        geometry=row.geometry,
        declared_crop=row.declared_crop,
        declared_area_ha=row.declared_area_ha,
    )


def _member(conn: psycopg.Connection, principal: CurrentOrg, farm_id: UUID) -> None:
    require(principal, "cooperative", "admin")
    visible_farm(conn, principal, farm_id)


@router.post("/farms/{farm_id}/fields", status_code=status.HTTP_201_CREATED, operation_id="create_field")
def create_field(farm_id: UUID, body: FieldCreate, principal: CurrentOrg, conn: Conn) -> FieldPublic:
    """Add a field (validated GeoJSON polygon in EPSG:4326) to a member farm."""
    _member(conn, principal, farm_id)
    try:
        row = farms.add_farm_field(
            conn,
            farm_id=farm_id,
            geometry=body.geometry.model_dump(),
            external_id=body.external_id,
            name=body.name,
            declared_crop=body.declared_crop,
            declared_area_ha=body.declared_area_ha,
        )
    except FieldExistsError:
        raise ApiError(409, "Conflict", f"Farm {farm_id} already has a field {body.external_id!r}.") from None
    return _field(row)


@router.get("/farms/{farm_id}/fields", operation_id="list_fields")
def list_fields(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[FieldPublic]:
    """The farm's fields."""
    visible_farm(conn, principal, farm_id)
    return [_field(r) for r in farms.farm_fields(conn, farm_id=farm_id)]


def _device(row: DeviceRow) -> DevicePublic:
    return DevicePublic(
        id=row.id,
        farm_id=row.farm_id,
        status=row.status,
        public_key_hex=bytes(row.public_key).hex(),
        mqtt_username=row.id,
        mqtt_topic_prefix=f"farmtrust/v1/{row.farm_id}/{row.id}/",
        last_seen_at=row.last_seen_at,
        camera_profile=CameraProfile(row.camera_profile),
    )


@router.post("/farms/{farm_id}/devices", status_code=status.HTTP_201_CREATED, operation_id="provision_device")
def provision_device(farm_id: UUID, body: DeviceCreate, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Register a device's public key; it publishes as MQTT user ``id`` under its own topic prefix."""
    _member(conn, principal, farm_id)
    try:
        row = devices.provision_device(
            conn,
            farm_id=farm_id,
            device_id=body.id,
            public_key=bytes.fromhex(body.public_key_hex),
            camera_profile=body.camera_profile.value,
        )
    except DeviceExistsError:
        raise ApiError(409, "Conflict", f"Device {body.id!r} already exists; pick another id.") from None
    return _device(row)


def _own_device(conn: psycopg.Connection, principal: CurrentOrg, device_id: str) -> None:
    """404 naming only the device (never another tenant's farm) unless the caller may change it."""
    if devices.visible_device_farm(conn, principal=principal, device_id=device_id) is None:
        raise ApiError(404, "Not found", f"Device {device_id!r} does not exist.")
    require(principal, "cooperative", "admin")


@router.post("/devices/{device_id}/rotate-key", operation_id="rotate_device_key")
def rotate_key(device_id: str, body: KeyRotation, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Replace a device's public key; messages signed with the old key are refused from now on.

    The new key starts a new key epoch: the device numbers its messages from 0 again, and replays are
    detected within the epoch (docs/edge.md).
    """
    _own_device(conn, principal, device_id)
    return _device(devices.rotate_key(conn, device_id=device_id, public_key=bytes.fromhex(body.public_key_hex)))


@router.put("/devices/{device_id}/camera-profile", operation_id="set_camera_profile")
def set_camera_profile(device_id: str, body: CameraProfileUpdate, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Give a device another camera profile: its frames are counted with that profile's intervals from now on."""
    _own_device(conn, principal, device_id)
    return _device(devices.change_camera_profile(conn, device_id=device_id, camera_profile=body.camera_profile.value))


@router.post("/devices/{device_id}/revoke", operation_id="revoke_device")
def revoke_device(device_id: str, principal: CurrentOrg, conn: Conn) -> DevicePublic:
    """Revoke a device at once: ingest quarantines its messages from now on."""
    _own_device(conn, principal, device_id)
    return _device(devices.revoke_device(conn, device_id=device_id))


@router.get("/farms/{farm_id}/devices", operation_id="list_devices")
def list_devices(farm_id: UUID, principal: CurrentOrg, conn: Conn) -> list[DevicePublic]:
    """The farm's devices and when each was last seen."""
    visible_farm(conn, principal, farm_id)
    return [_device(r) for r in devices.farm_devices(conn, farm_id=farm_id)]


@router.post("/farms/{farm_id}/consents", status_code=status.HTTP_201_CREATED, operation_id="grant_consent")
def create_consent(farm_id: UUID, body: ConsentCreate, principal: CurrentOrg, conn: Conn) -> ConsentPublic:
    """Grant a lender consent on the farmer's behalf (scope and expiry)."""
    require(principal, "cooperative")
    consent_id = farms.grant_lender_consent(
        conn,
        farm_id=farm_id,
        lender_id=body.lender_id,
        cooperative_id=principal.organization_id,
        expires_at=body.expires_at,
        scope=tuple(body.scope),
    )
    return ConsentPublic(
        id=consent_id, farm_id=farm_id, lender_id=body.lender_id, expires_at=body.expires_at, scope=body.scope
    )
