from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import (
    Amount,
    D,
    Dues,
    Payment,
    PaymentError,
    allocate_payment,
    bucket_for,
    build_schedule,
    loan_status,
    portfolio_par,
)

KES = "KES"
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2)
ORDERS = st.permutations(["penalty", "fees", "interest", "principal"]).map(tuple)


def kes(x: str) -> Amount:
    return Amount(D(x), KES)


def three_months() -> object:
    # 12,000 KES over 3 months at 0 %: 4,000 due on 1 Feb, 1 Mar, 1 Apr.
    return build_schedule(principal=kes("12000"), rate=D("0"), months=3, kind="equal-principal", start=date(2025, 1, 1))


@pytest.fixture
def loan():
    return three_months()


@settings(max_examples=300, deadline=None)
@given(amount=money, penalty=money, fees=money, interest=money, principal=money, order=ORDERS)
def test_allocation_conserves_money(amount, penalty, fees, interest, principal, order):
    a = allocate_payment(amount=amount, dues=Dues(penalty, fees, interest, principal), order=order)
    assert a.total == amount
    assert a.penalty <= penalty and a.fees <= fees and a.interest <= interest and a.principal <= principal
    assert a.unapplied == max(amount - (penalty + fees + interest + principal), 0)


def test_default_order_pays_penalty_fees_interest_then_principal():
    a = allocate_payment(amount=D("150"), dues=Dues(D("20"), D("30"), D("50"), D("1000")))
    assert (a.penalty, a.fees, a.interest, a.principal, a.unapplied) == (D(20), D(30), D(50), D(50), D(0))
    b = allocate_payment(
        amount=D("150"),
        dues=Dues(D("20"), D("30"), D("50"), D("1000")),
        order=("principal", "interest", "fees", "penalty"),
    )
    assert (b.principal, b.interest) == (D(150), D(0))


@settings(max_examples=100, deadline=None)
@given(payments=st.lists(st.tuples(st.integers(0, 150), money.filter(lambda m: m > 0)), max_size=6))
def test_replayed_payments_conserve_money(payments):
    loan = three_months()
    pays = [
        Payment(date(2025, 1, 1).fromordinal(date(2025, 1, 1).toordinal() + d), f"k{i}", kes(str(a)))
        for i, (d, a) in enumerate(payments)
    ]
    status = loan_status(schedule=loan, payments=pays, as_of=date(2025, 6, 1), late_fee=D("100"), grace_days=3)
    for p in status.payments:
        paid = next(x.amount.number for x in pays if x.key == p.key)
        assert p.allocation.total == paid
    principal_paid = sum(p.allocation.principal for p in status.payments)
    assert principal_paid + status.outstanding_principal.number == D("12000")


# Domain notation: (payments as (date, amount)), as-of date, expected days past due, bucket, arrears.
# The loan: 12,000 KES at 0 %, 4,000 due on 1 Feb, 1 Mar and 1 Apr; late fee 100 after 3 days of grace.
@pytest.mark.parametrize(
    ("payments", "as_of", "dpd", "bucket", "arrears"),
    [
        # nothing paid: the 1 Feb instalment is 45 days late on 18 Mar; two late fees
        ([], date(2025, 3, 18), 45, "31-60", "8200"),
        # paid on the due date
        ([("2025-02-01", "4000")], date(2025, 2, 20), 0, "current", "0"),
        # a partial payment leaves 1,000 of the first instalment open, and earns a late fee
        ([("2025-02-01", "3000")], date(2025, 2, 11), 10, "1-30", "1100"),
        # paid late: the late fee is allocated first, so 100 of principal stays open
        ([("2025-02-10", "4000")], date(2025, 2, 11), 10, "1-30", "100"),
        # early payment of everything closes the loan before the first due date
        ([("2025-01-20", "12000")], date(2025, 5, 1), 0, "current", "0"),
        # 100 days late on everything: three instalments and three late fees
        ([], date(2025, 5, 12), 100, "90+", "12300"),
    ],
)
def test_days_past_due_and_buckets(loan, payments, as_of, dpd, bucket, arrears):
    pays = [Payment(date.fromisoformat(d), f"p{i}", kes(a)) for i, (d, a) in enumerate(payments)]
    status = loan_status(schedule=loan, payments=pays, as_of=as_of, late_fee=D("100"), grace_days=3)
    assert (status.days_past_due, status.bucket) == (dpd, bucket)
    assert status.arrears.number == D(arrears)


def test_early_full_repayment_collects_accrued_interest_and_waives_the_rest():
    # Changed with issue #14 item 2: a payoff used to waive the interest already accrued. On 2 Feb,
    # one day into the 28-day February period, one 28th of that period's interest has accrued.
    s = build_schedule(principal=kes("12000"), rate=D("0.24"), months=12, kind="annuity", start=date(2025, 1, 1))
    first, second = s.instalments[0], s.instalments[1]
    one_day = (second.interest / 28).quantize(D("0.01"))
    pays = [
        Payment(first.due_date, "a", kes(str(first.total))),
        Payment(date(2025, 2, 2), "b", kes(str(first.balance_after + one_day + 5))),
    ]
    status = loan_status(schedule=s, payments=pays, as_of=date(2025, 3, 1))
    assert status.closed and status.outstanding_principal.number == 0
    payoff = status.payments[1]
    assert (payoff.allocation.interest, payoff.allocation.principal) == (one_day, first.balance_after)
    assert payoff.waived_interest == s.total_interest.number - first.interest - one_day
    assert payoff.allocation.unapplied == D("5")


def test_on_time_streak_counts_back_from_the_latest_instalment(loan):
    pays = [
        Payment(date(2025, 2, 10), "a", kes("4000")),
        Payment(date(2025, 3, 1), "b", kes("4000")),
        Payment(date(2025, 4, 1), "c", kes("4000")),
    ]
    status = loan_status(schedule=loan, payments=pays, as_of=date(2025, 4, 2), grace_days=3)
    assert status.instalments_on_time == 2 and status.consecutive_on_time == 2


def test_bad_payments_are_refused(loan):
    with pytest.raises(PaymentError, match="payment x is in USD"):
        loan_status(
            schedule=loan, payments=[Payment(date(2025, 2, 1), "x", Amount(D(5), "USD"))], as_of=date(2025, 3, 1)
        )
    with pytest.raises(PaymentError, match="amount=-1 is negative"):
        allocate_payment(amount=D(-1), dues=Dues())


def test_portfolio_par30_and_par90(loan):
    current = loan_status(schedule=loan, payments=[], as_of=date(2025, 1, 15))
    late40 = loan_status(schedule=loan, payments=[], as_of=date(2025, 3, 13))
    late100 = loan_status(schedule=loan, payments=[], as_of=date(2025, 5, 12))
    par = portfolio_par([current, late40, late100], currency=KES)
    assert par.outstanding.number == D("36000")
    assert (par.par30, par.par90) == (D("0.6667"), D("0.3333"))
    assert [bucket_for(d) for d in (0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current",
        "1-30",
        "1-30",
        "31-60",
        "31-60",
        "61-90",
        "61-90",
        "90+",
    ]


def test_minor_units_follow_iso_4217():
    from credit.money import minor_unit

    # ISO 4217's table: shilling and euro in cents, Uganda and Rwanda francs whole, Kuwaiti dinar in fils
    assert [minor_unit(c) for c in ("KES", "EUR", "UGX", "RWF", "KWD")] == [2, 2, 0, 0, 3]


def test_past_loan_counts_what_was_due_and_paid_before_the_record_time(loan):
    from credit.servicing import past_loan

    # 4,000 due on 1 Feb, 1 Mar, 1 Apr. Paid 1 Feb on time, 1 Mar five days late; a payment on 1 Apr
    # itself is at the record time, so it is not seen: on 1 Apr the third instalment is due, unpaid, 0 days late.
    # The highest DPD reached is the 5 days of March (before issue #14 this read the current DPD, 0).
    payments = [
        Payment(date(2025, 2, 1), "a", kes("4000")),
        Payment(date(2025, 3, 6), "b", kes("4000")),
        Payment(date(2025, 4, 1), "c", kes("4000")),
    ]
    summary = past_loan("loan-1", schedule=loan, payments=payments, as_of=date(2025, 4, 1))
    assert (summary.loan_id, summary.instalments_due, summary.instalments_on_time) == ("loan-1", 3, 1)
    assert (summary.max_days_past_due, summary.closed) == (5, False)
    # on 20 Apr, with the 1 Apr payment seen, the loan is repaid: 3 due, 2 on time (1 Feb and 1 Apr), closed
    later = past_loan("loan-1", schedule=loan, payments=payments, as_of=date(2025, 4, 20))
    assert (later.instalments_due, later.instalments_on_time, later.max_days_past_due, later.closed) == (3, 2, 5, True)
    # before anything was paid, 15 Mar: two due, none paid, 42 days past the 1 Feb instalment
    early = past_loan("loan-1", schedule=loan, payments=[], as_of=date(2025, 3, 15))
    assert (early.instalments_due, early.instalments_on_time, early.max_days_past_due) == (2, 0, 42)


def test_past_loan_keeps_the_highest_dpd_a_loan_ever_reached(loan):
    """Issue #14 item 8: a loan 100 days late that caught up scored as if it had never been late."""
    from credit.servicing import past_loan

    # 1 Feb's 4,000 is first paid on 12 May, 100 days later (28 Feb days + 31 + 30 + 11); the same day
    # everything is caught up (12,000 in all), so on 1 Jun the loan is current and closed.
    caught_up = [Payment(date(2025, 5, 12), "all", kes("12000"))]
    summary = past_loan("late", schedule=loan, payments=caught_up, as_of=date(2025, 6, 1))
    assert (summary.max_days_past_due, summary.instalments_on_time, summary.closed) == (100, 0, True)


def test_past_loan_counts_no_delinquency_inside_the_grace_days(loan):
    """Issue #14 item 8: the loan history ignored the policy's grace days."""
    from credit.servicing import past_loan

    # 1 Feb paid 3 days late (within a 3-day grace), 1 Mar paid 4 days late (beyond it), 1 Apr on time
    payments = [
        Payment(date(2025, 2, 4), "a", kes("4000")),
        Payment(date(2025, 3, 5), "b", kes("4000")),
        Payment(date(2025, 4, 1), "c", kes("4000")),
    ]
    graced = past_loan("g", schedule=loan, payments=payments, as_of=date(2025, 5, 1), grace_days=3)
    assert (graced.max_days_past_due, graced.instalments_on_time) == (4, 2)
    first_only = past_loan("g", schedule=loan, payments=payments[:1], as_of=date(2025, 2, 20), grace_days=3)
    assert first_only.max_days_past_due == 0
    strict = past_loan("g", schedule=loan, payments=payments, as_of=date(2025, 5, 1))
    assert (strict.max_days_past_due, strict.instalments_on_time) == (4, 1)
