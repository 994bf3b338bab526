"""A farm's devices: provision, register (CLI and demo), rotate a key, set the camera profile, revoke, list."""

from __future__ import annotations

from uuid import UUID

import psycopg

from store.farms import farm_exists
from store.ingest_devices import (
    DeviceRow,
    device_farm,
    insert_device,
    list_devices,
    rotate_device_key,
    set_camera_profile,
)
from store.ingest_devices import revoke_device as store_revoke_device
from store.tenants import Principal, farm_visible
from usecases.errors import DeviceNotFoundError, FarmNotFoundError, UseCaseError
from vocabulary.cameras import CAMERA_PROFILES

__all__ = [
    "PUBLIC_KEY_BYTES",
    "CameraProfileError",
    "DeviceKeyError",
    "change_camera_profile",
    "farm_devices",
    "provision_device",
    "register_farm_device",
    "revoke_device",
    "rotate_key",
    "visible_device_farm",
]

PUBLIC_KEY_BYTES = 32
"""Length of a raw Ed25519 public key."""


class DeviceKeyError(UseCaseError, ValueError):
    """The public key is not a raw 32-byte Ed25519 key."""


def _check_key(public_key: bytes) -> None:
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise DeviceKeyError(
            f"The public key must be {PUBLIC_KEY_BYTES} bytes ({2 * PUBLIC_KEY_BYTES} hex digits), "
            f"got {len(public_key)} bytes"
        )


class CameraProfileError(UseCaseError, ValueError):
    """The camera profile is not one of ``vocabulary.cameras.CAMERA_PROFILES``."""


def _check_profile(camera_profile: str | None) -> None:
    if camera_profile is not None and camera_profile not in CAMERA_PROFILES:
        raise CameraProfileError(
            f"camera_profile={camera_profile!r} is not a camera profile; use one of {', '.join(CAMERA_PROFILES)}"
        )


def register_farm_device(
    conn: psycopg.Connection, *, device_id: str, farm_id: UUID, public_key: bytes, camera_profile: str | None = None
) -> None:
    """Register ``device_id`` of an existing farm with its raw Ed25519 public key (or re-key and re-activate it).

    ``camera_profile`` None keeps a known device's profile (a new one gets the default, ``wide``).

    Raises:
        DeviceKeyError: the key is not 32 bytes.
        CameraProfileError: ``camera_profile`` is not a camera profile.
        FarmNotFoundError: no farm has ``farm_id``.
    """
    _check_key(public_key)
    _check_profile(camera_profile)
    if not farm_exists(conn, farm_id=farm_id):
        raise FarmNotFoundError(f"Farm {farm_id} does not exist; create the farm first or check the farm id")
    insert_device(
        conn, device_id=device_id, farm_id=farm_id, public_key=public_key, replace=True, camera_profile=camera_profile
    )


def provision_device(
    conn: psycopg.Connection, *, farm_id: UUID, device_id: str, public_key: bytes, camera_profile: str | None = None
) -> DeviceRow:
    """Add a new device to the farm; an id already taken (by any farm) is refused.

    Raises:
        DeviceKeyError: the key is not 32 bytes.
        CameraProfileError: ``camera_profile`` is not a camera profile.
        store.ingest_devices.DeviceExistsError: a device has that id already.
    """
    _check_key(public_key)
    _check_profile(camera_profile)
    return insert_device(
        conn, device_id=device_id, farm_id=farm_id, public_key=public_key, camera_profile=camera_profile
    )


def change_camera_profile(conn: psycopg.Connection, *, device_id: str, camera_profile: str) -> DeviceRow:
    """Give a device another camera profile: frames counted from now on get that profile's intervals.

    Raises:
        CameraProfileError: ``camera_profile`` is not a camera profile.
        DeviceNotFoundError: no device has ``device_id``.
    """
    _check_profile(camera_profile)
    row = set_camera_profile(conn, device_id=device_id, camera_profile=camera_profile)
    if row is None:
        raise DeviceNotFoundError(f"Device {device_id!r} does not exist.")
    return row


def visible_device_farm(conn: psycopg.Connection, *, principal: Principal, device_id: str) -> UUID | None:
    """The farm of ``device_id`` when ``principal`` may see it; None when the device is unknown or not theirs."""
    farm_id = device_farm(conn, device_id=device_id)
    if farm_id is None or not farm_visible(conn, principal=principal, farm_id=farm_id):
        return None
    return farm_id


def rotate_key(conn: psycopg.Connection, *, device_id: str, public_key: bytes) -> DeviceRow:
    """Replace the device's key: a new key epoch starts; messages signed with the old key are refused.

    Raises:
        DeviceKeyError: the key is not 32 bytes.
        DeviceNotFoundError: no device has ``device_id``.
    """
    _check_key(public_key)
    row = rotate_device_key(conn, device_id=device_id, public_key=public_key)
    if row is None:
        raise DeviceNotFoundError(f"Device {device_id!r} does not exist.")
    return row


def revoke_device(conn: psycopg.Connection, *, device_id: str) -> DeviceRow:
    """Revoke the device at once: ingest quarantines its messages from now on.

    Raises:
        DeviceNotFoundError: no device has ``device_id``.
    """
    row = store_revoke_device(conn, device_id=device_id)
    if row is None:
        raise DeviceNotFoundError(f"Device {device_id!r} does not exist.")
    return row


def farm_devices(conn: psycopg.Connection, *, farm_id: UUID) -> list[DeviceRow]:
    """The farm's devices by id."""
    return list_devices(conn, farm_ids=[farm_id])
