"""Register a farm's device so ingest accepts the messages it signs."""

from __future__ import annotations

from uuid import UUID

import psycopg

from store.farms import farm_exists
from store.ingest_devices import register_device
from usecases.errors import FarmNotFoundError, UseCaseError

__all__ = ["PUBLIC_KEY_BYTES", "DeviceKeyError", "register_farm_device"]

PUBLIC_KEY_BYTES = 32
"""Length of a raw Ed25519 public key."""


class DeviceKeyError(UseCaseError, ValueError):
    """The public key is not a raw 32-byte Ed25519 key."""


def register_farm_device(conn: psycopg.Connection, *, device_id: str, farm_id: UUID, public_key: bytes) -> None:
    """Register ``device_id`` of an existing farm with its raw Ed25519 public key (or re-key and re-activate it).

    Raises:
        DeviceKeyError: the key is not 32 bytes.
        FarmNotFoundError: no farm has ``farm_id``.
    """
    if len(public_key) != PUBLIC_KEY_BYTES:
        raise DeviceKeyError(
            f"The public key must be {PUBLIC_KEY_BYTES} bytes ({2 * PUBLIC_KEY_BYTES} hex digits), "
            f"got {len(public_key)} bytes"
        )
    if not farm_exists(conn, farm_id=farm_id):
        raise FarmNotFoundError(f"Farm {farm_id} does not exist; create the farm first or check the farm id")
    register_device(conn, device_id=device_id, farm_id=farm_id, public_key=public_key)
