"""Request and response bodies, in families (``FarmBase / FarmCreate / FarmPublic / FarmsPublic``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from api.inputs import MAX_HEAD, AreaHa, Geometry, HeadCount, PlainText
from vocabulary.cameras import DEFAULT_CAMERA_PROFILE, INTERVAL_COVERAGE, CameraProfile
from vocabulary.devices import DEVICE_ID_PATTERN
from vocabulary.lending import ScheduleKind
from vocabulary.organizations import ConsentScope, OrganizationKind
from vocabulary.species import SPECIES


class OrganizationCreate(BaseModel):
    """A new organization (admin only)."""

    kind: OrganizationKind
    name: PlainText = Field(min_length=1, max_length=200)


class OrganizationPublic(BaseModel):
    """An organization."""

    id: UUID
    kind: str
    name: str


class ApiKeyPublic(BaseModel):
    """A new API key: ``key`` is shown this once and never again."""

    id: UUID
    organization_id: UUID
    key: str


class FarmBase(BaseModel):
    """What a cooperative says about a member farm."""

    name: PlainText = Field(min_length=1, max_length=200)
    country: PlainText | None = Field(default=None, min_length=2, max_length=2)
    region: PlainText | None = Field(default=None, max_length=100)
    declared_herd: dict[str, HeadCount] = Field(
        default_factory=dict,
        description=f"head per species (whole numbers, 0 to {MAX_HEAD})",
        json_schema_extra={"propertyNames": {"enum": sorted(SPECIES)}},
    )

    @field_validator("declared_herd")
    @classmethod
    def _species(cls, value: dict[str, int]) -> dict[str, int]:
        for species in value:
            if species not in SPECIES:
                raise ValueError(f"unknown species {species!r}; use one of {sorted(SPECIES)}")
        return value


class FarmCreate(FarmBase):
    """A new member farm."""


class FarmPublic(FarmBase):
    """A farm as its cooperative (or a consented lender) sees it."""

    id: UUID
    cooperative_id: UUID | None
    created_at: datetime


class FarmsPublic(BaseModel):
    """A page of farms; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[FarmPublic]
    count: int
    next_cursor: str | None


class FieldBase(BaseModel):
    """What a farmer declared about a field."""

    external_id: PlainText | None = Field(default=None, min_length=1, max_length=100)
    name: PlainText | None = Field(default=None, max_length=200)
    declared_crop: PlainText | None = Field(default=None, max_length=50)


class FieldCreate(FieldBase):
    """A new field: its outline and declared area.

    ``geometry`` is a GeoJSON Polygon or MultiPolygon in EPSG:4326 with closed rings, valid, with at most
    10,000 positions in all; ``declared_area_ha`` a decimal string with at most 4 decimal places.
    """

    geometry: Geometry
    declared_area_ha: AreaHa | None = None


class FieldPublic(FieldBase):
    """A stored field."""

    id: UUID
    farm_id: UUID
    geometry: dict[str, Any]
    declared_area_ha: Decimal | None = None


class DeviceCreate(BaseModel):
    """A device to provision: its id (also its MQTT username) and its Ed25519 public key (hex, 32 bytes)."""

    id: str = Field(pattern=DEVICE_ID_PATTERN)
    public_key_hex: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    camera_profile: CameraProfile = DEFAULT_CAMERA_PROFILE
    """How its cameras look at the animals; picks the calibration of their count intervals."""


class CameraProfileUpdate(BaseModel):
    """A device's new camera profile (its cameras were re-mounted or replaced)."""

    camera_profile: CameraProfile


class KeyRotation(BaseModel):
    """A device's new public key."""

    public_key_hex: str = Field(pattern=r"^[0-9a-fA-F]{64}$")


class DevicePublic(BaseModel):
    """A device and how it connects."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    farm_id: UUID
    status: str
    public_key_hex: str
    mqtt_username: str
    mqtt_topic_prefix: str
    last_seen_at: datetime | None = None
    camera_profile: CameraProfile = DEFAULT_CAMERA_PROFILE


class ConsentCreate(BaseModel):
    """A farmer's consent, granted through the cooperative, that a lender may see the farm.

    ``expires_at`` must carry its timezone and lie in the future.
    """

    lender_id: UUID
    expires_at: AwareDatetime
    scope: list[ConsentScope] = Field(default_factory=lambda: list(ConsentScope), min_length=1, max_length=2)

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        utc = value.astimezone(UTC)
        if utc <= datetime.now(UTC):
            raise ValueError(f"expires_at must lie in the future; {utc.isoformat()} has passed")
        return utc

    @field_validator("scope")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return sorted(set(value), key=value.index)


class ConsentPublic(BaseModel):
    """A stored consent."""

    id: UUID
    farm_id: UUID
    lender_id: UUID
    expires_at: datetime
    scope: list[str]


class HerdDayPublic(BaseModel):
    """Daily maximum head count of one species, with the interval of the frame that gave it.

    ``head_low``/``head_high`` are null for counts stored without an interval (``head_high`` alone null:
    unbounded above); ``coverage`` is the stated coverage of every interval (0.9).
    """

    day: date
    species: str
    head: int
    photos: int
    head_low: int | None = None
    head_high: int | None = None
    coverage: float = INTERVAL_COVERAGE


class CountedFramePublic(BaseModel):
    """One counted frame: its count with the count's interval, the frame and model hashes, the evidence path.

    ``count_low``/``count_high`` are null for counts stored without an interval (``count_high`` alone null:
    unbounded above, the camera's profile was calibrated on too few frames); ``coverage`` is the share of
    frames whose true count the interval is calibrated to hold (0.9).
    """

    time: datetime
    species: str
    count: int
    count_low: int | None
    count_high: int | None
    coverage: float = INTERVAL_COVERAGE
    device_id: str | None
    camera_id: str | None
    frame_sha256: str | None
    phash: str | None
    model_sha256: str | None
    evidence: str | None


class HerdPublic(BaseModel):
    """A farm's herd record over a window."""

    farm_id: UUID
    days: int
    data: list[HerdDayPublic]


class AuditEntryPublic(BaseModel):
    """An audit log entry exactly as hashed: its chain hash is recomputed from these fields."""

    seq: int
    kind: str
    created_at: datetime
    payload: str = Field(description="the canonical JSON payload, as hashed")
    prev_hash: str
    entry_hash: str
    signature: str | None = Field(
        default=None, description="the server's Ed25519 signature of the entry, hex (credit.entry_signing)"
    )


class AuditReceiptPublic(BaseModel):
    """Proof that an entry is in the audit log: verify offline with ``farmtrust audit verify-receipt``."""

    entry: AuditEntryPublic
    index: int = Field(description="the entry's leaf index in the Merkle tree (seq - 1)")
    leaf_hash: str = Field(description="SHA-256(0x00 || entry hash), hex")
    inclusion_proof: list[str] = Field(description="RFC 9162 inclusion proof, hex hashes from the leaf up")
    checkpoint: str = Field(description="the signed C2SP tlog-checkpoint note the proof leads to")


class AuditConsistencyPublic(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes."""

    model_config = ConfigDict(populate_by_name=True)

    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    proof: list[str] = Field(description="base64 hashes (RFC 9162 2.1.4); empty when from is 0 or equals to")


class AuditSignedHashPublic(BaseModel):
    """An entry as a witness sees it: its place, kind, chain hash and the server's signature (hex), no content."""

    seq: int
    kind: str
    entry_hash: str
    signature: str | None


class AuditSignaturesPublic(BaseModel):
    """The entries between two tree sizes, with what joins them to the older tree, for a witness to check."""

    model_config = ConfigDict(populate_by_name=True)

    from_size: int = Field(alias="from")
    to_size: int = Field(alias="to")
    frontier: list[str] = Field(description="base64 hashes of the older tree's complete subtrees, largest first")
    entries: list[AuditSignedHashPublic]


class CosignatureCreate(BaseModel):
    """A witness's cosigned checkpoint (the note with its tlog-cosignature/v1 line) and its public key."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(min_length=1, max_length=20_000, description="the checkpoint note, cosigned")
    witness_key: str = Field(min_length=1, max_length=500, description="the witness's vkey (type 0x04)")


class CreditLimitPublic(BaseModel):
    """A credit decision with everything needed to explain it and find it in the audit log."""

    decision_id: UUID
    farm_id: UUID
    status: str
    limit: Decimal
    currency: str
    score: int | None
    fraud_score: Decimal
    verification_score: Decimal
    binding_factor: str | None
    reasons: list[dict[str, str]]
    missing: list[str]
    counterfactuals: list[str]
    policy_version: str
    record_hash: str
    audit_entry_seq: int
    audit_receipt: str = Field(description="the audit entry's chain hash (hex)")
    receipt: AuditReceiptPublic | None = Field(
        default=None, description="the decision's transparency-log receipt (entry, inclusion proof, checkpoint)"
    )


def _no_float_money(value: Any) -> Any:
    """Money arrives as a decimal string or an integer: a JSON float is not an exact amount."""
    if isinstance(value, bool | float):
        raise ValueError("send money as a decimal string such as '1250.50', not a JSON number with a fraction")
    return value


MONEY_PATTERN = r"^(?!0+(\.0+)?$)[0-9]{1,12}(\.[0-9]{1,2})?$"
"""A positive decimal string of at most 14 digits, 2 of them decimals (what ``numeric(14, 2)`` stores)."""

Money = Annotated[
    Decimal,
    BeforeValidator(_no_float_money),
    Field(gt=0, max_digits=14, decimal_places=2, description="a decimal string, at most 2 decimals (minor unit)"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": MONEY_PATTERN, "examples": ["1250.50"]},
                {"type": "integer", "minimum": 1, "maximum": 999_999_999_999},
            ],
            "description": "a decimal string, at most 2 decimals (minor unit), or a whole number",
        }
    ),
]
"""A positive amount as stored (``numeric(14, 2)``); the route checks the currency's own minor unit."""

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a client's clock may put a repayment."""


class LoanCreate(BaseModel):
    """Open a loan from an approved decision."""

    decision_id: UUID
    principal: Money
    rate: Decimal = Field(ge=0, le=1, max_digits=7, decimal_places=6, description="nominal annual rate, e.g. 0.18")
    months: int = Field(ge=1, le=120, strict=True)
    kind: ScheduleKind = ScheduleKind.SEASONAL
    start: date
    harvest_months: list[Annotated[int, Field(ge=1, le=12, strict=True)]] = Field(default_factory=list, max_length=12)
    reviewed_by: str | None = Field(default=None, min_length=1, max_length=200)

    @field_validator("start")
    @classmethod
    def _start(cls, value: date) -> date:
        today = datetime.now(UTC).date()
        if abs((value - today).days) > 366:
            raise ValueError(f"start must be within a year of today ({today}), got {value}")
        return value


class RepaymentCreate(BaseModel):
    """A repayment received: a positive amount and a timezone-aware time, not in the future."""

    amount: Money
    paid_at: AwareDatetime

    @field_validator("paid_at")
    @classmethod
    def _paid_at(cls, value: datetime) -> datetime:
        if value > datetime.now(UTC) + CLOCK_SKEW:
            raise ValueError(f"paid_at {value.isoformat()} is in the future; send when the money was received")
        return value


class LoanPublic(BaseModel):
    """A loan with its schedule and status."""

    loan_id: UUID
    farm_id: UUID | None = None
    schedule: list[dict[str, Any]]
    apr: Decimal
    days_past_due: int | None = None
    bucket: str | None = None
    outstanding_principal: Decimal | None = None
    receipt: AuditReceiptPublic | None = Field(
        default=None, description="when the loan was just opened: its audit entry's transparency-log receipt"
    )


class LoanWriteOffCreate(BaseModel):
    """A write-off: the first day (UTC) the loan is out of the portfolio; from the loan's start to today."""

    on: date

    @field_validator("on")
    @classmethod
    def _on(cls, value: date) -> date:
        today = datetime.now(UTC).date()
        if value > today:
            raise ValueError(
                f"on {value} is in the future (today is {today} UTC); write a loan off from a day that has come"
            )
        return value


class LoanWriteOffPublic(BaseModel):
    """A loan's write-off; ``created`` is false when it was already written off from that day."""

    loan_id: UUID
    written_off_on: date
    created: bool
    receipt: AuditReceiptPublic | None = Field(
        default=None, description="the write-off's audit entry's transparency-log receipt"
    )


class PortfolioPublic(BaseModel):
    """Portfolio at risk."""

    loans: int
    outstanding: Decimal
    par30: Decimal
    par90: Decimal
