"""Loan servicing: payment allocation, partial and early payment, days past due, buckets and portfolio PAR.

Payments are replayed in date order against the schedule. Each payment first settles what is due at
its date across the due instalments, component by component in the policy's order (default penalty,
fees, interest, principal), oldest instalment first. What is left prepays principal of the next
instalments; once every principal is repaid, the interest of instalments not yet due is waived (no
unearned interest). Anything beyond that stays ``unapplied`` (a credit balance to refund), so every
cent of every payment is accounted for. An instalment unpaid ``grace_days`` after its due date is
charged the policy's late fee once, as a penalty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from credit.canonical import to_plain
from credit.errors import PaymentError
from credit.money import ZERO, Amount
from credit.record import PastLoan
from credit.schedule import Schedule
from vocabulary.lending import DUE_COMPONENTS

DEFAULT_ORDER = DUE_COMPONENTS
BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")

__all__ = [
    "BUCKETS",
    "DEFAULT_ORDER",
    "Allocation",
    "Dues",
    "LoanStatus",
    "Par",
    "Payment",
    "PaymentAllocation",
    "allocate_payment",
    "bucket_for",
    "loan_status",
    "max_days_past_due",
    "past_loan",
    "portfolio_par",
]


@dataclass(frozen=True)
class Dues:
    """What is owed now, by component."""

    penalty: Decimal = ZERO
    fees: Decimal = ZERO
    interest: Decimal = ZERO
    principal: Decimal = ZERO


@dataclass(frozen=True)
class Allocation:
    """How one amount was split; ``unapplied`` is what no due absorbed."""

    penalty: Decimal
    fees: Decimal
    interest: Decimal
    principal: Decimal
    unapplied: Decimal

    @property
    def total(self) -> Decimal:
        """Sum of every part (always the amount allocated)."""
        return self.penalty + self.fees + self.interest + self.principal + self.unapplied


@dataclass(frozen=True, order=True)
class Payment:
    """A repayment received: when, how much, and its idempotency key."""

    paid_on: date
    key: str
    amount: Amount


@dataclass(frozen=True)
class PaymentAllocation:
    """How one payment was applied, including principal prepaid ahead of schedule and interest waived."""

    key: str
    paid_on: date
    allocation: Allocation
    prepaid_principal: Decimal
    waived_interest: Decimal


@dataclass(frozen=True)
class LoanStatus:
    """A loan's standing on ``as_of``."""

    as_of: date
    outstanding_principal: Amount
    arrears: Amount
    days_past_due: int
    bucket: str
    paid_total: Amount
    instalments_due: int
    instalments_paid: int
    instalments_on_time: int
    consecutive_on_time: int
    next_due_date: date | None
    next_due_amount: Amount
    closed: bool
    payments: tuple[PaymentAllocation, ...] = field(default=())

    def to_plain(self) -> dict[str, Any]:
        """The status as JSON-ready values."""
        plain: dict[str, Any] = to_plain(self)
        return plain


@dataclass(frozen=True)
class Par:
    """Portfolio at risk: outstanding principal of loans more than 30 / 90 days past due, and their shares."""

    outstanding: Amount
    at_risk_30: Amount
    at_risk_90: Amount
    par30: Decimal
    par90: Decimal
    loans: int


def allocate_payment(*, amount: Decimal, dues: Dues, order: tuple[str, ...] = DEFAULT_ORDER) -> Allocation:
    """Split ``amount`` over ``dues`` in ``order``; the rest is ``unapplied``.

    Raises:
        PaymentError: ``amount`` is negative, or ``order`` does not list each component once.
    """
    if amount < ZERO:
        raise PaymentError(f"amount={amount} is negative; a payment must be zero or more")
    if sorted(order) != sorted(DEFAULT_ORDER):
        raise PaymentError(f"allocation order {order} must list each of {', '.join(DEFAULT_ORDER)} once")
    left = amount
    parts: dict[str, Decimal] = {}
    for name in order:
        take = min(left, max(getattr(dues, name), ZERO))
        parts[name] = take
        left -= take
    return Allocation(parts["penalty"], parts["fees"], parts["interest"], parts["principal"], left)


def bucket_for(days_past_due: int) -> str:
    """The arrears bucket of ``days_past_due``: current, 1-30, 31-60, 61-90 or 90+."""
    if days_past_due <= 0:
        return "current"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


class _Book:
    """Remaining amounts per instalment while payments are replayed."""

    def __init__(self, schedule: Schedule) -> None:
        self.rows = list(schedule.instalments)
        self.left = [
            {"penalty": ZERO, "fees": r.fees, "interest": r.interest, "principal": r.principal} for r in self.rows
        ]
        self.penalized = [False] * len(self.rows)
        self.settled_on: list[date | None] = [None] * len(self.rows)

    def scheduled_left(self, i: int) -> Decimal:
        return self.left[i]["fees"] + self.left[i]["interest"] + self.left[i]["principal"]

    def charge_late_fees(self, on: date, grace_days: int, late_fee: Decimal) -> None:
        for i, r in enumerate(self.rows):
            late = on > r.due_date + timedelta(days=grace_days)
            if late and not self.penalized[i] and self.scheduled_left(i) > ZERO and late_fee > ZERO:
                self.left[i]["penalty"] += late_fee
                self.penalized[i] = True

    def mark_settled(self, on: date) -> None:
        for i in range(len(self.rows)):
            if self.settled_on[i] is None and self.scheduled_left(i) == ZERO and self.left[i]["penalty"] == ZERO:
                self.settled_on[i] = on

    def apply(self, payment: Payment, order: tuple[str, ...]) -> PaymentAllocation:
        due = [i for i, r in enumerate(self.rows) if r.due_date <= payment.paid_on]
        totals = Dues(**{c: sum((self.left[i][c] for i in due), ZERO) for c in DEFAULT_ORDER})
        alloc = allocate_payment(amount=payment.amount.number, dues=totals, order=order)
        for c in DEFAULT_ORDER:
            budget = getattr(alloc, c)
            for i in due:
                take = min(budget, self.left[i][c])
                self.left[i][c] -= take
                budget -= take
        extra, prepaid, waived = alloc.unapplied, ZERO, ZERO
        future = [i for i, r in enumerate(self.rows) if r.due_date > payment.paid_on]
        for i in future:
            take = min(extra, self.left[i]["principal"])
            self.left[i]["principal"] -= take
            extra -= take
            prepaid += take
        if prepaid > ZERO and all(self.left[i]["principal"] == ZERO for i in range(len(self.rows))):
            for i in future:
                waived += self.left[i]["interest"] + self.left[i]["fees"]
                self.left[i]["interest"] = self.left[i]["fees"] = ZERO
        final = Allocation(alloc.penalty, alloc.fees, alloc.interest, alloc.principal + prepaid, extra)
        self.mark_settled(payment.paid_on)
        return PaymentAllocation(payment.key, payment.paid_on, final, prepaid, waived)


def loan_status(
    *,
    schedule: Schedule,
    payments: tuple[Payment, ...] | list[Payment],
    as_of: date,
    order: tuple[str, ...] = DEFAULT_ORDER,
    grace_days: int = 0,
    late_fee: Decimal = ZERO,
) -> LoanStatus:
    """Replay ``payments`` up to ``as_of`` against ``schedule`` and report the loan's standing.

    Raises:
        PaymentError: a payment is not positive or is in another currency than the loan.
    """
    cur = schedule.principal.currency
    book = _Book(schedule)
    done = []
    paid = ZERO
    for p in sorted(payments):
        if p.amount.currency != cur:
            raise PaymentError(f"payment {p.key} is in {p.amount.currency}; the loan is in {cur}")
        if p.amount.number <= ZERO:
            raise PaymentError(f"payment {p.key} amount={p.amount.number}; a payment must be greater than zero")
        if p.paid_on > as_of:
            continue
        book.charge_late_fees(p.paid_on, grace_days, late_fee)
        done.append(book.apply(p, order))
        paid += p.amount.number
    book.charge_late_fees(as_of, grace_days, late_fee)
    due = [i for i, r in enumerate(book.rows) if r.due_date <= as_of]
    unpaid_due = [i for i in due if book.scheduled_left(i) > ZERO]
    dpd = (as_of - book.rows[unpaid_due[0]].due_date).days if unpaid_due else 0
    on_time = [
        i
        for i in due
        if book.settled_on[i] is not None and book.settled_on[i] <= book.rows[i].due_date + timedelta(days=grace_days)  # type: ignore[operator]
    ]
    streak = 0
    for i in reversed(due):
        if i not in on_time:
            break
        streak += 1
    arrears = sum((book.scheduled_left(i) + book.left[i]["penalty"] for i in due), ZERO)
    outstanding = sum((book.left[i]["principal"] for i in range(len(book.rows))), ZERO)
    upcoming = [i for i, r in enumerate(book.rows) if r.due_date > as_of and book.scheduled_left(i) > ZERO]
    nxt = unpaid_due[0] if unpaid_due else (upcoming[0] if upcoming else None)
    closed = outstanding == ZERO and all(book.scheduled_left(i) == ZERO for i in range(len(book.rows)))
    return LoanStatus(
        as_of=as_of,
        outstanding_principal=Amount(outstanding, cur),
        arrears=Amount(arrears, cur),
        days_past_due=dpd,
        bucket=bucket_for(dpd),
        paid_total=Amount(paid, cur),
        instalments_due=len(due),
        instalments_paid=sum(1 for i in range(len(book.rows)) if book.settled_on[i] is not None),
        instalments_on_time=len(on_time),
        consecutive_on_time=streak,
        next_due_date=book.rows[nxt].due_date if nxt is not None else None,
        next_due_amount=Amount(book.scheduled_left(nxt) + book.left[nxt]["penalty"] if nxt is not None else ZERO, cur),
        closed=closed,
        payments=tuple(done),
    )


def portfolio_par(statuses: list[LoanStatus] | tuple[LoanStatus, ...], *, currency: str) -> Par:
    """PAR30 and PAR90 of a portfolio: outstanding principal of loans over 30 / 90 days past due, over all.

    Raises:
        PaymentError: a loan is in another currency than ``currency``.
    """
    total = at30 = at90 = ZERO
    for s in statuses:
        if s.outstanding_principal.currency != currency:
            raise PaymentError(f"a loan is in {s.outstanding_principal.currency}; the portfolio is in {currency}")
        total += s.outstanding_principal.number
        if s.days_past_due > 30:
            at30 += s.outstanding_principal.number
        if s.days_past_due > 90:
            at90 += s.outstanding_principal.number
    places = Decimal("0.0001")
    return Par(
        Amount(total, currency),
        Amount(at30, currency),
        Amount(at90, currency),
        (at30 / total).quantize(places) if total else ZERO,
        (at90 / total).quantize(places) if total else ZERO,
        len(statuses),
    )


def max_days_past_due(
    *, schedule: Schedule, payments: list[Payment] | tuple[Payment, ...], as_of: date, grace_days: int = 0
) -> int:
    """The highest days past due the loan reached before ``as_of`` (not its current DPD), from the ledger replay.

    Between payments DPD only rises, so its peaks are on each payment's date (before the payment is
    applied) and on ``as_of``; the replay is read at those dates. A lateness of at most ``grace_days``
    is not delinquency and counts as 0; beyond the grace, days count from the due date.
    """
    seen = sorted(p for p in payments if p.paid_on < as_of)
    peaks = [
        loan_status(schedule=schedule, payments=[p for p in seen if p.paid_on < day], as_of=day).days_past_due
        for day in sorted({p.paid_on for p in seen} | {as_of})
    ]
    return max((dpd for dpd in peaks if dpd > grace_days), default=0)


def past_loan(
    loan_id: str,
    *,
    schedule: Schedule,
    payments: list[Payment] | tuple[Payment, ...],
    as_of: date,
    grace_days: int = 0,
) -> PastLoan:
    """How a loan was repaid before ``as_of``, for a farm's record: instalments due and on time, the highest DPD.

    Payments on or after ``as_of`` are left out (the record sees only what happened before it). An
    instalment settled within the lender's ``grace_days`` is on time, and lateness within the grace is
    not counted as days past due; no late fee applies.
    """
    before = [p for p in payments if p.paid_on < as_of]
    status = loan_status(schedule=schedule, payments=before, as_of=as_of, grace_days=grace_days)
    worst = max_days_past_due(schedule=schedule, payments=before, as_of=as_of, grace_days=grace_days)
    return PastLoan(loan_id, status.instalments_due, status.instalments_on_time, worst, status.closed)
