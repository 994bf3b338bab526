"""Loan servicing: payment allocation, partial and early payment, days past due, buckets and portfolio PAR.

Payments are replayed in date order against the schedule (:mod:`credit.ledger_replay`). Each payment
first settles what is due at its date across the due instalments, component by component in the
policy's order (default penalty, fees, interest, principal), oldest instalment first. What is left is
in advance: it pays the loan off when it covers the outstanding principal plus the interest accrued to
that day, and otherwise goes where the product's allocation strategy (``standard``, ``early-payment``)
and prepayment recalculation (``none``, ``reduce-amount``, ``reduce-term``) say. Anything beyond stays
``unapplied`` (a credit balance to refund), so every cent of every payment is accounted for. An
instalment unpaid ``grace_days`` after its due date is in arrears and is charged the policy's late fee
once, as a penalty; no amount is in arrears before its due date plus the grace days.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from credit.canonical import to_plain
from credit.errors import PaymentError
from credit.ledger_replay import LedgerReplay
from credit.money import ZERO, Amount, minor_unit
from credit.record import PastLoan
from credit.schedule import Schedule
from vocabulary.lending import (
    ALLOCATION_STRATEGIES,
    ARREARS_BUCKETS,
    DUE_COMPONENTS,
    PREPAYMENT_RECALCULATIONS,
    AllocationStrategy,
    PrepaymentRecalculation,
)

DEFAULT_ORDER = DUE_COMPONENTS
BUCKETS = ARREARS_BUCKETS

__all__ = [
    "BUCKETS",
    "DEFAULT_ORDER",
    "Allocation",
    "Dues",
    "LoanStatus",
    "Par",
    "Payment",
    "PaymentAllocation",
    "ServicingTerms",
    "allocate_payment",
    "bucket_for",
    "check_payment_amount",
    "loan_status",
    "max_days_past_due",
    "past_loan",
    "portfolio_par",
    "replay_ledger",
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
    payoff_amount: Amount | None = None
    """What closes the loan on ``as_of``: anything due, the outstanding principal and the interest accrued."""

    def to_plain(self) -> dict[str, Any]:
        """The status as JSON-ready values."""
        plain: dict[str, Any] = to_plain(self)
        return plain


@dataclass(frozen=True)
class ServicingTerms:
    """How a product services its loans: allocation order, grace, late fee, strategy and recalculation."""

    order: tuple[str, ...] = DEFAULT_ORDER
    grace_days: int = 0
    late_fee: Decimal = ZERO
    strategy: str = AllocationStrategy.STANDARD
    recalculation: str = PrepaymentRecalculation.NONE


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


def check_payment_amount(amount: Amount, *, field: str = "amount") -> None:
    """Refuse a repayment that is not positive or has more decimals than its currency's minor unit.

    Raises:
        PaymentError: ``amount`` is zero or less, or finer than the currency counts (100.005 KES).
    """
    places = minor_unit(amount.currency)
    if amount.number <= ZERO:
        raise PaymentError(f"{field}={amount.number}; a payment must be greater than zero")
    if amount.number != amount.number.quantize(Decimal(1).scaleb(-places)):
        raise PaymentError(
            f"{field}={amount.number} has more than {places} decimals; {amount.currency} is counted to "
            f"{places} decimal place(s), so send e.g. {amount.number.quantize(Decimal(1).scaleb(-places))}"
        )


def _replay(
    schedule: Schedule,
    payments: tuple[Payment, ...] | list[Payment],
    as_of: date,
    terms: ServicingTerms,
) -> tuple[LedgerReplay, list[PaymentAllocation], Decimal]:
    cur = schedule.principal.currency
    book = LedgerReplay(schedule, order=terms.order, strategy=terms.strategy, recalculation=terms.recalculation)
    done = []
    paid = ZERO
    for p in sorted(payments):
        if p.amount.currency != cur:
            raise PaymentError(f"payment {p.key} is in {p.amount.currency}; the loan is in {cur}")
        check_payment_amount(p.amount, field=f"payment {p.key} amount")
        if p.paid_on > as_of:
            continue
        book.charge_late_fees(p.paid_on, terms.grace_days, terms.late_fee)
        parts, rest = book.settle_due(p.amount.number, p.paid_on)
        advance = book.settle_in_advance(rest, p.paid_on)
        book.mark_settled(p.paid_on)
        total = {c: parts[c] + advance.paid[c] for c in DEFAULT_ORDER}
        allocation = Allocation(
            total["penalty"], total["fees"], total["interest"], total["principal"], advance.unapplied
        )
        done.append(PaymentAllocation(p.key, p.paid_on, allocation, advance.paid["principal"], advance.waived_interest))
        paid += p.amount.number
    book.charge_late_fees(as_of, terms.grace_days, terms.late_fee)
    return book, done, paid


def replay_ledger(
    *, schedule: Schedule, payments: tuple[Payment, ...] | list[Payment], as_of: date, terms: ServicingTerms
) -> LedgerReplay:
    """The ledger after replaying ``payments`` up to ``as_of`` under ``terms``, late fees charged to ``as_of``.

    The same replay :func:`loan_status` reads its figures from (close of day keeps a snapshot of it).

    Raises:
        PaymentError: as :func:`loan_status`.
    """
    return _replay(schedule, payments, as_of, terms)[0]


def loan_status(
    *,
    schedule: Schedule,
    payments: tuple[Payment, ...] | list[Payment],
    as_of: date,
    order: tuple[str, ...] = DEFAULT_ORDER,
    grace_days: int = 0,
    late_fee: Decimal = ZERO,
    strategy: str = AllocationStrategy.STANDARD,
    recalculation: str = PrepaymentRecalculation.NONE,
) -> LoanStatus:
    """Replay ``payments`` up to ``as_of`` against ``schedule`` and report the loan's standing.

    An instalment is in arrears only once ``grace_days`` have passed after its due date; its days past
    due then count from the due date. Within the grace days an unpaid instalment is due but neither
    late nor a break of the on-time streak.

    Raises:
        PaymentError: a payment is not positive, finer than the currency's minor unit, or in another
            currency than the loan; ``strategy`` or ``recalculation`` is unknown.
    """
    if strategy not in ALLOCATION_STRATEGIES:
        raise PaymentError(f"strategy={strategy!r} is unknown; use one of {', '.join(ALLOCATION_STRATEGIES)}")
    if recalculation not in PREPAYMENT_RECALCULATIONS:
        raise PaymentError(
            f"recalculation={recalculation!r} is unknown; use one of {', '.join(PREPAYMENT_RECALCULATIONS)}"
        )
    cur = schedule.principal.currency
    terms = ServicingTerms(order, grace_days, late_fee, strategy, recalculation)
    book, done, paid = _replay(schedule, payments, as_of, terms)
    rows = book.rows
    grace = timedelta(days=grace_days)
    due = book.due(as_of)
    late = [r for r in due if r.due_date + grace < as_of and r.owed() > ZERO]
    dpd = (as_of - late[0].due_date).days if late else 0
    on_time = [r for r in due if r.settled_on is not None and r.settled_on <= r.due_date + grace]
    streak = 0
    for r in reversed(due):
        if r.settled_on is None and r.due_date + grace >= as_of:
            continue  # still inside its grace days: not late yet
        if r not in on_time:
            break
        streak += 1
    unpaid_due = [r for r in due if r.owed() > ZERO]
    upcoming = [r for r in rows if r.due_date > as_of and r.owed() > ZERO]
    nxt = unpaid_due[0] if unpaid_due else (upcoming[0] if upcoming else None)
    return LoanStatus(
        as_of=as_of,
        outstanding_principal=Amount(book.outstanding_principal(), cur),
        arrears=Amount(sum((r.owed() for r in late), ZERO), cur),
        days_past_due=dpd,
        bucket=bucket_for(dpd),
        paid_total=Amount(paid, cur),
        instalments_due=len(due),
        instalments_paid=sum(1 for r in rows if r.settled_on is not None),
        instalments_on_time=len(on_time),
        consecutive_on_time=streak,
        next_due_date=nxt.due_date if nxt is not None else None,
        next_due_amount=Amount(nxt.owed() if nxt is not None else ZERO, cur),
        closed=book.closed(),
        payments=tuple(done),
        payoff_amount=Amount(book.payoff_amount(as_of), cur),
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
