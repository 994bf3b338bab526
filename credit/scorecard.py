"""A transparent points scorecard: every point comes from a named input, and lost points become reasons."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from credit.policy import Policy
from credit.record import FarmRecord
from credit.valuation import Valuation
from credit.verification import Verification, verified_days

__all__ = ["Points", "Reason", "Scorecard", "score_record", "scorecard_inputs"]


class Reason(NamedTuple):
    """Why a decision came out as it did: a stable code, a plain-words message, and the input it came from."""

    code: str
    message: str
    source: str


@dataclass(frozen=True)
class Points:
    """The points one characteristic earned, out of the most it could."""

    name: str
    value: Decimal | None
    points: int
    max_points: int


@dataclass(frozen=True)
class Scorecard:
    """The score (base points plus every line) and the adverse reasons, worst first."""

    score: int
    lines: tuple[Points, ...]
    reasons: tuple[Reason, ...]


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal(1))}%"


_MESSAGES = {
    "verification_score": lambda v: f"Only {_pct(v)} of the record is backed by signed device data.",
    "coverage_days": lambda v: f"Device data covers {v} days of the window; more days of data would help.",
    "herd_agreement": lambda v: f"The cameras confirm {_pct(v)} of the declared herd.",
    "area_agreement": lambda v: f"Satellite images confirm {_pct(v)} of the declared cropped area.",
    "repayment_on_time_share": lambda v: f"{_pct(v)} of past instalments were paid on time.",
    "max_days_past_due": lambda v: f"A past loan was {v} days past due.",
    "income_sources": lambda v: f"Income comes from {v} verified source(s); more sources spread the risk.",
}
_MISSING = {
    "herd_agreement": "No declared herd to confirm with camera counts.",
    "area_agreement": "No declared field area to confirm with satellite images.",
    "repayment_on_time_share": "No repayment history yet.",
    "max_days_past_due": "No repayment history yet.",
}


def scorecard_inputs(record: FarmRecord, valuation: Valuation, verification: Verification) -> dict[str, Decimal | None]:
    """The value of each scorecard characteristic for ``record`` (None where the input is missing)."""
    components = {c.name: c.value for c in verification.components}
    due = sum(p.instalments_due for p in record.past_loans)
    on_time = sum(p.instalments_on_time for p in record.past_loans)
    sources = sum(1 for h in valuation.herds if h.head > 0) + sum(1 for c in valuation.crops if c.observed_ha > 0)
    sources += 1 if record.deliveries else 0
    return {
        "verification_score": verification.score,
        "coverage_days": Decimal(verified_days(record)),
        "herd_agreement": components.get("herd_agreement"),
        "area_agreement": components.get("area_agreement"),
        "repayment_on_time_share": (Decimal(on_time) / Decimal(due)).quantize(Decimal("0.0001")) if due else None,
        "max_days_past_due": Decimal(max(p.max_days_past_due for p in record.past_loans))
        if record.past_loans
        else None,
        "income_sources": Decimal(sources),
    }


def score_record(inputs: dict[str, Decimal | None], policy: Policy) -> Scorecard:
    """Apply the policy's scorecard to ``inputs``; the reasons are the lines that lost points, worst first."""
    lines = []
    for c in policy.characteristics:
        value = inputs.get(c.name)
        lines.append(Points(c.name, value, c.points_for(value), c.max_points))
    score = policy.base_points + sum(p.points for p in lines)
    adverse = sorted((p for p in lines if p.points < p.max_points), key=lambda p: (p.points - p.max_points, p.name))
    reasons = tuple(
        Reason(
            f"{p.name}_low" if p.value is not None else f"{p.name}_missing",
            (_MESSAGES[p.name](p.value) if p.value is not None else _MISSING.get(p.name, f"No data for {p.name}."))
            + f" ({p.points} of {p.max_points} points)",
            p.name,
        )
        for p in adverse[: policy.top_reasons]
    )
    return Scorecard(score, tuple(lines), reasons)
