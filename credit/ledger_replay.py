"""The ledger replay behind loan servicing: instalments' remaining amounts while payments are applied in date order.

One :class:`LedgerReplay` per replay. A payment first settles what is due at its date (every
instalment whose due date has come), component by component in the policy's order, oldest instalment
first. What is left is in advance, and goes where the product's strategy and recalculation say:

- it pays the loan off when it covers the payoff amount: the outstanding principal plus the interest
  accrued to the payment date (daily, on the current period's opening balance), and anything due;
  the interest not yet accrued is waived;
- ``standard``: the next instalments are settled as if paid on time (fees, interest, then principal);
- ``early-payment``: the current instalment's fees and interest, then principal of the next instalments;
- with a recalculation (``reduce-amount``, ``reduce-term``) the current instalment is settled as on
  time and the rest prepays principal; the later instalments are laid out again and their interest
  recomputed on the lower balance (never above the scheduled interest).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal

from credit.money import ZERO, minor_unit, quantize
from credit.schedule import DAYS_PER_YEAR, Schedule
from vocabulary.lending import DUE_COMPONENTS, AllocationStrategy, PrepaymentRecalculation

__all__ = ["AdvanceResult", "LedgerReplay", "Row"]

SCHEDULED = ("fees", "interest", "principal")


@dataclass
class Row:
    """One instalment while the ledger is replayed: its period, current interest and what is left of it."""

    number: int
    period_start: date
    due_date: date
    days: int
    interest: Decimal
    left: dict[str, Decimal]
    penalized: bool = False
    settled_on: date | None = None

    def scheduled_left(self) -> Decimal:
        """Fees, interest and principal still owed (penalty apart)."""
        return self.left["fees"] + self.left["interest"] + self.left["principal"]

    def owed(self) -> Decimal:
        """Everything still owed, penalty included."""
        return self.scheduled_left() + self.left["penalty"]


@dataclass
class AdvanceResult:
    """What the in-advance part of a payment paid, by component, and what it waived or left unapplied."""

    paid: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(DUE_COMPONENTS, ZERO))
    waived_interest: Decimal = ZERO
    unapplied: Decimal = ZERO


class LedgerReplay:
    """Remaining amounts per instalment while payments are replayed (see the module's rules)."""

    def __init__(
        self,
        schedule: Schedule,
        *,
        order: tuple[str, ...],
        strategy: str = AllocationStrategy.STANDARD,
        recalculation: str = PrepaymentRecalculation.NONE,
    ) -> None:
        self.rate = schedule.rate
        self.places = minor_unit(schedule.principal.currency)
        self.order = order
        self.strategy = strategy
        self.recalculation = recalculation
        starts = [schedule.start, *(r.due_date for r in schedule.instalments)]
        self.rows = [
            Row(
                r.number,
                starts[k],
                r.due_date,
                r.days,
                r.interest,
                {"penalty": ZERO, "fees": r.fees, "interest": r.interest, "principal": r.principal},
            )
            for k, r in enumerate(schedule.instalments)
        ]

    # -- reading ---------------------------------------------------------------------------------------

    def due(self, on: date) -> list[Row]:
        """Instalments whose due date has come on ``on``."""
        return [r for r in self.rows if r.due_date <= on]

    def current(self, on: date) -> Row | None:
        """The instalment whose period contains ``on`` (the first not yet due), or None after maturity."""
        return next((r for r in self.rows if r.due_date > on), None)

    def outstanding_principal(self) -> Decimal:
        """Principal not yet repaid."""
        return sum((r.left["principal"] for r in self.rows), ZERO)

    def accrued_interest_unpaid(self, on: date) -> Decimal:
        """Interest of the current period accrued up to ``on`` and not yet paid (zero after maturity)."""
        row = self.current(on)
        if row is None or row.days <= 0:
            return ZERO
        elapsed = (on - row.period_start).days
        accrued = quantize(row.interest * Decimal(elapsed) / Decimal(row.days), places=self.places)
        paid = row.interest - row.left["interest"]
        return max(accrued - paid, ZERO)

    def payoff_amount(self, on: date) -> Decimal:
        """What closes the loan on ``on``: everything due, the outstanding principal and the interest accrued."""
        due = sum((r.owed() for r in self.due(on)), ZERO)
        ahead = sum((r.left["principal"] for r in self.rows if r.due_date > on), ZERO)
        return due + ahead + self.accrued_interest_unpaid(on)

    def closed(self) -> bool:
        """Whether nothing is owed any more."""
        return all(r.owed() == ZERO for r in self.rows)

    # -- changing --------------------------------------------------------------------------------------

    def charge_late_fees(self, on: date, grace_days: int, late_fee: Decimal) -> None:
        """Charge ``late_fee`` once on each instalment still unpaid ``grace_days`` after its due date."""
        for r in self.rows:
            late = on > r.due_date + timedelta(days=grace_days)
            if late and not r.penalized and r.scheduled_left() > ZERO and late_fee > ZERO:
                r.left["penalty"] += late_fee
                r.penalized = True

    def mark_settled(self, on: date) -> None:
        """Record ``on`` as the settlement date of every instalment that owes nothing any more."""
        for r in self.rows:
            if r.settled_on is None and r.owed() == ZERO:
                r.settled_on = on

    def settle_due(self, amount: Decimal, on: date) -> tuple[dict[str, Decimal], Decimal]:
        """Apply ``amount`` to what is due on ``on``, component by component; return the parts and the rest."""
        due = self.due(on)
        parts = dict.fromkeys(DUE_COMPONENTS, ZERO)
        left = amount
        for c in self.order:
            for r in due:
                take = min(left, r.left[c])
                r.left[c] -= take
                parts[c] += take
                left -= take
        return parts, left

    def settle_in_advance(self, amount: Decimal, on: date) -> AdvanceResult:
        """Apply ``amount``, paid on ``on`` after everything due was settled, to instalments not yet due."""
        out = AdvanceResult()
        future = [r for r in self.rows if r.due_date > on]
        if amount <= ZERO or not future:
            out.unapplied = amount
            return out
        payoff = self.payoff_amount(on)
        if amount >= payoff:
            return self._pay_off(amount, on, future, out)
        left = amount
        future = [r for r in future if r.owed() > ZERO]  # the first is the next instalment still owing
        if not future:
            out.unapplied = amount
            return out
        if self.recalculation != PrepaymentRecalculation.NONE:
            left = self._take(future[0], SCHEDULED, left, out)
            prepaid = min(left, sum((r.left["principal"] for r in future[1:]), ZERO))
            if prepaid > ZERO:
                self._prepay(future[1:], prepaid)
                out.paid["principal"] += prepaid
                left -= prepaid
        elif self.strategy == AllocationStrategy.EARLY_PAYMENT:
            left = self._take(future[0], ("fees", "interest"), left, out)
            for r in future:
                left = self._take(r, ("principal",), left, out)
        else:
            for r in future:
                left = self._take(r, SCHEDULED, left, out)
        out.unapplied = left
        return out

    def _take(self, row: Row, components: tuple[str, ...], amount: Decimal, out: AdvanceResult) -> Decimal:
        for c in (c for c in self.order if c in components):
            take = min(amount, row.left[c])
            row.left[c] -= take
            out.paid[c] += take
            amount -= take
        return amount

    def _pay_off(self, amount: Decimal, on: date, future: list[Row], out: AdvanceResult) -> AdvanceResult:
        accrued = self.accrued_interest_unpaid(on)
        for r in future:
            out.paid["principal"] += r.left["principal"]
            r.left["principal"] = ZERO
        out.paid["interest"] += accrued
        for r in future:
            out.waived_interest += r.left["interest"] + r.left["fees"]
            r.left["interest"] = r.left["fees"] = ZERO
        out.waived_interest -= accrued
        out.unapplied = amount - out.paid["principal"] - accrued
        return out

    def _prepay(self, later: list[Row], prepaid: Decimal) -> None:
        """Repay ``prepaid`` of the principal of ``later`` rows and lay them out again as the product says."""
        total = sum((r.left["principal"] for r in later), ZERO)
        if self.recalculation == PrepaymentRecalculation.REDUCE_TERM:
            rest = prepaid
            for r in reversed(later):
                take = min(rest, r.left["principal"])
                r.left["principal"] -= take
                rest -= take
        else:
            keep = total - prepaid
            step = Decimal(1).scaleb(-self.places)
            carrying = [r for r in later if r.left["principal"] > ZERO]
            for r in carrying[:-1]:
                r.left["principal"] = (r.left["principal"] * keep / total).quantize(step, rounding=ROUND_DOWN)
            carrying[-1].left["principal"] = keep - sum((r.left["principal"] for r in carrying[:-1]), ZERO)
        opening = sum((r.left["principal"] for r in later), ZERO)
        for r in later:
            fresh = quantize(opening * self.rate * Decimal(r.days) / DAYS_PER_YEAR, places=self.places)
            r.interest = min(r.interest, fresh)
            r.left["interest"] = r.interest
            opening -= r.left["principal"]
