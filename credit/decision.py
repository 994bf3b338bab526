"""The limit decision: valuation, verification, fraud and scorecard combined into one explained limit.

``limit = min(product cap, repayment capacity, asset coverage) x score multiplier x verification score``,
rounded down to the policy step, where repayment capacity is the debt-service ratio times the expected
net income over the tenor, and asset coverage is the loan-to-value times the verified herd value plus the
crop advance rate times the expected crop value. The decision lists each factor and the one that bound.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from credit.canonical import canonical_json, sha256_hex, to_plain
from credit.count_intervals import INTERVAL_PERCENT, interval_text, too_wide
from credit.errors import RecordError
from credit.fraud import FraudSignal, assess_fraud
from credit.money import ZERO, Amount, floor_to_step, quantize
from credit.policy import Policy
from credit.record import FarmRecord
from credit.scorecard import Points, Reason, score_record, scorecard_inputs
from credit.valuation import Valuation, value_production
from credit.verification import Component, score_verification, verified_days
from vocabulary.lending import DecisionStatus

APPROVED, REFERRED, DECLINED, INSUFFICIENT = (s.value for s in DecisionStatus)

__all__ = [
    "APPROVED",
    "DECLINED",
    "INSUFFICIENT",
    "LEGACY_OUTPUT_KEYS",
    "REFERRED",
    "Counterfactual",
    "Decision",
    "Factor",
    "decide_limit",
    "upgrade_stored_output",
]


@dataclass(frozen=True)
class Factor:
    """One factor of the limit and how it was computed: an amount (cap, capacity, coverage) or a multiplier."""

    name: str
    amount: Amount | None
    multiplier: Decimal | None
    explanation: str


@dataclass(frozen=True)
class Counterfactual:
    """What would change the limit: "a verified cattle herd of 14 instead of 9 would raise the limit to X"."""

    change: str
    limit: Amount
    message: str


@dataclass(frozen=True)
class Decision:
    """A credit decision with everything needed to explain and replay it.

    ``status`` is ``approved``, ``referred`` (fraud score at or above the policy's ``refer_at``: a person
    must review), ``declined`` (the limit rounds to zero) or ``insufficient_data`` (``missing`` says what).
    """

    farm_id: str
    as_of: datetime
    record_hash: str
    policy_version: str
    policy_sha256: str
    status: str
    limit: Amount
    score: int | None
    verification_score: Decimal
    fraud_score: Decimal
    multiplier: Decimal
    binding_factor: str | None
    factors: tuple[Factor, ...]
    reasons: tuple[Reason, ...]
    points: tuple[Points, ...]
    verification: tuple[Component, ...]
    fraud_signals: tuple[FraudSignal, ...]
    valuation: Valuation | None
    missing: tuple[str, ...]
    counterfactuals: tuple[Counterfactual, ...]

    def to_plain(self) -> dict[str, Any]:
        """The decision as JSON-ready values (Decimals as strings), as stored and as served."""
        plain: dict[str, Any] = to_plain(self)
        return plain

    def output_hash(self) -> str:
        """sha256 of the decision's canonical JSON (what the audit log records)."""
        return sha256_hex(canonical_json(self))


LEGACY_OUTPUT_KEYS: dict[str, dict[str, str]] = {"crops": {"cropped_ha": "observed_ha"}}
"""Keys renamed in a decision's output since it was first stored: per list under ``valuation``, old to new."""


def upgrade_stored_output(output: str) -> str:
    """A stored decision's canonical JSON with keys renamed since it was stored given their current names.

    A decision stored before issue #14 names a crop estimate's ``observed_ha`` ``cropped_ha``; upgraded,
    it compares equal with the same decision recomputed now. Current outputs come back unchanged.
    """
    plain = json.loads(output)
    valuation = plain.get("valuation") or {}
    for group, renames in LEGACY_OUTPUT_KEYS.items():
        for item in valuation.get(group, ()):
            for old, new in renames.items():
                if old in item:
                    item[new] = item.pop(old)
    return canonical_json(plain)


def _missing(record: FarmRecord, policy: Policy) -> list[str]:
    missing = []
    days = verified_days(record)
    if days < policy.min_verified_days:
        missing.append(
            f"device data on {days} days of the last {record.window_days}; "
            f"at least {policy.min_verified_days} days are needed"
        )
    active = sum(1 for d in record.devices if d.status == "active")
    if active < policy.min_devices:
        missing.append(f"{active} active signed device(s); at least {policy.min_devices} needed")
    if not record.herd_days and not any(f.observed_ha is not None for f in record.fields) and not record.deliveries:
        missing.append("no verified production: no camera counts, no observed crop area, no cooperative deliveries")
    return missing


def _with_head(record: FarmRecord, species: str, extra: int) -> FarmRecord:
    """The record with ``extra`` head on each of the species' days (its interval moved along with it)."""
    days = tuple(
        dataclasses.replace(
            d,
            head=d.head + extra,
            head_low=None if d.head_low is None else d.head_low + extra,
            head_high=None if d.head_high is None else d.head_high + extra,
        )
        if d.species == species
        else d
        for d in record.herd_days
    )
    return dataclasses.replace(record, herd_days=days)


def _counterfactuals(record: FarmRecord, policy: Policy, decision: Decision) -> tuple[Counterfactual, ...]:
    if decision.valuation is None:
        return ()
    out = []
    herds = [h for h in decision.valuation.herds if h.days > 0]
    if herds:
        top = max(herds, key=lambda h: (h.value.number, h.species))
        target = max(top.declared or 0, top.head + max(1, top.head // 2))
        alt = _decide(_with_head(record, top.species, target - top.head), policy, explain=False)
        if alt.limit.number > decision.limit.number:
            out.append(
                Counterfactual(
                    f"{top.species}_head={target}",
                    alt.limit,
                    f"A verified {top.species} herd of {target} instead of {top.head} "
                    f"would raise the limit to {alt.limit}.",
                )
            )
    short = [
        f
        for f in record.fields
        if f.declared_area_ha and f.observed_ha is not None and f.observed_ha < f.declared_area_ha
    ]
    if short:
        fields = tuple(
            f.with_observed(f.declared_area_ha) if f in short and f.declared_area_ha else f for f in record.fields
        )
        alt = _decide(dataclasses.replace(record, fields=fields), policy, explain=False)
        observed = sum((f.observed_ha or ZERO) for f in short)
        declared = sum((f.declared_area_ha or ZERO) for f in short)
        if alt.limit.number > decision.limit.number:
            out.append(
                Counterfactual(
                    f"cropped_ha={declared}",
                    alt.limit,
                    f"Satellite-confirmed cropping of {declared} ha instead of {observed} ha would raise the limit "
                    f"to {alt.limit}.",
                )
            )
    return tuple(out)


def _herd_evidence(record: FarmRecord, valuation: Valuation) -> tuple[Reason, ...]:
    """Where each verified herd figure came from: its days, frames and cameras.

    Only herd days that name their cameras (records stored since issue #14) can say so; for an older
    record this is empty, so its decision replays unchanged.
    """
    out = []
    for h in valuation.herds:
        days = [d for d in record.herd_days if d.species == h.species]
        if not days or any(d.cameras is None for d in days):
            continue
        frames, cameras = sum(d.frames for d in days), max(d.cameras or 0 for d in days)
        interval = (
            ""
            if h.head_low is None
            else f" ({INTERVAL_PERCENT} % interval {interval_text(h.head_low, h.head_high)}, valued at {h.head_low})"
        )
        out.append(
            Reason(
                "herd_evidence",
                f"Verified {h.species} herd {h.head}{interval}: the low median of {len(days)} daily figures from "
                f"{days[0].day} to {days[-1].day}; each day is the low median of each camera's counted frames, "
                f"summed over the cameras ({frames} frames from up to {cameras} camera(s); recycled, "
                "quarantined and unverified frames left out).",
                "herd_days",
            )
        )
    return tuple(out)


def _interval_flags(record: FarmRecord, policy: Policy) -> tuple[Reason, ...]:
    """One reason per camera whose count intervals are wider than its profile allows (none without intervals)."""
    return tuple(
        Reason(
            "wide_count_interval",
            f"Camera {c.device_id}/{c.camera_id or '-'} ({c.profile}) counts {c.species} with {INTERVAL_PERCENT} % "
            f"intervals {c.describe()}, wider than the {limit * 100:.0f} % allowed for {c.profile} cameras: "
            "check its counts before relying on them.",
            "camera_intervals",
        )
        for c, limit in too_wide(record.camera_intervals, dict(policy.max_relative_width))
    )


def _decide(record: FarmRecord, policy: Policy, *, explain: bool) -> Decision:
    cur = policy.currency
    zero = Amount(ZERO, cur)
    missing = _missing(record, policy)
    base: dict[str, Any] = dict(
        farm_id=record.farm_id,
        as_of=record.as_of,
        # a counterfactual's altered record is never stored: hashing it would only cost time
        record_hash=record.record_hash() if explain else "",
        policy_version=policy.version,
        policy_sha256=policy.sha256,
    )
    valuation = value_production(record, policy)
    verification = score_verification(record, policy, valuation)
    fraud = assess_fraud(record, policy)
    if missing:
        reasons = (
            tuple(Reason("insufficient_verified_data", f"Insufficient verified data: {m}.", "record") for m in missing)
            + _interval_flags(record, policy)
            + _herd_evidence(record, valuation)
        )
        return Decision(
            **base,
            status=INSUFFICIENT,
            limit=zero,
            score=None,
            verification_score=verification.score,
            fraud_score=fraud.score,
            multiplier=ZERO,
            binding_factor=None,
            factors=(),
            reasons=reasons,
            points=(),
            verification=verification.components,
            fraud_signals=fraud.signals,
            valuation=valuation,
            missing=tuple(missing),
            counterfactuals=(),
        )
    card = score_record(scorecard_inputs(record, valuation, verification), policy)
    band = policy.band_for(card.score)
    years = Decimal(policy.tenor_months) / Decimal(12)
    capacity = quantize(policy.debt_service_ratio * valuation.annual_net_income.number * years)
    coverage = quantize(
        policy.herd_ltv * valuation.herd_value.number + policy.crop_advance_rate * valuation.crop_value.number
    )
    factors: tuple[Factor, ...] = (
        Factor("product_cap", policy.product_cap, None, f"the product lends at most {policy.product_cap}"),
        Factor(
            "repayment_capacity",
            Amount(capacity, cur),
            None,
            f"{policy.debt_service_ratio} debt-service ratio x {valuation.annual_net_income} expected net income "
            f"a year x {policy.tenor_months} months",
        ),
        Factor(
            "asset_coverage",
            Amount(coverage, cur),
            None,
            f"{policy.herd_ltv} x {valuation.herd_value} verified herd + {policy.crop_advance_rate} x "
            f"{valuation.crop_value} expected crop",
        ),
    )
    binding = min(factors, key=lambda f: f.amount.number if f.amount else ZERO)
    bound = binding.amount.number if binding.amount else ZERO
    raw = bound * band.multiplier * verification.score
    limit = floor_to_step(raw, policy.step)
    factors = (
        *factors,
        Factor(
            "score_multiplier",
            None,
            band.multiplier,
            f"score {card.score} is in the band from {band.min_score}: x {band.multiplier}",
        ),
        Factor("verification_multiplier", None, verification.score, f"verification score {verification.score}"),
    )
    adverse = list(card.reasons)
    if limit == ZERO:
        status = DECLINED
        adverse.insert(
            0,
            Reason(
                "limit_zero",
                f"The limit rounds down to zero ({binding.name} bound it at "
                f"{binding.amount}, x {band.multiplier} x {verification.score}).",
                binding.name,
            ),
        )
    elif fraud.score >= policy.param("fraud", "refer_at"):
        status = REFERRED
        adverse.insert(
            0,
            Reason(
                "fraud_review",
                f"Fraud score {fraud.score} needs a person's review: "
                + "; ".join(s.message for s in fraud.signals)
                + ".",
                "fraud",
            ),
        )
    else:
        status = APPROVED
    decision = Decision(
        **base,
        status=status,
        limit=Amount(limit, cur),
        score=card.score,
        verification_score=verification.score,
        fraud_score=fraud.score,
        multiplier=band.multiplier,
        binding_factor=binding.name,
        factors=factors,
        reasons=(*adverse, *_interval_flags(record, policy), *_herd_evidence(record, valuation)),
        points=card.lines,
        verification=verification.components,
        fraud_signals=fraud.signals,
        valuation=valuation,
        missing=(),
        counterfactuals=(),
    )
    if explain:
        decision = dataclasses.replace(decision, counterfactuals=_counterfactuals(record, policy, decision))
    return decision


def decide_limit(record: FarmRecord, policy: Policy, *, as_of: datetime | None = None) -> Decision:
    """Decide the credit limit of the farm in ``record`` under ``policy``, with every reason and factor.

    Args:
        record: the frozen production record (its ``as_of`` is the decision time).
        policy: the parsed credit policy.
        as_of: when given, must equal ``record.as_of`` (a guard against scoring a stale record).

    Raises:
        RecordError: ``as_of`` differs from the record's, or the record names a species or crop the
            policy cannot value.
    """
    if as_of is not None and as_of != record.as_of:
        raise RecordError(
            f"as_of={as_of.isoformat()} differs from the record's as_of={record.as_of.isoformat()}; "
            "load the record for the decision time"
        )
    return _decide(record, policy, explain=True)
