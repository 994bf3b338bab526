"""Close of day from a ledger snapshot equals the full servicing replay on every later day."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from credit.close_of_day import day_state, ledger_snapshot, terms_key
from credit.servicing import ServicingTerms, loan_status, replay_ledger
from tests.credit.books import random_book

TERMS = (
    ServicingTerms(grace_days=3, late_fee=Decimal(250)),
    ServicingTerms(grace_days=0, late_fee=Decimal(0), strategy="early-payment"),
    ServicingTerms(grace_days=5, late_fee=Decimal(10), recalculation="reduce-term"),
    ServicingTerms(
        grace_days=1,
        late_fee=Decimal(0),
        recalculation="reduce-amount",
        order=("interest", "principal", "penalty", "fees"),
    ),
)


def reference(loan, on, terms):
    """The servicing code run on the loan alone: its status on ``on`` and the interest accrued unpaid."""
    status = loan_status(
        schedule=loan.schedule,
        payments=loan.payments,
        as_of=on,
        order=terms.order,
        grace_days=terms.grace_days,
        late_fee=terms.late_fee,
        strategy=terms.strategy,
        recalculation=terms.recalculation,
    )
    book = replay_ledger(schedule=loan.schedule, payments=loan.payments, as_of=on, terms=terms)
    return (
        status.outstanding_principal.number,
        book.accrued_interest_unpaid(on),
        status.arrears.number,
        status.days_past_due,
        status.bucket,
        status.closed,
    )


def figures(state):
    return (
        state.outstanding_principal,
        state.accrued_interest,
        state.arrears,
        state.days_past_due,
        state.bucket,
        state.closed,
    )


@pytest.mark.parametrize("terms", TERMS, ids=lambda t: terms_key(t))
def test_snapshot_days_equal_the_replay(terms):
    book = random_book(17, loans=120)
    checked, seen = 0, set()
    for loan in book:
        for offset in (0, 25, 61, 200):
            snap_day = loan.schedule.start + timedelta(days=offset)
            snap = ledger_snapshot(schedule=loan.schedule, payments=loan.payments, as_of=snap_day, terms=terms)
            next_payment = min((p.paid_on for p in loan.payments if p.paid_on > snap_day), default=date(2100, 1, 1))
            for later in (0, 1, 4, 17, 33, 95, 400):
                on = snap_day + timedelta(days=later)
                if on >= next_payment:
                    break
                got = day_state(snap, on=on, grace_days=terms.grace_days)
                assert figures(got) == reference(loan, on, terms), (loan, snap_day, on)
                checked += 1
                seen |= {got.bucket, "accrued" if got.accrued_interest else "", "closed" if got.closed else ""}
    assert checked > 1000
    assert seen >= {"current", "1-30", "31-60", "61-90", "90+", "accrued", "closed"}
