"""Servicing scenarios in the style of Fineract's integration tests: payments in, allocations and standing out.

The loan: 12,000 KES at 12 % over 12 months, equal principal, from 1 Jan 2025; grace 3 days, late fee
250, standard strategy, no recalculation. By hand: instalment 1 (1 Feb) is 1,000 + 122.30 interest
(12,000 x 0.12 x 31/365); the 12 instalments' interest sums to 776.88 (the issue's figure).
Each row: payments (date, amount), the as-of date, each payment's (penalty, interest, principal,
unapplied), then days past due, arrears and the on-time streak.
"""

from datetime import date

import pytest

from credit import Amount, D, Payment, build_schedule, loan_status

SCENARIOS = {
    # paid 9 days late: the 250 late fee first, then interest, then principal; 250 of principal stays late
    "late with fee": (
        [("2025-02-10", "1122.30")],
        "2025-02-11",
        [("250", "122.30", "750.00", "0")],
        (10, "250.00", 0),
    ),
    # part on the due date, the rest inside the grace days: no fee, on time, current
    "partial then rest in grace": (
        [("2025-02-01", "600"), ("2025-02-03", "522.30")],
        "2025-02-05",
        [("0", "122.30", "477.70", "0"), ("0", "0", "522.30", "0")],
        (0, "0", 1),
    ),
    # nothing until after maturity: 12 instalments (12,776.88) and 12 late fees (3,000) settle; 4,223.12 over
    "over-payment after maturity": (
        [("2026-03-01", "20000")],
        "2026-03-02",
        [("3000", "776.88", "12000.00", "4223.12")],
        (0, "0", 0),
    ),
    # one cent short on instalment 1, found after grace: 0.01 and the 250 fee in arrears, 9 days past due
    "a cent short": (
        [("2025-02-01", "1122.29")],
        "2025-02-10",
        [("0", "122.30", "999.99", "0")],
        (9, "250.01", 0),
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario(name):
    payments, as_of, allocations, (dpd, arrears, streak) = SCENARIOS[name]
    schedule = build_schedule(
        principal=Amount(D("12000"), "KES"), rate=D("0.12"), months=12, kind="equal-principal", start=date(2025, 1, 1)
    )
    assert schedule.total_interest.number == D("776.88")
    pays = [Payment(date.fromisoformat(d), f"p{i}", Amount(D(a), "KES")) for i, (d, a) in enumerate(payments)]
    s = loan_status(schedule=schedule, payments=pays, as_of=date.fromisoformat(as_of), grace_days=3, late_fee=D("250"))
    got = [
        (p.allocation.penalty, p.allocation.interest, p.allocation.principal, p.allocation.unapplied)
        for p in s.payments
    ]
    assert got == [tuple(D(x) for x in row) for row in allocations]
    assert (s.days_past_due, s.arrears.number, s.consecutive_on_time) == (dpd, D(arrears), streak)
