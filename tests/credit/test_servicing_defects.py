"""Issue #14's servicing defects, each with the repro's numbers (every test here failed before the fix).

The loan of most repros: 12,000 KES at 12 % over 12 months, equal principal, from 1 Jan 2025; policy
grace 3 days, late fee 250. Its first instalments, by hand (actual/365, interest on the balance):

| n | due        | days | balance before | interest = balance x 0.12 x days / 365 | total   |
|---|------------|------|----------------|----------------------------------------|---------|
| 1 | 2025-02-01 | 31   | 12,000         | 122.2958 -> 122.30                     | 1122.30 |
| 2 | 2025-03-01 | 28   | 11,000         | 101.2603 -> 101.26                     | 1101.26 |
"""

from datetime import date

from credit import Amount, D, Payment, build_schedule, loan_status, portfolio_par

KES = "KES"


def kes(x: str) -> Amount:
    return Amount(D(x), KES)


def twelve_months():
    return build_schedule(
        principal=kes("12000"), rate=D("0.12"), months=12, kind="equal-principal", start=date(2025, 1, 1)
    )


def status(payments, as_of, **terms):
    return loan_status(
        schedule=twelve_months(), payments=payments, as_of=as_of, grace_days=3, late_fee=D("250"), **terms
    )


def test_item1_an_instalment_paid_a_day_early_is_not_arrears_at_its_due_date():
    # was: arrears 351.26 (instalment 2's interest 101.26 + the 250 late fee), 4 days past due
    pays = [Payment(date(2025, 2, 1), "a", kes("1122.30")), Payment(date(2025, 2, 28), "b", kes("1101.26"))]
    s = status(pays, date(2025, 3, 5))
    assert (s.arrears.number, s.days_past_due, s.bucket) == (D(0), 0, "current")
    early = s.payments[1].allocation
    assert (early.interest, early.principal, early.unapplied) == (D("101.26"), D("1000.00"), D(0))


def test_item1_prepaying_11000_on_day_one_pays_the_next_instalments_and_is_never_late_meanwhile():
    # was: 33 days past due on 6 Mar and 94 on 6 May, PAR30 = PAR90 = 100 %.
    # Standard strategy: the 11,000 settles instalments 1.. in full, in order (by hand):
    # totals 1122.30, 1101.26, 1101.92, 1088.77, 1081.53, 1069.04, 1061.15, 1050.96, 1039.45, 1030.58
    # (balances 12,000 .. 3,000 times 0.12 x 31, 28, 31, 30, 31, 30, 31, 31, 30, 31 / 365) sum to
    # 10,746.96; the 253.04 left pays instalment 11's interest 19.73 (2,000 x 0.12 x 30/365) and 233.31
    # of its 1,000 principal.
    pays = [Payment(date(2025, 1, 2), "a", kes("11000"))]
    for as_of in (date(2025, 3, 6), date(2025, 5, 6), date(2025, 12, 4)):
        s = status(pays, as_of)
        assert (s.days_past_due, s.arrears.number) == (0, D(0)), as_of
        assert s.outstanding_principal.number == D("1766.69")
        par = portfolio_par([s], currency=KES)
        assert (par.par30, par.par90) == (D(0), D(0))
    # instalment 11 (due 1 Dec) is 766.69 short; on 5 Dec, past the grace days, it is late, with its fee
    late = status(pays, date(2025, 12, 5))
    assert (late.days_past_due, late.arrears.number) == (4, D("766.69") + D("250"))


def test_item2_a_payoff_one_day_before_maturity_collects_the_interest_accrued():
    # 40,000 KES at 18 %, seasonal, harvest in August: interest only until the last instalment on 1 Aug.
    # Its interest is 40,000 x 0.18 x 31/365 = 611.51; on 31 Jul 30 of the 31 days have accrued:
    # 611.51 x 30/31 = 591.78. Was: the payoff waived all 611.51.
    s = build_schedule(
        principal=kes("40000"), rate=D("0.18"), months=6, kind="seasonal", start=date(2025, 2, 1), harvest_months=(8,)
    )
    assert s.instalments[-1].interest == D("611.51")
    pays = [Payment(i.due_date, f"i{i.number}", kes(str(i.total))) for i in s.instalments[:-1]]
    before = loan_status(schedule=s, payments=pays, as_of=date(2025, 7, 31))
    assert before.payoff_amount == kes("40591.78")
    done = loan_status(
        schedule=s, payments=[*pays, Payment(date(2025, 7, 31), "off", kes("40591.78"))], as_of=date(2025, 8, 1)
    )
    payoff = done.payments[-1]
    assert done.closed
    assert (payoff.allocation.interest, payoff.allocation.principal, payoff.allocation.unapplied) == (
        D("591.78"),
        D("40000"),
        D(0),
    )
    assert payoff.waived_interest == D("19.73")


def test_item3_a_partial_prepayment_lowers_the_later_interest_when_the_product_recalculates():
    # was: all 776.88 of the scheduled interest still owed after prepaying 11,000 on 2 Jan.
    # reduce-term: the 11,000 settles instalment 1 (1,122.30) as on time; 9,877.70 prepays the last
    # principal first: instalments 12..4 (9,000) and 877.70 of instalment 3. Left: 1,000 of instalment 2
    # and 122.30 of instalment 3. Interest again: 1,122.30 x 0.12 x 28/365 = 10.33 and
    # 122.30 x 0.12 x 31/365 = 1.25. Total interest over the loan: 122.30 + 10.33 + 1.25 = 133.88.
    pays = [Payment(date(2025, 1, 2), "a", kes("11000"))]
    s = status(pays, date(2025, 1, 2), recalculation="reduce-term")
    assert s.outstanding_principal.number == D("1122.30")
    assert s.payoff_amount.number == D("1122.30")  # one day of instalment 1's interest was paid in it already
    due2 = status(pays, date(2025, 3, 1), recalculation="reduce-term")
    assert (due2.next_due_date, due2.next_due_amount.number) == (date(2025, 3, 1), D("1010.33"))
    after = status(
        [*pays, Payment(date(2025, 3, 1), "b", kes("1010.33")), Payment(date(2025, 4, 1), "c", kes("123.55"))],
        date(2025, 4, 2),
        recalculation="reduce-term",
    )
    assert after.closed
    paid_interest = sum((p.allocation.interest for p in after.payments), D(0))
    assert paid_interest == D("133.88")


def test_item3_reduce_amount_keeps_the_number_of_instalments():
    # reduce-amount: 9,877.70 prepaid out of the 11,000 of instalments 2..12 leaves 1,122.30, spread over
    # the same 11 instalments in proportion (1,000 each before): 1,000 x 1,122.30 / 11,000 = 102.0272 ->
    # 102.02 for instalments 2..11, and 1,122.30 - 10 x 102.02 = 102.10 for the last.
    # Instalment 2's interest: 1,122.30 x 0.12 x 28/365 = 10.33.
    pays = [Payment(date(2025, 1, 2), "a", kes("11000"))]
    s = status(pays, date(2025, 3, 1), recalculation="reduce-amount")
    assert (s.next_due_date, s.next_due_amount.number) == (date(2025, 3, 1), D("102.02") + D("10.33"))
    assert s.outstanding_principal.number == D("1122.30")


def test_item5_the_on_time_streak_holds_inside_the_grace_days():
    # instalment 1 paid on its due date; instalment 2 (due 1 Mar) unpaid: not late until 4 Mar has passed
    pays = [Payment(date(2025, 2, 1), "a", kes("1122.30"))]
    for as_of in (date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 4)):
        s = status(pays, as_of)
        assert (s.consecutive_on_time, s.days_past_due, s.arrears.number) == (1, 0, D(0)), as_of
    late = status(pays, date(2025, 3, 5))
    assert (late.consecutive_on_time, late.days_past_due) == (0, 4)


def test_early_payment_strategy_prepays_principal_and_leaves_later_interest_due():
    # Fineract's early-payment strategy, no recalculation: 2,000 on 2 Jan pays instalment 1's interest
    # 122.30, then principal: 1,000 of instalment 1 and 877.70 of instalment 2. Instalment 2 still owes
    # 122.30 principal and its 101.26 interest on 1 Mar, and is not in arrears before 4 Mar has passed.
    pays = [Payment(date(2025, 1, 2), "a", kes("2000"))]
    s = status(pays, date(2025, 3, 4), strategy="early-payment")
    a = s.payments[0].allocation
    assert (a.interest, a.principal, a.unapplied) == (D("122.30"), D("1877.70"), D(0))
    assert (s.arrears.number, s.days_past_due, s.next_due_amount.number) == (D(0), 0, D("223.56"))
    late = status(pays, date(2025, 3, 5), strategy="early-payment")
    assert (late.arrears.number, late.days_past_due) == (D("473.56"), 4)
