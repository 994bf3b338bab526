"""The FarmTrust wire protocol, the only code shared by the edge agent and the ingest server.

Topics are ``farmtrust/v1/{farm_id}/{device_id}/{kind}``. Telemetry and status messages are one
JSON object each. Frames and on-device counts are binary: ``b"FTB1"``, a 4-byte big-endian header
length, the signed JSON header, then the raw JPEG bytes (never base64). Every JSON object (the
header, for binary messages) carries ``schema_version``, a UUIDv7 ``message_id``, the per-device
``seq``, the UTC ``device_time`` and, as its LAST member, ``signature``: base64 Ed25519 over the
exact bytes of the object with that member removed (``{...,"signature":"S"}`` → ``{...}``), so the
server verifies the bytes the device wrote without re-serialising them (see :func:`signed_bytes`).
Binary messages sign the blob through the ``sha256`` in their body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import struct
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from edge.errors import ProtocolError
from vocabulary.devices import DEVICE_ID_PATTERN
from vocabulary.metrics import METRIC_RANGES
from vocabulary.species import SPECIES

SCHEMA_VERSION = 1
TOPIC_ROOT = "farmtrust/v1"
BINARY_MAGIC = b"FTB1"
MAX_JSON_BYTES = 1_048_576
"""Largest telemetry or status payload the server accepts (1 MiB)."""
MAX_BINARY_BYTES = 8_388_608
"""Largest frame or count payload the server accepts (8 MiB)."""
MAX_FUTURE_S = 300.0
"""A device or reading time further than this in the future is rejected (5 minutes)."""
EARLIEST_TIME = datetime(2020, 1, 1, tzinfo=UTC)
"""A device, reading or capture time before this is rejected: no FarmTrust device existed earlier, and a
time series chunk per stray day (year 1, 1970...) would be created for it."""
MAX_DAYS_PER_MESSAGE = 31
"""Most distinct UTC days the readings of one telemetry message may fall on (a month of backlog): each
day is a time-series chunk the message's transaction must lock, so thousands of days exhaust lock memory."""
MAX_NAME_CHARS = 64
"""Longest metric key, species name or drop-counter key (indexed text columns must stay small)."""


class MessageKind(StrEnum):
    """What a message carries; the last segment of its topic."""

    TELEMETRY = "telemetry"
    """A batch of sensor readings (metric, value, unit, time)."""
    FRAME = "frame"
    """One camera frame: binary header plus JPEG bytes, for server-side counting."""
    COUNT = "count"
    """Per-species counts made on the device, with model and frame hashes and a small thumbnail."""
    STATUS = "status"
    """Agent health: spool depth, last sequence, clock skew, drops; retained and used as last will."""


class QuarantineReason(StrEnum):
    """Why ingest refused a message; recorded in ``ingest_quarantine.reason``."""

    MALFORMED = "malformed"
    """The payload is not JSON (or not a valid binary container)."""
    INVALID_SCHEMA = "invalid_schema"
    """Fields are missing, extra or of the wrong type."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """``schema_version`` is not one this server understands."""
    OVERSIZE = "oversize"
    """The payload is larger than the limit for its kind."""
    BAD_TOPIC = "bad_topic"
    """The topic is not ``farmtrust/v1/{farm_id}/{device_id}/{kind}`` or disagrees with the envelope."""
    UNKNOWN_DEVICE = "unknown_device"
    """No device with this id is registered."""
    REVOKED_DEVICE = "revoked_device"
    """The device is registered but revoked."""
    FARM_MISMATCH = "farm_mismatch"
    """The device belongs to another farm than the one in the topic."""
    BAD_SIGNATURE = "bad_signature"
    """The Ed25519 signature does not verify with the device's registered key."""
    HASH_MISMATCH = "hash_mismatch"
    """A frame's or thumbnail's bytes do not match the sha256 in its signed header."""
    REPLAY = "replay"
    """The sequence number was already used by another message of this device (and is not a known gap)."""
    FUTURE_TIMESTAMP = "future_timestamp"
    """The device time or a reading time is more than 5 minutes ahead of the server clock."""
    PAST_TIMESTAMP = "past_timestamp"
    """The device, reading or capture time is before :data:`EARLIEST_TIME` (2020-01-01 UTC)."""
    OUT_OF_RANGE = "out_of_range"
    """A reading's value is physically impossible for its metric."""
    UNKNOWN_SPECIES = "unknown_species"
    """A count names a species that is not in :data:`vocabulary.species.SPECIES`."""
    UNKNOWN_METRIC = "unknown_metric"
    """A reading names a metric that is not in :data:`METRIC_RANGES`."""
    WRONG_UNIT = "wrong_unit"
    """A reading's unit is not the unit of its metric."""
    STORE_REJECTED = "store_rejected"
    """The database refused a message that passed every check (a NUL character in a text field, a program
    limit such as ``index row size``, lock memory...); the detail names the SQLSTATE and the database's message."""


class Signer(Protocol):
    """Anything that signs bytes with the device's Ed25519 key."""

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte signature of ``data``."""
        ...


def uuid7(*, unix_ms: int | None = None) -> uuid.UUID:
    """Return a time-sortable UUIDv7 (RFC 9562) from the clock and 74 random bits."""
    ms = int(time.time() * 1000) if unix_ms is None else unix_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def topic_for(*, farm_id: uuid.UUID | str, device_id: str, kind: MessageKind | str, root: str = TOPIC_ROOT) -> str:
    """Return the topic a device publishes ``kind`` messages on, under ``root`` (``Settings.mqtt.topic_root``)."""
    return f"{root}/{farm_id}/{device_id}/{MessageKind(kind).value}"


class TopicParts(NamedTuple):
    """The parts of a FarmTrust topic."""

    farm_id: str
    device_id: str
    kind: MessageKind


def parse_topic(topic: str, *, root: str = TOPIC_ROOT) -> TopicParts:
    """Split a topic under ``root`` into farm id, device id and kind.

    Raises:
        ProtocolError: (reason ``bad_topic``) the topic does not have the FarmTrust shape.
    """
    prefix = root + "/"
    parts = topic[len(prefix) :].split("/") if topic.startswith(prefix) else []
    if len(parts) != 3:
        raise ProtocolError(f"Topic {topic!r} is not {root}/{{farm_id}}/{{device_id}}/{{kind}}", reason="bad_topic")
    try:
        return TopicParts(str(uuid.UUID(parts[0])), parts[1], MessageKind(parts[2]))
    except ValueError:
        raise ProtocolError(
            f"Topic {topic!r} needs a UUID farm id and a kind among {[k.value for k in MessageKind]}",
            reason="bad_topic",
        ) from None


_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)


class Reading(BaseModel):
    """One sensor reading."""

    model_config = _STRICT
    metric: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    value: float
    unit: str = Field(max_length=16)
    time: AwareDatetime


class TelemetryBody(BaseModel):
    """A batch of readings."""

    model_config = _STRICT
    readings: list[Reading] = Field(min_length=1, max_length=20_000)

    @field_validator("readings")
    @classmethod
    def _few_days(cls, readings: list[Reading]) -> list[Reading]:
        days = {r.time.astimezone(UTC).date() for r in readings}
        if len(days) > MAX_DAYS_PER_MESSAGE:
            raise ValueError(f"readings fall on {len(days)} distinct UTC days, more than {MAX_DAYS_PER_MESSAGE}")
        return readings


class FrameBody(BaseModel):
    """Header of a camera frame; the JPEG bytes follow it."""

    model_config = _STRICT
    camera_id: str = Field(min_length=1, max_length=64)
    captured_at: AwareDatetime
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=1)
    width: int | None = None
    height: int | None = None


class CountBody(BaseModel):
    """Counts made on the device; the evidence thumbnail JPEG follows the header."""

    model_config = _STRICT
    camera_id: str = Field(min_length=1, max_length=64)
    captured_at: AwareDatetime
    counts: dict[
        Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS)], Annotated[int, Field(ge=0, le=100_000)]
    ] = Field(max_length=64)
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    frame_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    phash: str = Field(max_length=64)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the thumbnail JPEG")
    bytes: int = Field(ge=1)


class StatusBody(BaseModel):
    """Agent health, published retained (and as last will with ``online=False``)."""

    model_config = _STRICT
    online: bool
    spool_depth: int = Field(default=0, ge=0)
    spool_bytes: int = Field(default=0, ge=0)
    last_seq: int = Field(default=-1, ge=-1)
    clock_skew_s: float | None = None
    dropped: dict[Annotated[str, Field(max_length=MAX_NAME_CHARS)], int] = Field(default_factory=dict, max_length=16)
    spool_policy: str = ""


class _EnvelopeBase(BaseModel):
    model_config = _STRICT
    schema_version: Literal[1]
    message_id: uuid.UUID
    farm_id: uuid.UUID
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    seq: int = Field(ge=0)
    device_time: AwareDatetime
    signature: str = Field(min_length=80, max_length=100)


class TelemetryMessage(_EnvelopeBase):
    """A signed telemetry envelope."""

    kind: Literal[MessageKind.TELEMETRY]
    body: TelemetryBody


class FrameMessage(_EnvelopeBase):
    """A signed frame header."""

    kind: Literal[MessageKind.FRAME]
    body: FrameBody


class CountMessage(_EnvelopeBase):
    """A signed on-device count header."""

    kind: Literal[MessageKind.COUNT]
    body: CountBody


class StatusMessage(_EnvelopeBase):
    """A signed status envelope."""

    kind: Literal[MessageKind.STATUS]
    body: StatusBody


Message = Annotated[TelemetryMessage | FrameMessage | CountMessage | StatusMessage, Field(discriminator="kind")]
_MESSAGE = TypeAdapter(Message)


_SIG_KEY = b',"signature":"'


def canonical_bytes(obj: dict[str, Any]) -> bytes:
    """Serialise ``obj`` without its ``signature`` member: compact JSON, UTF-8 (the bytes a device signs)."""
    unsigned = {k: v for k, v in obj.items() if k != "signature"}
    return json.dumps(unsigned, separators=(",", ":"), ensure_ascii=False).encode()


def attach_signature(unsigned: bytes, signature: bytes) -> bytes:
    """Append ``signature`` as the last member of the JSON object ``unsigned``."""
    return unsigned[:-1] + _SIG_KEY + base64.b64encode(signature) + b'"}'


def signed_bytes(payload: bytes) -> bytes:
    """Return the bytes the signature covers: ``payload`` with its trailing ``signature`` member removed.

    Raises:
        ProtocolError: (``invalid_schema``) the object does not end with a ``signature`` member.
    """
    body = payload.rstrip()
    at = body.rfind(_SIG_KEY)
    if at < 0 or not body.endswith(b'"}') or b'"' in body[at + len(_SIG_KEY) : -2]:
        raise ProtocolError('The JSON object must end with its "signature" member', reason="invalid_schema")
    return body[:at] + b"}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_envelope(
    *,
    kind: MessageKind,
    farm_id: uuid.UUID | str,
    device_id: str,
    seq: int,
    body: dict[str, Any],
    signer: Signer,
    device_time: datetime | None = None,
    message_id: uuid.UUID | None = None,
) -> bytes:
    """Return a signed envelope as wire JSON bytes (datetimes in ``body`` must already be ISO strings)."""
    obj: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "message_id": str(message_id or uuid7()),
        "farm_id": str(farm_id),
        "device_id": device_id,
        "kind": MessageKind(kind).value,
        "seq": seq,
        "device_time": _iso(device_time or datetime.now(UTC)),
        "body": body,
    }
    unsigned = canonical_bytes(obj)
    return attach_signature(unsigned, signer.sign(unsigned))


def encode_binary(envelope: bytes, blob: bytes) -> bytes:
    """Serialise a signed frame or count header followed by its JPEG ``blob``."""
    return BINARY_MAGIC + struct.pack(">I", len(envelope)) + envelope + blob


def reading_dict(*, metric: str, value: float, time: datetime, unit: str | None = None) -> dict[str, Any]:
    """Return one reading as a JSON-ready dict, filling the unit from :data:`METRIC_RANGES`."""
    if unit is None:
        unit = METRIC_RANGES[metric].unit if metric in METRIC_RANGES else ""
    return {"metric": metric, "value": float(value), "unit": unit, "time": _iso(time)}


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Decoded:
    """A parsed message before its signature and device are checked."""

    message: TelemetryMessage | FrameMessage | CountMessage | StatusMessage
    signed: bytes
    signature: bytes
    blob: bytes | None


def decode(payload: bytes) -> Decoded:
    """Parse a payload into a typed message, checking size, JSON, schema and blob hash.

    Raises:
        ProtocolError: with ``reason`` one of ``oversize``, ``malformed``, ``invalid_schema``,
            ``unsupported_version`` or ``hash_mismatch``.
    """
    blob: bytes | None = None
    if payload[:4] == BINARY_MAGIC:
        if len(payload) > MAX_BINARY_BYTES:
            raise ProtocolError(f"Binary payload of {len(payload)} bytes exceeds {MAX_BINARY_BYTES}", reason="oversize")
        if len(payload) < 8:
            raise ProtocolError("Binary payload is shorter than its 8-byte prefix", reason="malformed")
        (header_len,) = struct.unpack(">I", payload[4:8])
        if header_len > len(payload) - 8 or header_len > MAX_JSON_BYTES:
            raise ProtocolError(f"Binary header length {header_len} does not fit the payload", reason="malformed")
        header, blob = payload[8 : 8 + header_len], payload[8 + header_len :]
    else:
        if len(payload) > MAX_JSON_BYTES:
            raise ProtocolError(f"JSON payload of {len(payload)} bytes exceeds {MAX_JSON_BYTES}", reason="oversize")
        header = payload
    try:
        message = _MESSAGE.validate_json(header)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "json_invalid":
            raise ProtocolError(f"Payload is not JSON: {first['msg']}", reason="malformed") from None
        if any(e["loc"] and e["loc"][-1] == "schema_version" for e in exc.errors()):
            raise ProtocolError(
                f"schema_version is not {SCHEMA_VERSION}, the version this server reads", reason="unsupported_version"
            ) from None
        raise ProtocolError(f"Field {where}: {first['msg']}", reason="invalid_schema") from None
    signed = signed_bytes(header)
    try:
        signature = base64.b64decode(message.signature, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("Field signature is not base64", reason="invalid_schema") from None
    if isinstance(message, FrameMessage | CountMessage):
        if blob is None:
            raise ProtocolError(f"A {message.kind} message must use the binary container", reason="malformed")
        if len(blob) != message.body.bytes or sha256_hex(blob) != message.body.sha256:
            raise ProtocolError("Attached JPEG does not match the signed sha256/bytes", reason="hash_mismatch")
    elif blob is not None:
        raise ProtocolError(f"A {message.kind} message must be plain JSON", reason="malformed")
    return Decoded(message, signed, signature, blob)


def verify(decoded: Decoded, public_key: bytes) -> None:
    """Check the message's Ed25519 signature against a raw 32-byte public key.

    Raises:
        SignatureError: the signature does not verify.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from edge.errors import SignatureError

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(decoded.signature, decoded.signed)
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"Signature of message {decoded.message.message_id} does not verify with the key of device "
            f"{decoded.message.device_id!r}"
        ) from None


def check_reading(reading: Reading) -> str | None:
    """Return the quarantine reason for an impossible reading, or None when it is plausible."""
    spec = METRIC_RANGES.get(reading.metric)
    if spec is None:
        return QuarantineReason.UNKNOWN_METRIC.value
    if reading.unit != spec.unit:
        return QuarantineReason.WRONG_UNIT.value
    if not spec.low <= reading.value <= spec.high:  # also false for NaN
        return QuarantineReason.OUT_OF_RANGE.value
    return None


def check_counts(body: CountBody) -> str | None:
    """Return the quarantine reason for a count naming an unknown species, or None when every species is known."""
    if any(species not in SPECIES for species in body.counts):
        return QuarantineReason.UNKNOWN_SPECIES.value
    return None
