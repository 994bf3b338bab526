import dataclasses
from datetime import date, timedelta

from credit import Amount, D, build_schedule, decide_limit, load_policy, loan_status
from credit.alerts import early_warnings
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
