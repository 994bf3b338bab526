"""Close of day: a loan's ledger snapshot, from which its standing on any later day follows without a replay.

A snapshot is taken after the ledger replay of :mod:`credit.servicing` on ``as_of``. As long as no
payment dated after ``as_of`` arrives, the ledger changes only by the passing of time, and what
changes is known in advance:

- principal outstanding stays the same, and so does the oldest instalment that still owes something
  (days past due count from its due date once its grace days have passed);
- each instalment not yet late on ``as_of`` becomes late ``grace_days`` after its due date, and then
  adds what it owes, plus the late fee it is charged then, to the arrears;
- the interest of the current period accrues daily on the period's opening balance (rounded half-even
  to the currency's minor unit), less what was already paid of it.

:func:`day_state` computes a day's figures from a snapshot; the store does the same set-based in SQL
for a whole book (``store.loan_states``), and a test compares both with :func:`credit.servicing.loan_status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from credit.ledger_replay import LedgerReplay
from credit.money import ZERO, minor_unit, quantize
from credit.schedule import Schedule
from credit.servicing import Payment, ServicingTerms, bucket_for, replay_ledger

__all__ = ["LedgerSnapshot", "LoanDayState", "day_state", "ledger_snapshot", "terms_key"]


@dataclass(frozen=True, kw_only=True)
class LoanDayState:
    """A loan's standing at the close of one day: what the lender's books carry for it."""

    outstanding_principal: Decimal
    accrued_interest: Decimal
    """Interest of the current period accrued to the day and not yet paid."""
    arrears: Decimal
    """Everything owed by instalments past their due date plus grace days, late fees included."""
    days_past_due: int
    bucket: str
    closed: bool


@dataclass(frozen=True, kw_only=True)
class LedgerSnapshot:
    """A replayed ledger reduced to what later days need; the ``pending_*`` tuples are the instalments not late yet."""

    as_of: date
    places: int
    outstanding_principal: Decimal
    late_arrears: Decimal
    """Arrears on ``as_of``: what the instalments already late owe, their late fees included."""
    oldest_unpaid_due: date | None
    closed: bool
    period_start: date
    """Start of the first pending instalment's period (the previous due date, or the disbursement date)."""
    pending_due: tuple[date, ...]
    pending_days: tuple[int, ...]
    pending_interest: tuple[Decimal, ...]
    """Each pending instalment's interest as it stands (after any recalculation)."""
    pending_interest_paid: tuple[Decimal, ...]
    pending_late_owed: tuple[Decimal, ...]
    """What each pending instalment will add to the arrears once late: what it owes plus its late fee."""


def terms_key(terms: ServicingTerms) -> str:
    """A text that changes whenever a servicing term that the figures depend on changes."""
    return "|".join(
        (",".join(terms.order), str(terms.grace_days), str(terms.late_fee), terms.strategy, terms.recalculation)
    )


def ledger_snapshot(
    *, schedule: Schedule, payments: tuple[Payment, ...] | list[Payment], as_of: date, terms: ServicingTerms
) -> LedgerSnapshot:
    """Replay ``payments`` up to ``as_of`` (:func:`credit.servicing.replay_ledger`) and keep its snapshot.

    Raises:
        PaymentError: a payment is not positive, finer than the currency's minor unit, or in another currency.
    """
    book = replay_ledger(schedule=schedule, payments=payments, as_of=as_of, terms=terms)
    return _snapshot(book, as_of, terms, minor_unit(schedule.principal.currency))


def _snapshot(book: LedgerReplay, as_of: date, terms: ServicingTerms, places: int) -> LedgerSnapshot:
    grace = timedelta(days=terms.grace_days)
    late = [r for r in book.rows if r.due_date + grace < as_of]
    pending = [r for r in book.rows if r.due_date + grace >= as_of]
    unpaid = next((r for r in book.rows if r.owed() > ZERO), None)
    fee = terms.late_fee if terms.late_fee > ZERO else ZERO
    return LedgerSnapshot(
        as_of=as_of,
        places=places,
        outstanding_principal=book.outstanding_principal(),
        late_arrears=sum((r.owed() for r in late), ZERO),
        oldest_unpaid_due=unpaid.due_date if unpaid is not None else None,
        closed=book.closed(),
        period_start=pending[0].period_start if pending else as_of,
        pending_due=tuple(r.due_date for r in pending),
        pending_days=tuple(r.days for r in pending),
        pending_interest=tuple(r.interest for r in pending),
        pending_interest_paid=tuple(r.interest - r.left["interest"] for r in pending),
        pending_late_owed=tuple(r.owed() + fee if r.owed() > ZERO else ZERO for r in pending),
    )


def day_state(snapshot: LedgerSnapshot, *, on: date, grace_days: int) -> LoanDayState:
    """The loan's figures on ``on`` (not before the snapshot's day), with no payment after the snapshot.

    Raises:
        ValueError: ``on`` is before the snapshot's ``as_of`` (replay the ledger instead).
    """
    if on < snapshot.as_of:
        raise ValueError(f"on={on} is before the snapshot's as_of={snapshot.as_of}; replay the ledger for it")
    grace = timedelta(days=grace_days)
    due = snapshot.oldest_unpaid_due
    dpd = (on - due).days if due is not None and due + grace < on else 0
    arrears = snapshot.late_arrears + sum(
        (owed for d, owed in zip(snapshot.pending_due, snapshot.pending_late_owed, strict=True) if d + grace < on),
        ZERO,
    )
    return LoanDayState(
        outstanding_principal=snapshot.outstanding_principal,
        accrued_interest=_accrued(snapshot, on),
        arrears=arrears,
        days_past_due=dpd,
        bucket=bucket_for(dpd),
        closed=snapshot.closed,
    )


def _accrued(snapshot: LedgerSnapshot, on: date) -> Decimal:
    starts = (snapshot.period_start, *snapshot.pending_due)
    for k, due in enumerate(snapshot.pending_due):
        if due > on:
            days = snapshot.pending_days[k]
            if days <= 0:
                return ZERO
            interest = snapshot.pending_interest[k]
            accrued = quantize(interest * Decimal((on - starts[k]).days) / Decimal(days), places=snapshot.places)
            return max(accrued - snapshot.pending_interest_paid[k], ZERO)
    return ZERO
