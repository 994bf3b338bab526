import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import Amount, D, ScheduleError, build_schedule
from credit.schedule import SCHEDULE_TYPES, add_months, effective_apr

from .golden.make_golden import CASES, build

GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("name", sorted(CASES))
def test_schedule_matches_its_golden_file(name):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    assert build(name) == expected


def test_golden_first_instalment_is_actual_over_365_by_hand():
    # 120,000 x 18 % x 28 days (31 Jan -> 28 Feb) / 365 = 1,656.99
    seasonal = json.loads((GOLDEN / "seasonal.json").read_text())
    first = seasonal["instalments"][0]
    assert (first["due_date"], first["days"], first["interest"], first["principal"]) == (
        "2025-02-28",
        28,
        "1656.99",
        "0.00",
    )
    harvest = [i["due_date"] for i in seasonal["instalments"] if i["principal"] != "0.00"]
    assert harvest == ["2025-07-31", "2025-08-31", "2026-01-31"]


def test_annuity_instalments_are_equal_but_the_last_and_apr_exceeds_nominal():
    s = build_schedule(
        principal=Amount(D("100000"), "KES"), rate=D("0.18"), months=12, kind="annuity", start=date(2025, 1, 15)
    )
    totals = {i.total for i in s.instalments[:-1]}
    assert len(totals) == 1
    assert abs(s.instalments[-1].total - totals.pop()) < D("0.10")
    # 1.5 % a month compounds to about 19.56 % a year
    assert D("0.1950") < s.apr < D("0.1962")


def test_flat_interest_is_on_the_original_principal():
    s = build_schedule(
        principal=Amount(D("100000"), "KES"), rate=D("0.12"), months=12, kind="flat", start=date(2025, 1, 1)
    )
    assert s.total_interest.number == D("12000.00")  # 365 days: 100,000 x 12 %
    assert s.apr > D("0.2")


def test_zero_rate_has_zero_apr():
    s = build_schedule(
        principal=Amount(D("1000"), "KES"), rate=D("0"), months=4, kind="annuity", start=date(2025, 1, 1)
    )
    assert s.total_interest.number == 0 and s.apr == 0
    assert [i.total for i in s.instalments] == [D("250.00")] * 4


def test_month_end_clamping():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 30), 3) == date(2026, 2, 28)


def test_apr_solves_a_known_case():
    # 1000 now, 1100 back after exactly 365 days: 10 %
    assert effective_apr(
        net_disbursed=D("1000"), start=date(2025, 1, 1), payments=[(date(2026, 1, 1), D("1100"))]
    ) == D("0.100000")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"principal": Amount(D("0"), "KES")}, "principal=0 must be greater than zero"),
        ({"principal": Amount(D("-5"), "KES")}, "principal=-5"),
        ({"rate": D("1.5")}, r"rate=1.5 is out of range"),
        ({"rate": D("-0.01")}, "rate=-0.01 is out of range"),
        ({"months": 0}, "months=0 is out of range"),
        ({"months": 121}, "months=121"),
        ({"kind": "balloon"}, "type='balloon' is unknown"),
        ({"kind": "seasonal"}, "harvest_months is empty"),
        ({"harvest_months": (13,)}, "harvest_months=.13."),
        ({"grace_months": 12}, "grace_months=12"),
    ],
)
def test_bad_input_names_the_field(kwargs, match):
    args = {
        "principal": Amount(D("1000"), "KES"),
        "rate": D("0.1"),
        "months": 12,
        "kind": "annuity",
        "start": date(2025, 1, 1),
        **kwargs,
    }
    with pytest.raises(ScheduleError, match=match):
        build_schedule(**args)


@settings(max_examples=150, deadline=None)
@given(
    principal=st.decimals(min_value=Decimal("1.00"), max_value=Decimal("5000000"), places=2),
    rate=st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=4),
    months=st.integers(min_value=1, max_value=60),
    kind=st.sampled_from(SCHEDULE_TYPES),
    harvest=st.sets(st.integers(min_value=1, max_value=12), min_size=1, max_size=3),
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    grace=st.integers(min_value=0, max_value=6),
)
def test_principal_sums_to_the_loan(principal, rate, months, kind, harvest, start, grace):
    grace = min(grace, months - 1)
    s = build_schedule(
        principal=Amount(principal, "KES"),
        rate=rate,
        months=months,
        kind=kind,
        start=start,
        harvest_months=tuple(harvest),
        grace_months=grace,
    )
    assert sum(i.principal for i in s.instalments) == principal
    assert s.instalments[-1].balance_after == 0
    assert all(i.principal >= 0 and i.interest >= 0 for i in s.instalments)
    assert all(i.total == i.principal + i.interest + i.fees for i in s.instalments)
    assert all(i.principal == 0 for i in s.instalments[:grace])
    assert [i.due_date for i in s.instalments] == sorted({i.due_date for i in s.instalments})


def test_a_stored_schedule_sums_its_totals_from_the_stored_instalments():
    from credit.schedule import Instalment, stored_schedule

    rows = (
        Instalment(1, date(2025, 2, 1), 31, D("500.00"), D("15.29"), D("0"), D("515.29"), D("500.00")),
        Instalment(2, date(2025, 3, 1), 28, D("500.00"), D("6.90"), D("0"), D("506.90"), D("0.00")),
    )
    kept = stored_schedule(
        kind="equal-principal",
        principal=Amount(D("1000.00"), "KES"),
        rate=D("0.18"),
        months=2,
        start=date(2025, 1, 1),
        grace_months=0,
        harvest_months=(),
        upfront_fee=Amount(D("0"), "KES"),
        instalments=rows,
        apr=D("0.1956"),
    )
    # 15.29 + 6.90 = 22.19 interest; 1,000.00 + 22.19 = 1,022.19 payable; the rows are kept as stored
    assert (kept.total_interest, kept.total_payable) == (Amount(D("22.19"), "KES"), Amount(D("1022.19"), "KES"))
    assert kept.instalments == rows and kept.apr == D("0.1956")


def test_a_zero_rate_schedule_discloses_an_apr_of_plus_zero():
    """Issue #14 item 10: a 0 % loan printed "APR -0.00%" (the APR search ended at -0.000000)."""
    sched = build_schedule(
        principal=Amount.of("100", "KES"), rate=Decimal(0), months=2, kind="annuity", start=date(2025, 1, 1)
    )
    assert str(sched.apr) == "0.000000"
