"""The revolving credit line, each change to it explained.

Draws, repayments that restore available credit, a weekly refresh from the rolling record, growth after
on-time months, and freezes or shrinks on early warnings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.alerts import SEVERITY_RANK, Alert
from credit.decision import APPROVED, Decision
from credit.errors import PaymentError
from credit.money import ONE, ZERO, Amount, floor_to_step
from credit.policy import Policy

__all__ = ["CreditLine", "LineChange", "draw", "open_line", "refresh_line", "repay"]


@dataclass(frozen=True)
class CreditLine:
    """A farm's revolving line: its limit, what is drawn, status, and the growth steps earned."""

    limit: Amount
    drawn: Amount
    status: str
    refreshed_on: date
    growth_steps: int = 0

    @property
    def available(self) -> Amount:
        """What can be drawn now (zero while frozen)."""
        if self.status != "active":
            return Amount(ZERO, self.limit.currency)
        return Amount(max(self.limit.number - self.drawn.number, ZERO), self.limit.currency)


@dataclass(frozen=True)
class LineChange:
    """One change to a line, explained per input."""

    code: str
    message: str
    source: str
    old_limit: Amount
    new_limit: Amount


def open_line(decision: Decision, *, on: date) -> CreditLine:
    """A line from a decision (an unapproved decision opens a frozen line with a zero limit)."""
    status = "active" if decision.status == APPROVED else "frozen"
    return CreditLine(decision.limit, Amount(ZERO, decision.limit.currency), status, on)


def draw(line: CreditLine, amount: Amount) -> CreditLine:
    """Draw ``amount`` from the line.

    Raises:
        PaymentError: the amount is not positive, in another currency, or above what is available.
    """
    if amount.currency != line.limit.currency or amount.number <= ZERO:
        raise PaymentError(f"draw amount={amount}; use a positive amount in {line.limit.currency}")
    if amount.number > line.available.number:
        raise PaymentError(f"draw amount={amount} exceeds the available {line.available} (line {line.status})")
    return dataclasses.replace(line, drawn=line.drawn + amount)


def repay(line: CreditLine, amount: Amount) -> CreditLine:
    """Repay principal: the drawn balance falls and available credit is restored.

    Raises:
        PaymentError: the amount is not positive or in another currency.
    """
    if amount.currency != line.limit.currency or amount.number <= ZERO:
        raise PaymentError(f"repayment amount={amount}; use a positive amount in {line.limit.currency}")
    return dataclasses.replace(line, drawn=Amount(max(line.drawn.number - amount.number, ZERO), line.drawn.currency))


def refresh_line(
    line: CreditLine,
    *,
    decision: Decision,
    on: date,
    on_time_months: int,
    alerts: tuple[Alert, ...] | list[Alert],
    policy: Policy,
) -> tuple[CreditLine, tuple[LineChange, ...]]:
    """Refresh the line from a new decision on the rolling window, then apply growth and warnings.

    Returns the line unchanged (and no changes) when the last refresh is less than ``refresh_days`` old.
    """
    if on - line.refreshed_on < timedelta(days=int(policy.param("revolving", "refresh_days"))):
        return line, ()
    cur, changes = line.limit.currency, []
    old = line.limit
    base = decision.limit.number if decision.status == APPROVED else ZERO
    if base != old.number:
        changes.append(
            LineChange(
                "refreshed",
                f"the limit follows the decision of {decision.as_of.date()} ({decision.status}, {decision.limit})",
                "decision",
                old,
                Amount(base, cur),
            )
        )
    steps = line.growth_steps
    every = int(policy.param("revolving", "growth_after_on_time_months"))
    earned = on_time_months // every if every else 0
    if earned > steps:
        steps = earned
    grown = (
        floor_to_step(
            min(base * (ONE + policy.param("revolving", "growth_share") * steps), max(base, policy.product_cap.number)),
            policy.step,
        )
        if steps
        else base
    )
    if grown != base:
        changes.append(
            LineChange(
                "grown",
                f"{on_time_months} consecutive on-time months: +"
                f"{policy.param('revolving', 'growth_share') * steps * 100:.0f}%",
                "repayments",
                Amount(base, cur),
                Amount(grown, cur),
            )
        )
    limit, status = grown, "active" if base > ZERO else "frozen"
    worst = max((SEVERITY_RANK[a.severity] for a in alerts), default=-1)
    if worst >= SEVERITY_RANK[policy.freeze_on]:
        status = "frozen"
        codes = ", ".join(a.code for a in alerts if SEVERITY_RANK[a.severity] >= SEVERITY_RANK[policy.freeze_on])
        changes.append(
            LineChange(
                "frozen", f"new draws frozen by {codes}", "early_warning", Amount(limit, cur), Amount(limit, cur)
            )
        )
    elif worst >= SEVERITY_RANK["high"]:
        shrunk = floor_to_step(limit * (ONE - policy.param("revolving", "shrink_share")), policy.step)
        codes = ", ".join(a.code for a in alerts if SEVERITY_RANK[a.severity] >= SEVERITY_RANK["high"])
        changes.append(
            LineChange("shrunk", f"limit shrunk by {codes}", "early_warning", Amount(limit, cur), Amount(shrunk, cur))
        )
        limit = shrunk
    new = CreditLine(Amount(Decimal(limit), cur), line.drawn, status, on, steps)
    return new, tuple(changes)
