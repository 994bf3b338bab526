"""Production valuation: a robust verified herd per species and the value of crops and deliveries.

The herd estimate of a species is the low median of its daily figures over the window (a count that
appears on one day only cannot lift it), with the median absolute deviation as its spread. Each daily
figure is already robust: per camera the low median of that day's evidence frames (:class:`credit.record.HerdDay`).
When every daily figure carries a count interval, the estimate's interval is the low median of the daily
lower ends and of the daily upper ends, and the herd is valued at the lower end: a lender lends on what
the cameras can vouch for at the stated coverage, not on their point guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from statistics import median_low

from credit.canonical import OMIT_IF_NONE
from credit.errors import PolicyError, RecordError
from credit.money import ZERO, Amount, quantize
from credit.policy import Policy
from credit.record import FarmRecord

__all__ = ["CropEstimate", "HerdEstimate", "Valuation", "herd_estimates", "herd_intervals", "value_production"]


@dataclass(frozen=True)
class HerdEstimate:
    """The verified head count of one species: low median of the daily figures, its spread (MAD) and days seen.

    ``head_low``/``head_high`` are its count interval (None unless every daily figure has one, as in every
    decision stored before count intervals; ``head_high`` alone None: unbounded above); ``value`` is
    ``head_low`` (else ``head``) x the price per head.
    """

    species: str
    head: int
    spread: int
    days: int
    declared: int | None
    value: Amount
    annual_net_income: Amount
    head_low: int | None = field(default=None, metadata=OMIT_IF_NONE)
    head_high: int | None = field(default=None, metadata=OMIT_IF_NONE)


@dataclass(frozen=True)
class CropEstimate:
    """Expected crop of one field: observed ha x expected yield x price.

    ``observed_ha`` is the area the satellite confirms for the declared use: grassland for a meadow or
    pasture, cropped area for an annual crop (decisions stored before issue #14 name it ``cropped_ha``).
    """

    field_id: str
    crop: str
    observed_ha: Decimal
    yield_t_ha: Decimal
    value: Amount
    annual_net_income: Amount


@dataclass(frozen=True)
class Valuation:
    """Everything the farm verifiably produces, valued in the policy's currency."""

    herds: tuple[HerdEstimate, ...]
    crops: tuple[CropEstimate, ...]
    other_income_annual_net: Amount
    herd_value: Amount
    crop_value: Amount
    annual_net_income: Amount

    def head(self, species: str) -> int:
        """Verified head of ``species`` (0 when never counted)."""
        return next((h.head for h in self.herds if h.species == species), 0)


def herd_estimates(record: FarmRecord) -> dict[str, tuple[int, int, int]]:
    """Return ``{species: (head, spread, days)}`` from the record's daily herd figures."""
    out: dict[str, tuple[int, int, int]] = {}
    for species in record.species():
        daily = [d.head for d in record.herd_days if d.species == species]
        if not daily:
            continue
        head = median_low(daily)
        spread = median_low([abs(m - head) for m in daily])
        out[species] = (head, spread, len(daily))
    return out


def herd_intervals(record: FarmRecord) -> dict[str, tuple[int, int | None]]:
    """Return ``{species: (low, high)}``: low medians of the daily interval ends (species whose every day has one).

    An unbounded upper end (None) sorts above every bounded one; ``high`` is None when the median is one.
    """
    out: dict[str, tuple[int, int | None]] = {}
    for species in record.species():
        days = [d for d in record.herd_days if d.species == species]
        lows = [d.head_low for d in days if d.head_low is not None]
        if days and len(lows) == len(days):
            highs = sorted(days, key=lambda d: (d.head_high is None, d.head_high or 0))
            out[species] = (median_low(lows), highs[(len(highs) - 1) // 2].head_high)
    return out


def value_production(record: FarmRecord, policy: Policy) -> Valuation:
    """Value the verified herd, the observed crops and the cooperative deliveries of ``record``.

    Raises:
        RecordError: the record names a species or crop the policy cannot value, or a delivery is in
            another currency than the policy's.
    """
    cur = policy.currency
    herds = []
    estimates = herd_estimates(record)
    intervals = herd_intervals(record)
    for species in record.species():
        try:
            terms = policy.species_terms(species)
        except PolicyError as exc:
            raise RecordError(f"record species {species!r} cannot be valued: {exc}") from None
        head, spread, days = estimates.get(species, (0, 0, 0))
        low, high = intervals.get(species, (None, None))
        value = Decimal(head if low is None else low) * terms.price_per_head
        income = value * terms.annual_offtake * terms.net_margin
        herds.append(
            HerdEstimate(
                species,
                head,
                spread,
                days,
                record.declared(species),
                Amount(quantize(value), cur),
                Amount(quantize(income), cur),
                head_low=low,
                head_high=high,
            )
        )
    crops = []
    for f in record.fields:
        observed_ha = f.observed_ha  # grassland for a declared meadow, cropped area otherwise
        if f.declared_crop is None or observed_ha is None:
            continue
        try:
            terms_c = policy.crop_terms(f.declared_crop)
        except PolicyError as exc:
            raise RecordError(f"field {f.field_id} declared_crop: {exc}") from None
        yield_t_ha = terms_c.yield_for(record.region)
        value = observed_ha * yield_t_ha * terms_c.price_per_t
        crops.append(
            CropEstimate(
                f.field_id,
                f.declared_crop,
                observed_ha,
                yield_t_ha,
                Amount(quantize(value), cur),
                Amount(quantize(value * terms_c.net_margin), cur),
            )
        )
    delivered = ZERO
    for d in record.deliveries:
        if d.amount.currency != cur:
            raise RecordError(f"delivery on {d.day} is in {d.amount.currency}; policy {policy.version} values in {cur}")
        delivered += d.amount.number
    other = quantize(delivered * Decimal(365) / Decimal(record.window_days) * policy.other_income_net_margin)
    herd_value = sum((h.value.number for h in herds), ZERO)
    crop_value = sum((c.value.number for c in crops), ZERO)
    income = (
        sum((h.annual_net_income.number for h in herds), ZERO)
        + sum((c.annual_net_income.number for c in crops), ZERO)
        + other
    )
    return Valuation(
        tuple(herds),
        tuple(crops),
        Amount(other, cur),
        Amount(herd_value, cur),
        Amount(crop_value, cur),
        Amount(income, cur),
    )
