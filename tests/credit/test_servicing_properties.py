"""Property tests of loan servicing over random loans and random payment streams (issue #14).

Each example is a random loan (kind, tenor, rate, start) serviced under a random allocation strategy
and prepayment recalculation, with a random stream of early, late, partial and over-payments. The
number of examples per property is ``FARMTRUST_SERVICING_EXAMPLES`` (default 150, about 10 s on two
cores); the issue's 1,000 loans: ``FARMTRUST_SERVICING_EXAMPLES=1000 pytest tests/credit/test_servicing_properties.py``.

Expected payoff amounts come from a reference written here with ``fractions.Fraction``.
"""

import os
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from credit import Amount, D, Payment, build_schedule, loan_status
from tests.credit import servicing_reference as reference
from vocabulary.lending import ALLOCATION_STRATEGIES, PREPAYMENT_RECALCULATIONS

EXAMPLES = int(os.environ.get("FARMTRUST_SERVICING_EXAMPLES", "150"))
KES = "KES"
GRACE_DAYS = 3
LATE_FEE = D("250")

loans = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["annuity", "equal-principal", "flat", "seasonal"]),
        "months": st.integers(1, 24),
        "rate": st.decimals(min_value=Decimal("0"), max_value=Decimal("0.40"), places=3),
        "principal": st.decimals(min_value=Decimal("100"), max_value=Decimal("500000"), places=2),
        "start": st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    }
)
terms = st.fixed_dictionaries(
    {"strategy": st.sampled_from(ALLOCATION_STRATEGIES), "recalculation": st.sampled_from(PREPAYMENT_RECALCULATIONS)}
)


def _schedule(loan):
    return build_schedule(
        principal=Amount(loan["principal"], KES),
        rate=loan["rate"],
        months=loan["months"],
        kind=loan["kind"],
        start=loan["start"],
        harvest_months=(7, 8),
    )


def _status(schedule, payments, as_of, t):
    return loan_status(schedule=schedule, payments=payments, as_of=as_of, grace_days=GRACE_DAYS, late_fee=LATE_FEE, **t)


def _cents(x: Fraction) -> Decimal:
    return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    loan=loans,
    t=terms,
    stream=st.lists(
        st.tuples(st.integers(-5, 800), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("200000"), places=2)),
        max_size=10,
    ),
    later=st.integers(0, 900),
)
def test_payments_equal_allocations_plus_credit_balance(loan, t, stream, later):
    schedule = _schedule(loan)
    pays = [Payment(loan["start"] + timedelta(days=d), f"p{i:02d}", Amount(a, KES)) for i, (d, a) in enumerate(stream)]
    s = _status(schedule, pays, loan["start"] + timedelta(days=later), t)
    for p in s.payments:
        a = p.allocation
        amount = next(x.amount.number for x in pays if x.key == p.key)
        assert min(a.penalty, a.fees, a.interest, a.principal, a.unapplied, p.waived_interest) >= 0
        assert a.penalty + a.fees + a.interest + a.principal + a.unapplied == amount
    principal_paid = sum((p.allocation.principal for p in s.payments), Decimal(0))
    assert principal_paid + s.outstanding_principal.number == schedule.principal.number
    assert sum((p.allocation.total for p in s.payments), Decimal(0)) == s.paid_total.number


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    loan=loans,
    t=terms,
    offsets=st.lists(st.integers(-25, GRACE_DAYS), min_size=24, max_size=24),
    extra=st.integers(0, 60),
)
def test_every_due_amount_paid_by_its_due_date_plus_grace_means_zero_days_past_due(loan, t, offsets, extra):
    schedule = _schedule(loan)
    pays, last = [], loan["start"]
    for row, offset in zip(schedule.instalments, offsets, strict=False):
        last = max(last, row.due_date + timedelta(days=offset))
        if row.total > 0:
            pays.append(Payment(last, f"p{row.number:02d}", Amount(row.total, KES)))
    for row in schedule.instalments:
        for as_of in (row.due_date, row.due_date + timedelta(days=GRACE_DAYS + 1 + extra)):
            s = _status(schedule, [p for p in pays if p.paid_on <= as_of], as_of, t)
            assert (s.days_past_due, s.arrears.number) == (0, 0), as_of
            assert s.consecutive_on_time == s.instalments_on_time  # nothing broke the streak
    final = _status(schedule, pays, schedule.instalments[-1].due_date + timedelta(days=GRACE_DAYS), t)
    # paid ahead, the last instalment is a payoff: the interest not yet accrued comes back as a credit balance
    assert final.closed and final.days_past_due == 0


@settings(max_examples=EXAMPLES, deadline=None)
@given(loan=loans, t=terms, paid=st.integers(0, 24), into=st.integers(0, 40))
def test_payoff_is_outstanding_principal_plus_interest_accrued_to_date(loan, t, paid, into):
    # On-time payments of the first `paid` instalments, then a payoff `into` days into the next period.
    # The reference: interest of the period on its opening balance (declining kinds), or the flat share,
    # times elapsed / days of the period, rounded half-even to the cent.
    schedule = _schedule(loan)
    rows = schedule.instalments
    paid = min(paid, len(rows) - 1)
    pays = [Payment(r.due_date, f"p{r.number:02d}", Amount(r.total, KES)) for r in rows[:paid] if r.total > 0]
    current = rows[paid]
    period_start = rows[paid - 1].due_date if paid else loan["start"]
    on = min(period_start + timedelta(days=into), current.due_date - timedelta(days=1))
    balance = Fraction(loan["principal"]) - sum((Fraction(r.principal) for r in rows[:paid]), Fraction(0))
    if loan["kind"] == "flat":
        period_interest = Fraction(current.interest)
    else:
        period_interest = Fraction(_cents(balance * Fraction(loan["rate"]) * current.days / 365))
    accrued = _cents(period_interest * (on - period_start).days / current.days)
    s = _status(schedule, pays, on, t)
    assert s.payoff_amount.number == _cents(balance) + accrued
    closed = _status(schedule, [*pays, Payment(on, "~payoff", s.payoff_amount)], on, t)
    assert closed.closed and closed.payments[-1].allocation.unapplied == 0
    assert closed.payments[-1].allocation.interest == accrued


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    loan=loans,
    t=terms,
    stream=st.lists(
        st.tuples(st.integers(0, 800), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50000"), places=2)),
        max_size=8,
    ),
    later=st.integers(0, 900),
)
def test_paying_the_payoff_amount_closes_the_loan_after_any_stream(loan, t, stream, later):
    schedule = _schedule(loan)
    pays = [Payment(loan["start"] + timedelta(days=d), f"p{i:02d}", Amount(a, KES)) for i, (d, a) in enumerate(stream)]
    on = loan["start"] + timedelta(days=later)
    pays = [p for p in pays if p.paid_on <= on]
    s = _status(schedule, pays, on, t)
    if s.closed:
        assert s.payoff_amount.number == 0
        return
    assert s.payoff_amount.number >= s.outstanding_principal.number
    done = _status(schedule, [*pays, Payment(on, "~payoff", s.payoff_amount)], on, t)
    assert done.closed and done.payments[-1].allocation.unapplied == 0


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    loan=loans,
    t=terms,
    stream=st.lists(
        st.tuples(st.integers(-5, 800), st.decimals(min_value=Decimal("0.01"), max_value=Decimal("60000"), places=2)),
        max_size=10,
    ),
    later=st.integers(0, 900),
)
def test_the_engine_agrees_with_the_fraction_reference(loan, t, stream, later):
    schedule = _schedule(loan)
    pays = [Payment(loan["start"] + timedelta(days=d), f"p{i:02d}", Amount(a, KES)) for i, (d, a) in enumerate(stream)]
    on = loan["start"] + timedelta(days=later)
    s = _status(schedule, pays, on, t)
    allocations, (dpd, arrears, outstanding, payoff) = reference.replay(
        schedule,
        pays,
        on,
        order=("penalty", "fees", "interest", "principal"),
        grace_days=GRACE_DAYS,
        late_fee=LATE_FEE,
        **t,
    )
    for p in s.payments:
        a = p.allocation
        got = {"penalty": a.penalty, "fees": a.fees, "interest": a.interest, "principal": a.principal}
        got["unapplied"] = a.unapplied
        assert {k: Fraction(v) for k, v in got.items()} == allocations[p.key], p.key
    assert (s.days_past_due, Fraction(s.arrears.number)) == (dpd, arrears)
    assert (Fraction(s.outstanding_principal.number), Fraction(s.payoff_amount.number)) == (outstanding, payoff)
