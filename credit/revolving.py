"""The revolving credit line, each change to it explained.

Draws, repayments that restore available credit, a weekly refresh from the rolling record, growth after
on-time months, and freezes or shrinks on early warnings.

- Growth is earned from the *current* run of consecutive on-time months: ``growth_share`` per
  ``growth_after_on_time_months``. A missed instalment (a ``missed_instalment`` warning of any severity)
  takes all earned growth away, and the line regrows only as new clean months accumulate.
- A warning of severity ``high`` or more shrinks the limit by ``shrink_share``; one of ``freeze_on`` or
  more freezes new draws (a missed instalment grows in severity with its days past due).
- A repayment above the drawn amount is kept as a credit balance, never dropped; a later draw uses it
  first (it is the borrower's money, so it can be drawn even while the line is frozen).
- The change log holds one entry per real change: one when the limit moves (with every cause of the
  move), one when the status moves; a refresh that changes nothing logs nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.alerts import SEVERITY_RANK, Alert
from credit.decision import APPROVED, Decision
from credit.errors import PaymentError
from credit.money import ONE, ZERO, Amount, floor_to_step, minor_unit
from credit.policy import Policy

__all__ = ["MISSED_INSTALMENT", "CreditLine", "LineChange", "draw", "open_line", "refresh_line", "repay"]

MISSED_INSTALMENT = "missed_instalment"
"""The alert code of a loan past due: it ends the growth the line has earned."""


@dataclass(frozen=True)
class CreditLine:
    """A farm's revolving line: its limit, what is drawn, status, growth steps and the borrower's credit balance.

    Attributes:
        growth_steps: growth steps in force (each adds ``growth_share`` of the decided limit).
        credit_balance: what the borrower repaid beyond the drawn amount, owed back to them.
    """

    limit: Amount
    drawn: Amount
    status: str
    refreshed_on: date
    growth_steps: int = 0
    credit_balance: Decimal = ZERO

    @property
    def available(self) -> Amount:
        """What can be drawn now: the credit balance, plus the undrawn limit while the line is active."""
        undrawn = max(self.limit.number - self.drawn.number, ZERO) if self.status == "active" else ZERO
        return Amount(undrawn + self.credit_balance, self.limit.currency)


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


def _check_amount(line: CreditLine, amount: Amount, what: str) -> None:
    places = minor_unit(line.limit.currency)
    if amount.currency != line.limit.currency or amount.number <= ZERO:
        raise PaymentError(f"{what} amount={amount}; use a positive amount in {line.limit.currency}")
    if amount.number.as_tuple().exponent < -places:  # type: ignore[operator]
        raise PaymentError(f"{what} amount={amount.number} has more than {places} decimals for {amount.currency}")


def draw(line: CreditLine, amount: Amount) -> CreditLine:
    """Draw ``amount`` from the line, from the borrower's credit balance first.

    Raises:
        PaymentError: the amount is not positive, in another currency, finer than the minor unit, or above
            what is available.
    """
    _check_amount(line, amount, "draw")
    if amount.number > line.available.number:
        raise PaymentError(f"draw amount={amount} exceeds the available {line.available} (line {line.status})")
    from_credit = min(amount.number, line.credit_balance)
    return dataclasses.replace(
        line,
        drawn=line.drawn + Amount(amount.number - from_credit, amount.currency),
        credit_balance=line.credit_balance - from_credit,
    )


def repay(line: CreditLine, amount: Amount) -> CreditLine:
    """Repay principal: the drawn balance falls, available credit is restored, any excess becomes credit balance.

    Raises:
        PaymentError: the amount is not positive, in another currency or finer than the minor unit.
    """
    _check_amount(line, amount, "repayment")
    applied = min(amount.number, line.drawn.number)
    return dataclasses.replace(
        line,
        drawn=Amount(line.drawn.number - applied, line.drawn.currency),
        credit_balance=line.credit_balance + amount.number - applied,
    )


def _grown(base: Decimal, steps: int, policy: Policy) -> Decimal:
    if not steps:
        return base
    share = policy.param("revolving", "growth_share") * steps
    return floor_to_step(min(base * (ONE + share), max(base, policy.product_cap.number)), policy.step)


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

    Args:
        line: the line as it stands.
        decision: the latest decision on the farm's rolling record (its limit is the line's base).
        on: the refresh date.
        on_time_months: the current run of consecutive on-time monthly instalments (0 after a miss).
        alerts: the farm's open early warnings, a ``missed_instalment`` among them while a loan is past due.
        policy: growth, shrink and freeze come from its ``[revolving]`` table.

    Returns the line unchanged (and no changes) when the last refresh is less than ``refresh_days`` old.
    """
    if on - line.refreshed_on < timedelta(days=int(policy.param("revolving", "refresh_days"))):
        return line, ()
    cur = line.limit.currency
    base = decision.limit.number if decision.status == APPROVED else ZERO
    missed = [a for a in alerts if a.code == MISSED_INSTALMENT]
    every = int(policy.param("revolving", "growth_after_on_time_months"))
    steps = 0 if missed or not every else on_time_months // every
    limit = _grown(base, steps, policy)
    frozen_by = [a.code for a in alerts if SEVERITY_RANK[a.severity] >= SEVERITY_RANK[policy.freeze_on]]
    shrunk_by = [a.code for a in alerts if SEVERITY_RANK[a.severity] >= SEVERITY_RANK["high"]] if not frozen_by else []
    if shrunk_by:
        limit = floor_to_step(limit * (ONE - policy.param("revolving", "shrink_share")), policy.step)
    status = "frozen" if frozen_by or base <= ZERO else "active"
    new = dataclasses.replace(
        line, limit=Amount(Decimal(limit), cur), status=status, refreshed_on=on, growth_steps=steps
    )
    changes: list[LineChange] = []
    if new.limit != line.limit:
        changes.append(
            _limit_change(
                line,
                new,
                decision=decision,
                base=base,
                on_time_months=on_time_months,
                missed=missed,
                shrunk_by=shrunk_by,
                policy=policy,
            )
        )
    if new.status != line.status:
        if status == "frozen":
            why = (
                f"new draws frozen by {', '.join(frozen_by)}"
                if frozen_by
                else "new draws frozen: the decided limit is 0"
            )
            source = "early_warning" if frozen_by else "decision"
        else:
            why, source = "new draws allowed again: no warning freezes the line", "early_warning"
        changes.append(LineChange(status if status == "frozen" else "unfrozen", why, source, new.limit, new.limit))
    return new, tuple(changes)


def _limit_change(
    old: CreditLine,
    new: CreditLine,
    *,
    decision: Decision,
    base: Decimal,
    on_time_months: int,
    missed: list[Alert],
    shrunk_by: list[str],
    policy: Policy,
) -> LineChange:
    """The one entry of a limit move, naming every cause that is in force."""
    cur = new.limit.currency
    share = policy.param("revolving", "growth_share")
    earned, had = f"+{share * new.growth_steps * 100:.0f}%", f"+{share * old.growth_steps * 100:.0f}%"
    causes = [f"the decision of {decision.as_of.date()} ({decision.status}) sets {Amount(base, cur)}"]
    code, source = "refreshed", "decision"
    if missed:
        causes.append(missed[0].message + (f"; the {had} growth earned is lost" if old.growth_steps else ""))
    elif new.growth_steps:
        causes.append(f"{on_time_months} consecutive on-time months: {earned}")
    elif old.growth_steps:
        causes.append(f"{on_time_months} consecutive on-time months: the {had} growth is lost")
    if new.growth_steps > old.growth_steps:
        code, source = "grown", "repayments"
    elif new.growth_steps < old.growth_steps:
        code, source = "growth_lost", "repayments"
    if shrunk_by:
        causes.append(f"shrunk by {policy.param('revolving', 'shrink_share') * 100:.0f}% for {', '.join(shrunk_by)}")
        code, source = "shrunk", "early_warning"
    return LineChange(code, "; ".join(causes), source, old.limit, new.limit)
