"""Devices as ingest sees them: a short-lived cache of public keys and status, and registration."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from store.errors import StoreError
from store.farms import create_farm
from vocabulary.cameras import DEFAULT_CAMERA_PROFILE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceRecord:
    """What ingest needs to know about a registered device."""

    device_id: str
    farm_id: str
    public_key: bytes
    status: str
    key_epoch: int = 0
    """Which of the device's keys ``public_key`` is (0 at registration, +1 per rotation)."""


class DeviceRegistry:
    """Caches ``devices`` rows for ``ttl_s`` seconds, so a revocation takes effect within that time."""

    def __init__(self, *, ttl_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        """Start with an empty cache."""
        self.ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, DeviceRecord | None]] = {}

    def lookup(self, conn: psycopg.Connection, device_ids: Iterable[str]) -> dict[str, DeviceRecord | None]:
        """Return each device's record (None when unknown), querying only the stale or missing ones."""
        now = self._clock()
        wanted = set(device_ids)
        stale = [d for d in wanted if d not in self._cache or now - self._cache[d][0] > self.ttl_s]
        if stale:
            rows = conn.execute(
                "SELECT id, farm_id::text, public_key, status, key_epoch FROM devices WHERE id = ANY(%s)", (stale,)
            ).fetchall()
            found = {r[0]: DeviceRecord(r[0], r[1], bytes(r[2]), r[3], r[4]) for r in rows}
            for d in stale:
                self._cache[d] = (now, found.get(d))
        return {d: self._cache[d][1] for d in wanted}

    def forget(self) -> None:
        """Drop the cache (after a registration in the same process)."""
        self._cache.clear()


def ensure_farm(conn: psycopg.Connection, *, farm_id: uuid.UUID | str, name: str) -> None:
    """Create the farm row if it is missing (the one farm insert, :func:`store.farms.create_farm`)."""
    create_farm(conn, farm_id=farm_id, name=name, exist_ok=True)


@dataclass(frozen=True, kw_only=True)
class DeviceRow:
    """One row of ``devices`` as the API shows it."""

    id: str
    farm_id: uuid.UUID
    status: str
    public_key: bytes
    last_seen_at: datetime | None
    camera_profile: str = DEFAULT_CAMERA_PROFILE.value
    """How its cameras look at the animals (``vocabulary.cameras.CameraProfile``): its count-interval calibration."""


class DeviceExistsError(StoreError, ValueError):
    """A device of that id is registered already (nothing was written)."""


_DEVICE_COLUMNS = "id, farm_id, status, public_key, last_seen_at, camera_profile"


def _check_key(public_key: bytes) -> None:
    if len(public_key) != 32:
        raise ValueError(f"public_key must be the raw 32-byte Ed25519 key, got {len(public_key)} bytes")


def insert_device(
    conn: psycopg.Connection,
    *,
    device_id: str,
    farm_id: uuid.UUID | str,
    public_key: bytes,
    replace: bool = False,
    camera_profile: str | None = None,
) -> DeviceRow:
    """Insert an active device of ``farm_id`` with its raw 32-byte Ed25519 key: the one device insert.

    With ``replace`` an existing device of that id is moved to ``farm_id``, re-keyed and re-activated (a
    different key starts a new key epoch, see :func:`rotate_device_key`); without it a duplicate is refused.
    ``camera_profile`` None keeps a replaced device's profile and gives a new one the default (``wide``).

    Raises:
        ValueError: the key is not 32 bytes.
        DeviceExistsError: the id is taken and ``replace`` is false; the transaction stays usable.
    """
    _check_key(public_key)
    conflict = (
        "DO UPDATE SET farm_id = EXCLUDED.farm_id, public_key = EXCLUDED.public_key, status = 'active', "
        "camera_profile = coalesce(%s, devices.camera_profile)"
        if replace
        else "DO NOTHING"
    )
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        cur.execute(
            f"""INSERT INTO devices (id, farm_id, public_key, status, camera_profile)
                VALUES (%s, %s, %s, 'active', coalesce(%s, %s))
                ON CONFLICT (id) {conflict} RETURNING {_DEVICE_COLUMNS}""",
            (device_id, str(farm_id), public_key, camera_profile, DEFAULT_CAMERA_PROFILE.value)
            + ((camera_profile,) if replace else ()),
        )
        row = cur.fetchone()
    if row is None:
        raise DeviceExistsError(f"Device {device_id!r} already exists; pick another id.")
    log.info("registered device %s of farm %s", device_id, farm_id)
    return row


def register_device(
    conn: psycopg.Connection,
    *,
    device_id: str,
    farm_id: uuid.UUID | str,
    public_key: bytes,
    camera_profile: str | None = None,
) -> None:
    """Register (or re-key and re-activate) a device of ``farm_id``: :func:`insert_device` with ``replace``.

    Raises:
        ValueError: the key is not 32 bytes.
    """
    insert_device(
        conn, device_id=device_id, farm_id=farm_id, public_key=public_key, replace=True, camera_profile=camera_profile
    )


def set_camera_profile(conn: psycopg.Connection, *, device_id: str, camera_profile: str) -> DeviceRow | None:
    """Change a device's camera profile (its cameras were re-mounted); None when it does not exist.

    Counts stored before keep the intervals they were given; new frames are counted with the new profile.
    """
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        cur.execute(
            f"UPDATE devices SET camera_profile = %s WHERE id = %s RETURNING {_DEVICE_COLUMNS}",
            (camera_profile, device_id),
        )
        row = cur.fetchone()
    if row is not None:
        log.info("device %s now has camera profile %s", device_id, camera_profile)
    return row


def rotate_device_key(conn: psycopg.Connection, *, device_id: str, public_key: bytes) -> DeviceRow | None:
    """Replace a device's key: a new key epoch starts, whose sequence numbers start again at 0.

    The old key is kept in ``device_keys`` (with ``valid_until``), so messages stored under it stay
    verifiable; new messages signed with it are refused. A trigger of migration 0060 numbers the epoch.

    Returns:
        The device, or None when it does not exist.

    Raises:
        ValueError: the key is not 32 bytes.
    """
    _check_key(public_key)
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        cur.execute(
            f"UPDATE devices SET public_key = %s WHERE id = %s RETURNING {_DEVICE_COLUMNS}", (public_key, device_id)
        )
        row = cur.fetchone()
    if row is not None:
        log.info("rotated the key of device %s", device_id)
    return row


def device_farm(conn: psycopg.Connection, *, device_id: str) -> uuid.UUID | None:
    """The farm of ``device_id``, or None when no device has that id."""
    row = conn.execute("SELECT farm_id FROM devices WHERE id = %s", (device_id,)).fetchone()
    return None if row is None else uuid.UUID(str(row[0]))


def list_devices(conn: psycopg.Connection, *, farm_ids: Sequence[uuid.UUID | str]) -> list[DeviceRow]:
    """The devices of ``farm_ids``, by id."""
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        cur.execute(
            f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE farm_id = ANY(%s::uuid[]) ORDER BY id",
            ([str(f) for f in farm_ids],),
        )
        return cur.fetchall()


def device_key(conn: psycopg.Connection, *, device_id: str, key_epoch: int) -> bytes | None:
    """The raw public key a device used in ``key_epoch`` (to verify a stored message again), or None."""
    row = conn.execute(
        "SELECT public_key FROM device_keys WHERE device_id = %s AND key_epoch = %s", (device_id, key_epoch)
    ).fetchone()
    return bytes(row[0]) if row else None


def revoke_device(conn: psycopg.Connection, *, device_id: str) -> DeviceRow | None:
    """Mark a device revoked (ingest quarantines its messages from then on); None when it does not exist."""
    with conn.cursor(row_factory=class_row(DeviceRow)) as cur:
        cur.execute(f"UPDATE devices SET status = 'revoked' WHERE id = %s RETURNING {_DEVICE_COLUMNS}", (device_id,))
        return cur.fetchone()
