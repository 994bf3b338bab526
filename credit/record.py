"""A farm's frozen production record over a window: what a credit decision is computed from.

The record is built once (by ``store.credit_records.load_farm_record`` or by hand in tests), frozen,
and hashed before scoring, so every decision names exactly which data it used. Its tuples are sorted
on construction, so the same data always gives the same :meth:`FarmRecord.record_hash`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from credit.canonical import OMIT_IF_NONE, canonical_json, sha256_hex, to_plain
from credit.count_intervals import CameraInterval
from credit.errors import RecordError
from credit.money import Amount, D
from vocabulary.crops import is_grassland_crop
from vocabulary.species import SPECIES

__all__ = [
    "LEGACY_PAST_LOANS_KEY",
    "SPECIES",
    "CameraInterval",
    "Delivery",
    "DeviceCoverage",
    "FarmRecord",
    "FieldRecord",
    "FrameSeen",
    "HerdDay",
    "NdviPoint",
    "PastLoan",
    "SensorDay",
]


LEGACY_PAST_LOANS_KEY = "repayments"
"""The key that held :attr:`FarmRecord.past_loans` in records stored before issue #14 (whose herd days
also name ``head`` and ``frames`` ``max_count`` and ``counts``): its presence marks a record of that time."""


def _check_species(species: str, where: str) -> None:
    if species not in SPECIES:
        raise RecordError(f"{where} has unknown species {species!r}; use one of {', '.join(SPECIES)}")


@dataclass(frozen=True, order=True)
class HerdDay:
    """The verified head of one species on one day, and the frames it came from.

    Attributes:
        head: per camera, the low median of its frame counts that day, summed over the cameras (each
            camera sees different animals); recycled, quarantined and unverified frames left out.
        frames: the counted frames behind ``head``.
        cameras: how many cameras' figures were summed (None in records stored before issue #14, whose
            ``head`` was the day's largest count of any frame, under the name ``max_count``).
        head_low: the lower end of the day's count interval at the stated coverage (``vocabulary.cameras.
            INTERVAL_COVERAGE``): per camera the low median of its frames' lower bounds, summed over the
            cameras. None when a camera's frames carry no interval (and in every record stored before the
            vision issue #16, which therefore hashes as it did).
        head_high: the upper end, built the same way from the upper bounds; None when ``head_low`` is, and
            also with ``head_low`` set when the day's interval is unbounded above (a camera profile calibrated
            on too few frames: ``vision.intervals``).
    """

    day: date
    species: str
    head: int
    frames: int = 1
    cameras: int | None = field(default=None, metadata=OMIT_IF_NONE)
    head_low: int | None = field(default=None, metadata=OMIT_IF_NONE)
    head_high: int | None = field(default=None, metadata=OMIT_IF_NONE)

    def __post_init__(self) -> None:
        _check_species(self.species, f"herd day {self.day}")
        if self.head < 0 or self.frames < 1 or (self.cameras is not None and self.cameras < 1):
            raise RecordError(
                f"herd day {self.day} {self.species}: head={self.head} frames={self.frames} cameras={self.cameras}; "
                "head must be >= 0, frames and cameras >= 1"
            )
        low, high = self.head_low, self.head_high
        if (low is None and high is not None) or (low is not None and (low < 0 or (high is not None and high < low))):
            raise RecordError(
                f"herd day {self.day} {self.species}: interval {low}..{high}; give no end, the lower end "
                "(unbounded above) or both, with 0 <= head_low <= head_high"
            )


@dataclass(frozen=True, order=True)
class FrameSeen:
    """One counted camera frame's perceptual hash (for recycled-frame detection)."""

    time: datetime
    device_id: str
    phash: str
    frame_sha256: str | None = None


@dataclass(frozen=True, order=True)
class SensorDay:
    """Daily summary of one device's metric (``barn_temperature_c``, ``water_flow_l_min``, ...)."""

    day: date
    device_id: str
    metric: str
    readings: int
    mean: Decimal
    min: Decimal
    max: Decimal
    stdev: Decimal


@dataclass(frozen=True, order=True)
class DeviceCoverage:
    """How completely one signed device reported over the window."""

    device_id: str
    status: str
    messages: int
    expected_messages: int
    missing_messages: int
    days_with_data: int
    last_seen: datetime | None = None
    lat_deg: Decimal | None = None
    lon_deg: Decimal | None = None


@dataclass(frozen=True, order=True)
class NdviPoint:
    """One clear observation of a field's mean NDVI."""

    day: date
    ndvi: Decimal


@dataclass(frozen=True, order=True)
class FieldRecord:
    """A field: declared crop and area, observed cropped area (remote sensing) and its NDVI series."""

    field_id: str
    declared_crop: str | None
    declared_area_ha: Decimal | None
    cropped_ha: Decimal | None = None
    clear_observations: int = 0
    boundary: tuple[tuple[Decimal, Decimal], ...] = ()
    ndvi: tuple[NdviPoint, ...] = ()
    flags: tuple[str, ...] = ()
    grassland_ha: Decimal | None = field(default=None, metadata=OMIT_IF_NONE)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ndvi", tuple(sorted(self.ndvi)))
        for name in ("declared_area_ha", "cropped_ha", "grassland_ha"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise RecordError(f"field {self.field_id} has {name}={value}; areas must be >= 0 ha")

    @property
    def is_grassland(self) -> bool:
        """Whether the declared use is permanent grassland (a meadow or pasture), not an annual crop."""
        return is_grassland_crop(self.declared_crop)

    @property
    def observed_ha(self) -> Decimal | None:
        """The area the satellite confirms for the declared use: grassland for a meadow, else cropped area."""
        if self.is_grassland and self.grassland_ha is not None:
            return self.grassland_ha
        return self.cropped_ha

    def with_observed(self, area_ha: Decimal) -> FieldRecord:
        """This field as if ``area_ha`` had been observed for its declared use (for counterfactuals)."""
        if self.is_grassland and self.grassland_ha is not None:
            return dataclasses.replace(self, grassland_ha=area_ha)
        return dataclasses.replace(self, cropped_ha=area_ha)


@dataclass(frozen=True, order=True)
class Delivery:
    """A delivery or sale to the cooperative, with its value."""

    day: date
    product: str
    quantity: Decimal
    unit: str
    amount: Amount


@dataclass(frozen=True, order=True)
class PastLoan:
    """A summary of one earlier loan's repayment behaviour."""

    loan_id: str
    instalments_due: int
    instalments_on_time: int
    max_days_past_due: int
    closed: bool


@dataclass(frozen=True)
class FarmRecord:
    """Everything a credit decision may use about one farm, frozen over ``[as_of - window_days, as_of)``.

    Attributes:
        declared_herd: ``(species, head)`` pairs the farmer declared.
        herd_days: the verified head per species and day (see :class:`HerdDay`).
        past_loans: how each earlier loan was repaid (named ``repayments`` in records stored before
            issue #14; :meth:`from_plain` reads both, and a record stored under the old name keeps its hash).
        camera_intervals: per camera and species, how wide its count intervals were over the window
            (:class:`credit.count_intervals.CameraInterval`); None when no camera gave one (and in every
            record stored before the vision issue #16, which therefore hashes as it did).
    """

    farm_id: str
    as_of: datetime
    window_days: int = 60
    region: str | None = None
    declared_herd: tuple[tuple[str, int], ...] = ()
    herd_days: tuple[HerdDay, ...] = ()
    frames: tuple[FrameSeen, ...] = ()
    sensor_days: tuple[SensorDay, ...] = ()
    devices: tuple[DeviceCoverage, ...] = ()
    fields: tuple[FieldRecord, ...] = field(default=())
    deliveries: tuple[Delivery, ...] = ()
    past_loans: tuple[PastLoan, ...] = ()
    camera_intervals: tuple[CameraInterval, ...] | None = field(default=None, metadata=OMIT_IF_NONE)

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise RecordError(f"as_of={self.as_of!r} has no time zone; pass a timezone-aware UTC datetime")
        if not 1 <= self.window_days <= 730:
            raise RecordError(f"window_days={self.window_days} is out of range; use 1 to 730 days")
        for species, head in self.declared_herd:
            _check_species(species, "declared_herd")
            if head < 0:
                raise RecordError(f"declared_herd {species}={head}; head counts must be >= 0")
        for name in (
            "declared_herd",
            "herd_days",
            "frames",
            "sensor_days",
            "devices",
            "fields",
            "deliveries",
            "past_loans",
        ):
            object.__setattr__(self, name, tuple(sorted(getattr(self, name))))
        if self.camera_intervals is not None:
            # None, not (), when no camera had intervals: a record without them hashes as before issue #16
            object.__setattr__(self, "camera_intervals", tuple(sorted(self.camera_intervals)) or None)
        start = self.window_start.date()
        for day in self.herd_days:
            if not start <= day.day <= self.as_of.date():
                raise RecordError(f"herd day {day.day} lies outside the window {start}..{self.as_of.date()}")

    @property
    def window_start(self) -> datetime:
        """First instant of the window."""
        return self.as_of - timedelta(days=self.window_days)

    def declared(self, species: str) -> int | None:
        """The declared head count of ``species``, or None when not declared."""
        return dict(self.declared_herd).get(species)

    def species(self) -> tuple[str, ...]:
        """Species that are declared or counted, sorted."""
        return tuple(sorted({s for s, _ in self.declared_herd} | {d.species for d in self.herd_days}))

    def to_plain(self) -> dict[str, Any]:
        """Return the record as JSON-ready values (Decimals as strings)."""
        plain: dict[str, Any] = to_plain(self)
        return plain

    @cached_property
    def canonical(self) -> str:
        """The record's canonical JSON, computed once (the record is immutable)."""
        return canonical_json(self)

    def record_hash(self) -> str:
        """sha256 of the record's canonical JSON: the name of exactly this data."""
        return sha256_hex(self.canonical)

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> FarmRecord:
        """Rebuild a record from :meth:`to_plain`'s output (for replaying a stored decision).

        Raises:
            RecordError: a field is missing or malformed.
        """
        try:
            record = cls(
                farm_id=data["farm_id"],
                as_of=datetime.fromisoformat(data["as_of"]),
                window_days=int(data["window_days"]),
                region=data.get("region"),
                declared_herd=tuple((s, int(n)) for s, n in data.get("declared_herd", ())),
                herd_days=tuple(
                    HerdDay(
                        date.fromisoformat(h["day"]),
                        h["species"],
                        int(h["head"] if "head" in h else h["max_count"]),
                        int(h["frames"] if "frames" in h else h["counts"]),
                        cameras=int(h["cameras"]) if h.get("cameras") is not None else None,
                        head_low=int(h["head_low"]) if h.get("head_low") is not None else None,
                        head_high=int(h["head_high"]) if h.get("head_high") is not None else None,
                    )
                    for h in data.get("herd_days", ())
                ),
                frames=tuple(
                    FrameSeen(datetime.fromisoformat(f["time"]), f["device_id"], f["phash"], f.get("frame_sha256"))
                    for f in data.get("frames", ())
                ),
                sensor_days=tuple(
                    SensorDay(
                        date.fromisoformat(s["day"]),
                        s["device_id"],
                        s["metric"],
                        int(s["readings"]),
                        D(s["mean"]),
                        D(s["min"]),
                        D(s["max"]),
                        D(s["stdev"]),
                    )
                    for s in data.get("sensor_days", ())
                ),
                devices=tuple(
                    DeviceCoverage(
                        d["device_id"],
                        d["status"],
                        int(d["messages"]),
                        int(d["expected_messages"]),
                        int(d["missing_messages"]),
                        int(d["days_with_data"]),
                        datetime.fromisoformat(d["last_seen"]) if d.get("last_seen") else None,
                        _opt_d(d.get("lat_deg")),
                        _opt_d(d.get("lon_deg")),
                    )
                    for d in data.get("devices", ())
                ),
                fields=tuple(
                    FieldRecord(
                        f["field_id"],
                        f.get("declared_crop"),
                        _opt_d(f.get("declared_area_ha")),
                        _opt_d(f.get("cropped_ha")),
                        int(f.get("clear_observations", 0)),
                        tuple((D(x), D(y)) for x, y in f.get("boundary", ())),
                        tuple(NdviPoint(date.fromisoformat(p["day"]), D(p["ndvi"])) for p in f.get("ndvi", ())),
                        tuple(f.get("flags", ())),
                        grassland_ha=_opt_d(f.get("grassland_ha")),
                    )
                    for f in data.get("fields", ())
                ),
                deliveries=tuple(
                    Delivery(
                        date.fromisoformat(d["day"]),
                        d["product"],
                        D(d["quantity"]),
                        d["unit"],
                        Amount(D(d["amount"]["number"]), d["amount"]["currency"]),
                    )
                    for d in data.get("deliveries", ())
                ),
                past_loans=tuple(
                    PastLoan(
                        p["loan_id"],
                        int(p["instalments_due"]),
                        int(p["instalments_on_time"]),
                        int(p["max_days_past_due"]),
                        bool(p["closed"]),
                    )
                    for p in data.get("past_loans", data.get(LEGACY_PAST_LOANS_KEY, ()))
                ),
                camera_intervals=tuple(
                    CameraInterval(
                        c["device_id"],
                        c["camera_id"],
                        c["species"],
                        c["profile"],
                        int(c["days"]),
                        int(c["head_total"]),
                        int(c["width_total"]),
                        int(c.get("unbounded_days", 0)),
                    )
                    for c in data["camera_intervals"]
                )
                if data.get("camera_intervals") is not None
                else None,
            )
            if LEGACY_PAST_LOANS_KEY in data:
                # stored before the rename: it hashes as the text it was stored (and decided) as
                record.__dict__["canonical"] = canonical_json(data)
            return record
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError(
                f"stored record is malformed ({type(exc).__name__}: {exc}); it cannot be replayed"
            ) from None


def _opt_d(value: object) -> Decimal | None:
    return None if value is None else D(value)
