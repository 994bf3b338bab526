import dataclasses
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import Amount, D, build_schedule, decide_limit, load_policy, loan_status
from credit.alerts import early_warnings
from credit.errors import PaymentError
from credit.policy import DEFAULT_POLICY_PATH
from credit.record import NdviPoint, SensorDay
from credit.revolving import draw, open_line, refresh_line, repay

from .farms import AS_OF, camera, farm, field, water

POLICY = load_policy(DEFAULT_POLICY_PATH)


def codes(alerts):
    return {(a.code, a.severity) for a in alerts}


def test_each_early_warning_with_its_evidence():
    silent = dataclasses.replace(camera(), last_seen=AS_OF - timedelta(hours=72))
    hot = tuple(
        SensorDay(AS_OF.date() - timedelta(days=i), "barn-1", "barn_temperature_c", 96, D(28), D(20), D(33), D(2))
        for i in range(1, 4)
    )
    dry = water([600] * 59 + [0])
    maize = dataclasses.replace(
        field("f1", "maize", "2", "2"),
        ndvi=(NdviPoint(date(2025, 6, 20), D("0.40")), NdviPoint(date(2025, 6, 25), D("0.42"))),
    )
    record = farm(cattle=[20] * 53 + [12] * 7, devices=(silent,), sensor_days=hot + dry, fields=(maize,))
    late = loan_status(
        schedule=build_schedule(
            principal=Amount(D(1000), "KES"), rate=D("0.1"), months=3, kind="annuity", start=date(2025, 4, 1)
        ),
        payments=[],
        as_of=AS_OF.date(),
    )
    alerts = early_warnings(record=record, policy=POLICY, baseline_herd={"cattle": 20}, loan=late)
    assert codes(alerts) == {
        ("herd_decline", "high"),
        ("ndvi_below_norm", "warning"),
        ("device_silent", "critical"),
        ("heat_stress", "warning"),
        ("water_failure", "critical"),
        ("missed_instalment", "high"),
    }
    herd = next(a for a in alerts if a.code == "herd_decline")
    assert herd.evidence["recent_median"] == 12 and herd.evidence["drop_share"] == D("0.40")
    assert alerts[0].severity == "critical"


def test_a_healthy_farm_raises_no_alert():
    assert early_warnings(record=farm(), policy=POLICY, baseline_herd={"cattle": 12}) == ()


def test_the_revolving_line_restores_grows_shrinks_and_freezes():
    decision = decide_limit(farm(), POLICY)
    line = open_line(decision, on=date(2025, 6, 30))
    assert line.available == decision.limit
    line = draw(line, Amount(D(10000), "KES"))
    assert line.available.number == decision.limit.number - 10000
    line = repay(line, Amount(D(4000), "KES"))
    assert line.available.number == decision.limit.number - 6000
    same, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 2), on_time_months=0, alerts=(), policy=POLICY
    )
    assert same == line and changes == ()
    grown, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 7), on_time_months=6, alerts=(), policy=POLICY
    )
    assert [c.code for c in changes] == ["grown"]
    assert grown.limit.number == (decision.limit.number * D("1.1") // 1000) * 1000
    herd_alert = early_warnings(record=farm(cattle=[12] * 53 + [6] * 7), policy=POLICY, baseline_herd={"cattle": 12})
    shrunk, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 7), on_time_months=0, alerts=herd_alert, policy=POLICY
    )
    assert [c.code for c in changes] == ["shrunk"] and shrunk.limit.number < decision.limit.number
    silent = early_warnings(record=farm(devices=(dataclasses.replace(camera(), last_seen=None),)), policy=POLICY)
    frozen, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 7), on_time_months=0, alerts=silent, policy=POLICY
    )
    assert frozen.status == "frozen" and frozen.available.number == 0 and changes[-1].code == "frozen"


def _missed_alert(days_past_due: int) -> tuple:
    """The early warnings of an equal-principal loan (12,000 KES, 12 %, 12 months from 2025-01-01) never paid."""
    loan = loan_status(
        schedule=build_schedule(
            principal=Amount(D(12000), "KES"), rate=D("0.12"), months=12, kind="equal-principal", start=date(2025, 1, 1)
        ),
        payments=[],
        as_of=date(2025, 2, 1) + timedelta(days=days_past_due),
    )
    return early_warnings(record=farm(), policy=POLICY, baseline_herd={"cattle": 12}, loan=loan)


def test_a_missed_instalment_takes_the_earned_growth_and_the_log_says_so_once():
    """Issue #14 item 4: a line grown to +20 % stayed grown at 0 on-time months with a 1-30 DPD warning, and
    the log read "0 consecutive on-time months: +20%"; every refresh logged the same change again."""
    decision = dataclasses.replace(decide_limit(farm(), POLICY), limit=Amount(D(100000), "KES"), status="approved")
    line = open_line(decision, on=date(2025, 1, 1))
    grown, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 7), on_time_months=12, alerts=(), policy=POLICY
    )
    # 12 on-time months / 6 = 2 steps of 10 %: 100,000 x 1.2 = 120,000
    assert grown.limit.number == 120000 and [(c.code, c.new_limit.number) for c in changes] == [("grown", 120000)]
    assert "12 consecutive on-time months: +20%" in changes[0].message
    # the same inputs a week later change nothing, so nothing is logged
    same, changes = refresh_line(
        grown, decision=decision, on=date(2025, 7, 14), on_time_months=12, alerts=(), policy=POLICY
    )
    assert changes == () and same.limit.number == 120000
    warning = _missed_alert(5)
    assert [(a.code, a.severity) for a in warning] == [("missed_instalment", "warning")]
    cut, changes = refresh_line(
        same, decision=decision, on=date(2025, 7, 21), on_time_months=0, alerts=warning, policy=POLICY
    )
    assert cut.limit.number == 100000 and cut.status == "active"
    ((change,),) = (changes,)
    assert (change.code, change.old_limit.number, change.new_limit.number) == ("growth_lost", 120000, 100000)
    assert "the +20% growth earned is lost" in change.message and "months: +20%" not in change.message
    # caught up: growth returns only after 6 new clean months, one step (110,000), not the old two
    again, changes = refresh_line(
        cut, decision=decision, on=date(2025, 7, 28), on_time_months=5, alerts=(), policy=POLICY
    )
    assert again.limit.number == 100000 and changes == ()
    regrown, changes = refresh_line(
        again, decision=decision, on=date(2026, 1, 28), on_time_months=6, alerts=(), policy=POLICY
    )
    assert regrown.limit.number == 110000 and [c.code for c in changes] == ["grown"]


def test_delinquency_shrinks_then_freezes_the_line_as_the_policy_says():
    decision = dataclasses.replace(decide_limit(farm(), POLICY), limit=Amount(D(100000), "KES"), status="approved")
    line = open_line(decision, on=date(2025, 1, 1))
    # 45 days past due is "high": shrink_share 25 % -> 75,000
    shrunk, changes = refresh_line(
        line, decision=decision, on=date(2025, 7, 7), on_time_months=0, alerts=_missed_alert(45), policy=POLICY
    )
    assert shrunk.limit.number == 75000 and shrunk.status == "active"
    assert [(c.code, c.old_limit.number, c.new_limit.number) for c in changes] == [("shrunk", 100000, 75000)]
    # 95 days past due is "critical" = freeze_on: draws stop, the limit stays the decided one
    frozen, changes = refresh_line(
        shrunk, decision=decision, on=date(2025, 7, 14), on_time_months=0, alerts=_missed_alert(95), policy=POLICY
    )
    assert frozen.status == "frozen" and frozen.available.number == 0
    assert [(c.code, c.new_limit.number) for c in changes] == [("refreshed", 100000), ("frozen", 100000)]


def test_an_overpayment_is_kept_as_a_credit_balance_and_drawn_first():
    """Issue #14 item 4: a repayment above the drawn amount was silently dropped."""
    decision = dataclasses.replace(decide_limit(farm(), POLICY), limit=Amount(D(100000), "KES"), status="approved")
    line = draw(open_line(decision, on=date(2025, 1, 1)), Amount(D(10000), "KES"))
    paid = repay(line, Amount(D("12500.50"), "KES"))
    assert paid.drawn.number == 0 and paid.credit_balance == D("2500.50")
    assert paid.available.number == D("102500.50")
    used = draw(paid, Amount(D(3000), "KES"))
    assert used.credit_balance == 0 and used.drawn.number == D("499.50")
    frozen = dataclasses.replace(paid, status="frozen")
    assert frozen.available.number == D("2500.50")
    with pytest.raises(PaymentError, match=r"more than 2 decimals"):
        repay(line, Amount(D("100.005"), "KES"))


@settings(max_examples=300, deadline=None)
@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["draw", "repay"]), st.integers(min_value=1, max_value=15_000_00)),
        max_size=30,
    )
)
def test_every_cent_drawn_or_repaid_is_accounted_for(moves):
    """Over any stream of draws and repayments: repaid - drawn = credit balance - drawn balance, to the cent."""
    decision = dataclasses.replace(decide_limit(farm(), POLICY), limit=Amount(D(100000), "KES"), status="approved")
    line = open_line(decision, on=date(2025, 1, 1))
    net = D(0)  # repaid minus drawn, summed independently of the line
    for kind, cents in moves:
        amount = Amount(D(cents) / 100, "KES")
        if kind == "repay":
            line, net = repay(line, amount), net + amount.number
        elif amount.number <= line.available.number:
            line, net = draw(line, amount), net - amount.number
        assert line.drawn.number >= 0 and line.credit_balance >= 0
        assert not (line.drawn.number > 0 and line.credit_balance > 0)  # a balance is used before drawing more
        assert net == line.credit_balance - line.drawn.number


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(min_value=0, max_value=30), st.sampled_from([None, 5, 45, 95])), min_size=1, max_size=8
    )
)
def test_the_change_log_holds_one_entry_per_real_change(steps):
    """A refresh logs an entry only when the limit or the status moved, and each entry tells the move."""
    decision = dataclasses.replace(decide_limit(farm(), POLICY), limit=Amount(D(100000), "KES"), status="approved")
    line, on = open_line(decision, on=date(2025, 1, 1)), date(2025, 1, 1)
    for months, dpd in steps:
        alerts = _missed_alert(dpd) if dpd else ()
        for _ in range(2):  # the second refresh, with the same inputs, changes nothing
            on += timedelta(days=7)
            new, changes = refresh_line(
                line, decision=decision, on=on, on_time_months=months, alerts=alerts, policy=POLICY
            )
            moved = int(new.limit != line.limit) + int(new.status != line.status)
            assert len(changes) == moved
            for c in changes:
                assert (c.old_limit, c.new_limit) == (
                    (line.limit, new.limit) if c.code not in ("frozen", "unfrozen") else (new.limit, new.limit)
                )
            if dpd:
                assert new.limit.number <= 100000  # no growth while a loan is past due
            line = new
        assert changes == ()
