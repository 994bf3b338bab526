"""Plain factory functions that build farm records in a few words (domain notation for the tests)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from credit import D, DeviceCoverage, FarmRecord, FieldRecord, HerdDay, PastLoan, SensorDay

AS_OF = datetime(2025, 6, 30, tzinfo=UTC)


def herd(species: str, counts: list[int], *, as_of: datetime = AS_OF) -> tuple[HerdDay, ...]:
    """Daily maxima, the last one on the day before ``as_of``."""
    start = as_of.date() - timedelta(days=len(counts))
    return tuple(HerdDay(start + timedelta(days=i), species, n, 3) for i, n in enumerate(counts))


def camera(device_id: str = "cam-1", *, days: int = 60, expected: int = 1440, missing: int = 0) -> DeviceCoverage:
    return DeviceCoverage(device_id, "active", expected - missing, expected, missing, days, AS_OF - timedelta(hours=1))


def water(litres_per_day: list[int], *, device_id: str = "meter-1", as_of: datetime = AS_OF) -> tuple[SensorDay, ...]:
    start = as_of.date() - timedelta(days=len(litres_per_day))
    return tuple(
        SensorDay(
            start + timedelta(days=i),
            device_id,
            "water_flow_l_min",
            96,
            (Decimal(v) / 1440).quantize(Decimal("0.0001")),
            D(0),
            D(v) / 100,
            D("0.5"),
        )
        for i, v in enumerate(litres_per_day)
    )


def field(field_id: str, crop: str, declared_ha: str, cropped_ha: str | None) -> FieldRecord:
    return FieldRecord(field_id, crop, D(declared_ha), D(cropped_ha) if cropped_ha is not None else None, 12)


def good_payer(loans: int = 1) -> tuple[PastLoan, ...]:
    return tuple(PastLoan(f"loan-{i}", 12, 12, 0, True) for i in range(loans))


def farm(
    *, cattle: list[int] | None = None, declared: dict[str, int] | None = None, days: int = 60, **extra: object
) -> FarmRecord:
    """A dairy farm with one camera over ``days`` days: ``farm(cattle=[12] * 60, declared={"cattle": 12})``."""
    counts = cattle if cattle is not None else [12] * days
    kwargs: dict[str, object] = {
        "farm_id": "farm-1",
        "as_of": AS_OF,
        "window_days": 60,
        "region": "nakuru",
        "declared_herd": tuple((declared or {"cattle": 12}).items()),
        "herd_days": herd("cattle", counts) if counts else (),
        "devices": (camera(days=len(counts)),),
    }
    kwargs.update(extra)
    return FarmRecord(**kwargs)  # type: ignore[arg-type]
