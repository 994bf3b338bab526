"""Checks every inbound MQTT message before anything is written: shape, topic, device, signature, time, ranges, species.

The server's half of the wire protocol (:mod:`edge.protocol`): pure, no database. Each check that fails
yields a :class:`Rejected` with an :class:`edge.protocol.QuarantineReason` code; nothing is dropped
silently. Sequence checks (duplicate, replay, gaps) need the stored ledger and live in :mod:`usecases.ingest`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from edge.errors import ProtocolError
from edge.protocol import (
    EARLIEST_TIME,
    MAX_FUTURE_S,
    TOPIC_ROOT,
    CountMessage,
    Decoded,
    FrameMessage,
    QuarantineReason,
    TelemetryMessage,
    check_counts,
    check_reading,
    decode,
    parse_topic,
    verify,
)
from store.ingest_devices import DeviceRecord
from vocabulary.species import SPECIES

__all__ = ["Accepted", "Inbound", "Rejected", "check", "parse"]


@dataclass(frozen=True)
class Inbound:
    """One message as the broker delivered it; ``token`` is what the transport needs to acknowledge it."""

    topic: str
    payload: bytes
    received_at: datetime
    token: Any = None


@dataclass(frozen=True)
class Accepted:
    """A message that passed every stateless check."""

    inbound: Inbound
    decoded: Decoded
    device: DeviceRecord


@dataclass(frozen=True)
class Rejected:
    """A message to quarantine, with its reason code and a sentence saying what was wrong."""

    inbound: Inbound
    reason: str
    detail: str
    farm_id: str | None = None
    device_id: str | None = None


def parse(inbound: Inbound, *, topic_root: str = TOPIC_ROOT) -> Decoded | Rejected:
    """Check the topic (under ``topic_root``) and decode the payload (size, JSON, schema, blob hash)."""
    try:
        topic = parse_topic(inbound.topic, root=topic_root)
    except ProtocolError as exc:
        return Rejected(inbound, exc.reason, str(exc))
    try:
        decoded = decode(inbound.payload)
    except ProtocolError as exc:
        return Rejected(inbound, exc.reason, str(exc), topic.farm_id, topic.device_id)
    msg = decoded.message
    if str(msg.farm_id) != topic.farm_id or msg.device_id != topic.device_id or msg.kind != topic.kind:
        return Rejected(
            inbound,
            QuarantineReason.BAD_TOPIC.value,
            f"Envelope says farm {msg.farm_id} device {msg.device_id!r} kind {msg.kind}, topic says {inbound.topic!r}",
            topic.farm_id,
            topic.device_id,
        )
    return decoded


def check(
    inbound: Inbound, decoded: Decoded, devices: Mapping[str, DeviceRecord | None], *, now: datetime
) -> Accepted | Rejected:
    """Check the device (known, active, of this farm), the signature, the clock, the physical ranges and species.

    Times must lie between :data:`edge.protocol.EARLIEST_TIME` and ``now`` plus 5 minutes.
    """
    msg = decoded.message
    farm_id, device_id = str(msg.farm_id), msg.device_id

    def reject(reason: QuarantineReason | str, detail: str) -> Rejected:
        return Rejected(inbound, str(reason), detail, farm_id, device_id)

    device = devices.get(device_id)
    if device is None:
        return reject(QuarantineReason.UNKNOWN_DEVICE, f"Device {device_id!r} is not registered")
    if device.status != "active":
        return reject(QuarantineReason.REVOKED_DEVICE, f"Device {device_id!r} is {device.status}")
    if device.farm_id != farm_id:
        return reject(
            QuarantineReason.FARM_MISMATCH, f"Device {device_id!r} belongs to farm {device.farm_id}, not {farm_id}"
        )
    try:
        verify(decoded, device.public_key)
    except ProtocolError as exc:
        return reject(exc.reason, str(exc))
    limit = now + timedelta(seconds=MAX_FUTURE_S)
    if msg.device_time > limit:
        return reject(
            QuarantineReason.FUTURE_TIMESTAMP,
            f"device_time {msg.device_time.isoformat()} is more than {MAX_FUTURE_S:.0f} s after "
            f"server time {now.isoformat()}",
        )
    stamped = [("device_time", msg.device_time)]
    if isinstance(msg, TelemetryMessage):
        stamped += [(f"readings[{i}].time", r.time) for i, r in enumerate(msg.body.readings)]
    elif isinstance(msg, FrameMessage | CountMessage):
        stamped.append(("captured_at", msg.body.captured_at))
    for where, at in stamped:
        if at < EARLIEST_TIME:
            return reject(
                QuarantineReason.PAST_TIMESTAMP,
                f"{where} {at.isoformat()} is before {EARLIEST_TIME.date().isoformat()}, the earliest time accepted",
            )
    if isinstance(msg, TelemetryMessage):
        for i, reading in enumerate(msg.body.readings):
            if reading.time > limit:
                return reject(
                    QuarantineReason.FUTURE_TIMESTAMP,
                    f"readings[{i}].time {reading.time.isoformat()} is more than {MAX_FUTURE_S:.0f} s in the future",
                )
            reason = check_reading(reading)
            if reason is not None:
                return reject(
                    reason,
                    f"readings[{i}]: {reading.metric}={reading.value!r} {reading.unit!r} is not plausible ({reason})",
                )
    elif isinstance(msg, FrameMessage | CountMessage) and msg.body.captured_at > limit:
        return reject(
            QuarantineReason.FUTURE_TIMESTAMP, f"captured_at {msg.body.captured_at.isoformat()} is in the future"
        )
    if isinstance(msg, CountMessage) and (reason := check_counts(msg.body)) is not None:
        unknown = sorted(s for s in msg.body.counts if s not in SPECIES)
        return reject(reason, f"counts name unknown species {unknown}; use one of {', '.join(SPECIES)}")
    return Accepted(inbound, decoded, device)
