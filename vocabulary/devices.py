"""Farm devices: the device-id rule and a device's registration status.

A device id is also the device's MQTT username and a segment of its topics, so it may not hold
``/``, ``+``, ``#`` or spaces. The one rule: 1 to 64 ASCII letters, digits, ``_``, ``.``, ``:`` or ``-``
(``:`` admits MAC-address ids such as ``b8:27:eb:12:34:56``). The same pattern is checked by the
wire protocol, the edge configuration, the API, the CLI and the ``devices.id`` CHECK constraint.
"""

from __future__ import annotations

import re
from enum import StrEnum

DEVICE_ID_MAX_CHARS = 64
"""Longest device id."""

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
"""The device-id rule as a regular expression (same meaning in Python, pydantic and PostgreSQL)."""

_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)


def is_device_id(value: str) -> bool:
    """Whether ``value`` follows the device-id rule (the whole string, no trailing newline)."""
    return _DEVICE_ID.fullmatch(value) is not None


def device_id_problem(value: str) -> str | None:
    """Return why ``value`` is not a valid device id (a sentence for an error message), or None when it is."""
    if is_device_id(value):
        return None
    return f"device id {value!r} must be 1 to {DEVICE_ID_MAX_CHARS} characters of letters, digits, '_', '.', ':' or '-'"


class DeviceStatus(StrEnum):
    """Whether ingest accepts a registered device's messages."""

    ACTIVE = "active"
    """Its signed messages are accepted."""
    REVOKED = "revoked"
    """Its messages are quarantined as ``revoked_device``."""


DEVICE_STATUSES: tuple[str, ...] = tuple(s.value for s in DeviceStatus)
"""Every device status name."""


class FrameStatus(StrEnum):
    """Where a stored camera frame is in server-side counting."""

    PENDING = "pending"
    """Waiting for the vision worker."""
    COUNTED = "counted"
    """Counted; its livestock counts are stored."""
    QUARANTINED = "quarantined"
    """The vision worker could not count it (unreadable image); the reason is kept with it."""


FRAME_STATUSES: tuple[str, ...] = tuple(s.value for s in FrameStatus)
"""Every frame status name."""
