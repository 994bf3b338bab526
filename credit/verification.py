"""Verification score (0..1): how much of the record is backed by signed device data and agrees with itself.

Components (weights from the policy; a component without data drops out and the rest are reweighted):

- ``coverage``: days with device data / window days;
- ``completeness``: received / expected messages by sequence number (gaps lower it);
- ``uptime``: device-days with data / (active devices x window days);
- ``herd_agreement``: counted / declared head, capped at 1, weighted by declared value;
- ``area_agreement``: observed / declared cropped ha, capped at 1, weighted by declared area;
- ``water_consistency``: daily water draw inside the band the *declared* herd needs;
- ``count_precision``: how tight the count intervals are: the herd days' interval lower ends over their
  upper ends, each weighted by the species' price per head (1 when every interval is a single value; a
  39-46 interval gives 39/46), times the share of those days whose interval is bounded above (a day
  unbounded above has no precision). Only herd days that carry an interval take part.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from statistics import median_low

from credit.money import ONE, ZERO
from credit.policy import Policy
from credit.record import FarmRecord
from credit.valuation import Valuation

__all__ = ["Component", "Verification", "score_verification", "verified_days"]

_PLACES = Decimal("0.0001")
MINUTES_PER_DAY = Decimal(1440)


@dataclass(frozen=True)
class Component:
    """One verification component: its value in 0..1, its weight, and what it was computed from."""

    name: str
    value: Decimal
    weight: Decimal
    detail: str


@dataclass(frozen=True)
class Verification:
    """The verification score and its components."""

    score: Decimal
    components: tuple[Component, ...]


def _ratio(num: Decimal, den: Decimal) -> Decimal:
    if den <= ZERO:
        return ZERO
    return min(num / den, ONE).quantize(_PLACES)


def verified_days(record: FarmRecord) -> int:
    """Number of distinct days with device-backed counts or sensor readings."""
    return len({d.day for d in record.herd_days} | {s.day for s in record.sensor_days})


def daily_water_l(record: FarmRecord) -> Decimal | None:
    """Median daily water draw in litres (sum over meters of mean L/min x 1440), or None without meters."""
    per_day: dict[object, Decimal] = {}
    for s in record.sensor_days:
        if s.metric == "water_flow_l_min":
            per_day[s.day] = per_day.get(s.day, ZERO) + s.mean * MINUTES_PER_DAY
    return median_low(sorted(per_day.values())) if per_day else None


def _count_precision(record: FarmRecord, policy: Policy) -> tuple[str, Decimal, str] | None:
    """The ``count_precision`` component, or None when no herd day carries an interval."""
    with_interval = [d for d in record.herd_days if d.head_low is not None]
    if not with_interval:
        return None
    days = [d for d in with_interval if d.head_high is not None]
    low = sum((Decimal(d.head_low or 0) * policy.species_terms(d.species).price_per_head for d in days), ZERO)
    high = sum((Decimal(d.head_high or 0) * policy.species_terms(d.species).price_per_head for d in days), ZERO)
    tight = ONE if high == ZERO else low / high
    value = _ratio(tight * Decimal(len(days)), Decimal(len(with_interval)))
    heads = f"{sum(d.head_low or 0 for d in days)}..{sum(d.head_high or 0 for d in days)}"
    return (
        "count_precision",
        value,
        f"count intervals of {len(with_interval)} herd day(s), {len(with_interval) - len(days)} unbounded above; "
        f"the bounded ones span {heads} head in all, lower over upper ends valued",
    )


def score_verification(record: FarmRecord, policy: Policy, valuation: Valuation) -> Verification:
    """Compute the verification score of ``record`` (see the module docstring for the components)."""
    weights = dict(policy.verification_weights)
    window = Decimal(record.window_days)
    active = [d for d in record.devices if d.status == "active"]
    parts: list[tuple[str, Decimal, str]] = []
    days = verified_days(record)
    parts.append(("coverage", _ratio(Decimal(days), window), f"{days} of {record.window_days} days with device data"))
    expected = sum(d.expected_messages for d in active)
    received = sum(max(d.expected_messages - d.missing_messages, 0) for d in active)
    parts.append(
        (
            "completeness",
            _ratio(Decimal(received), Decimal(expected)),
            f"{received} of {expected} sequenced messages received",
        )
    )
    up = sum(min(d.days_with_data, record.window_days) for d in active)
    parts.append(
        (
            "uptime",
            _ratio(Decimal(up), Decimal(len(active)) * window),
            f"{up} device-days of {len(active)} active device(s) x {record.window_days} days",
        )
    )
    declared = [(h, policy.species_terms(h.species)) for h in valuation.herds if h.declared]
    if declared:
        total = sum((Decimal(h.declared or 0) * t.price_per_head for h, t in declared), ZERO)
        agree = sum((min(Decimal(h.head), Decimal(h.declared or 0)) * t.price_per_head for h, t in declared), ZERO)
        text = ", ".join(f"{h.species} {h.head} counted of {h.declared} declared" for h, _ in declared)
        parts.append(("herd_agreement", _ratio(agree, total), text))
        water = daily_water_l(record)
        if water is not None:
            low = sum((Decimal(h.declared or 0) * t.water_l_per_head_day[0] for h, t in declared), ZERO)
            high = sum((Decimal(h.declared or 0) * t.water_l_per_head_day[1] for h, t in declared), ZERO)
            if water < low:
                value = _ratio(water, low)
            elif water > high:
                value = _ratio(high, water)
            else:
                value = ONE
            parts.append(
                (
                    "water_consistency",
                    value.quantize(_PLACES),
                    f"{water.quantize(Decimal(1))} L/day against {low.quantize(Decimal(1))}.."
                    f"{high.quantize(Decimal(1))} L/day for the declared herd",
                )
            )
    precision = _count_precision(record, policy)
    if precision is not None:
        parts.append(precision)
    fields = [f for f in record.fields if f.declared_area_ha]
    if fields:
        declared_ha = sum(((f.declared_area_ha or ZERO) for f in fields), ZERO)
        observed = sum((min(f.observed_ha or ZERO, f.declared_area_ha or ZERO) for f in fields), ZERO)
        parts.append(
            ("area_agreement", _ratio(observed, declared_ha), f"{observed} ha observed of {declared_ha} ha declared")
        )
    components = tuple(Component(n, v, weights.get(n, ZERO), t) for n, v, t in parts)
    total_w = sum((c.weight for c in components), ZERO)
    score = sum((c.value * c.weight for c in components), ZERO) / total_w if total_w > ZERO else ZERO
    return Verification(score.quantize(_PLACES), components)
