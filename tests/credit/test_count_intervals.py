"""Count intervals in credit (vision issue #16): lower-bound valuation, count precision, wide-interval flags.

Every expected figure is worked out by hand in the comments (prices from ft-2025.1: cattle 55 000, sheep 7 000).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from credit import CameraInterval, FarmRecord, HerdDay, PolicyError, RecordError, decide_limit, load_policy
from credit.alerts import early_warnings
from credit.canonical import to_plain
from credit.policy import DEFAULT_POLICY_PATH
from credit.valuation import value_production
from credit.verification import score_verification
from tests.credit.farms import AS_OF, farm

POLICY = load_policy(DEFAULT_POLICY_PATH)


def interval_days(species: str, days: list[tuple[int, int, int]], *, cameras: int | None = 1) -> tuple[HerdDay, ...]:
    """``(head, low, high)`` per day, the last one on the day before AS_OF."""
    start = AS_OF.date() - timedelta(days=len(days))
    return tuple(
        HerdDay(start + timedelta(days=i), species, head, 3, cameras=cameras, head_low=low, head_high=high)
        for i, (head, low, high) in enumerate(days)
    )


CATTLE_DAYS = [(40, 37, 44), (42, 39, 46), (41, 36, 45)]
"""Heads 40 42 41 -> low median 41; lower ends 37 39 36 -> 37; upper ends 44 46 45 -> 45."""


def test_the_herd_is_valued_at_the_lower_end_of_its_interval():
    record = farm(herd_days=interval_days("cattle", CATTLE_DAYS), devices=())
    (cattle,) = value_production(record, POLICY).herds
    assert (cattle.head, cattle.head_low, cattle.head_high) == (41, 37, 45)
    # 37 x 55 000 = 2 035 000.00; income 2 035 000 x 0.20 offtake x 0.60 margin = 244 200.00
    assert cattle.value.number == Decimal("2035000.00")
    assert cattle.annual_net_income.number == Decimal("244200.00")


def test_without_an_interval_on_every_day_the_point_figure_is_valued():
    days = (*interval_days("cattle", CATTLE_DAYS[:2]), HerdDay(AS_OF.date() - timedelta(days=1), "cattle", 41, 3))
    (cattle,) = value_production(farm(herd_days=days, devices=()), POLICY).herds
    # heads 40 42 41 -> 41 x 55 000
    assert (cattle.head, cattle.head_low, cattle.head_high) == (41, None, None)
    assert cattle.value.number == Decimal("2255000.00")


def test_count_precision_is_the_valued_lower_ends_over_the_upper_ends():
    days = interval_days("cattle", CATTLE_DAYS) + interval_days("sheep", [(10, 8, 12), (10, 9, 11)])
    record = farm(herd_days=days, declared={"cattle": 41, "sheep": 10})
    valuation = value_production(record, POLICY)
    parts = {c.name: c for c in score_verification(record, POLICY, valuation).components}
    # lower: 55 000 x (37 + 39 + 36) + 7 000 x (8 + 9) = 6 160 000 + 119 000 = 6 279 000
    # upper: 55 000 x (44 + 46 + 45) + 7 000 x (12 + 11) = 7 425 000 + 161 000 = 7 586 000
    # 6 279 000 / 7 586 000 = 0.82771.. -> 0.8277, at the default weight 0.10 (ft-2025.1 does not name it)
    assert parts["count_precision"].value == Decimal("0.8277")
    assert parts["count_precision"].weight == Decimal("0.10")


def test_a_record_without_intervals_has_no_count_precision_component():
    record = farm()
    components = score_verification(record, POLICY, value_production(record, POLICY)).components
    assert "count_precision" not in {c.name for c in components}


def test_exact_intervals_are_fully_precise():
    record = farm(herd_days=interval_days("cattle", [(0, 0, 0), (3, 3, 3)]), devices=())
    parts = {c.name: c for c in score_verification(record, POLICY, value_production(record, POLICY)).components}
    assert parts["count_precision"].value == Decimal(1)


def test_records_without_intervals_hash_as_before():
    day = HerdDay(AS_OF.date() - timedelta(days=1), "cattle", 12, 3, cameras=1)
    assert set(to_plain(day)) == {"day", "species", "head", "frames", "cameras"}
    plain = farm(camera_intervals=()).to_plain()
    assert "camera_intervals" not in plain
    assert farm(camera_intervals=()).record_hash() == farm().record_hash()


def test_a_record_with_intervals_replays_to_the_same_hash():
    record = farm(
        herd_days=interval_days("cattle", CATTLE_DAYS),
        camera_intervals=(CameraInterval("cam-1", "gate", "cattle", "race", 3, 123, 23),),
    )
    again = FarmRecord.from_plain(record.to_plain())
    assert again == record
    assert again.record_hash() == record.record_hash()


@pytest.mark.parametrize(
    ("low", "high", "match"),
    [(None, 5, "give no end, the lower end"), (6, 5, "0 <= head_low <= head_high"), (-1, 3, "head_low")],
)
def test_a_broken_interval_is_refused(low, high, match):
    with pytest.raises(RecordError, match=match):
        HerdDay(AS_OF.date(), "cattle", 5, 1, head_low=low, head_high=high)


def test_a_camera_of_unknown_profile_is_refused():
    with pytest.raises(RecordError, match="profile 'drone'; use one of race, pen, wide, aerial"):
        CameraInterval("cam-1", "gate", "cattle", "drone", 1, 10, 1)


GATE = CameraInterval("cam-1", "gate", "cattle", "race", 2, 84, 12)
"""42 head on each of two days, intervals 39-46 and 40-45: (7 + 5) / 84 = 0.1429, under the race limit 0.20."""
PEN = CameraInterval("cam-1", "pen-2", "cattle", "pen", 2, 84, 30)
"""30 / 84 = 0.3571, over the pen limit 0.30."""


def test_relative_width_by_hand():
    assert (GATE.relative_width, PEN.relative_width) == (Decimal("0.1429"), Decimal("0.3571"))
    assert CameraInterval("cam-1", "gate", "cattle", "race", 1, 0, 2).relative_width == Decimal(2)


def test_a_camera_wider_than_its_profile_allows_is_a_decision_reason_and_a_warning():
    record = farm(cattle=[], herd_days=interval_days("cattle", CATTLE_DAYS * 20), camera_intervals=(GATE, PEN))
    decision = decide_limit(record, POLICY)
    flags = [r for r in decision.reasons if r.code == "wide_count_interval"]
    assert [(r.message, r.source) for r in flags] == [
        (
            "Camera cam-1/pen-2 (pen) counts cattle with 90 % intervals 36 % of the head wide over 2 day(s), "
            "wider than the 30 % allowed for pen cameras: check its counts before relying on them.",
            "camera_intervals",
        )
    ]
    (alert,) = [a for a in early_warnings(record=record, policy=POLICY) if a.code == "wide_count_interval"]
    assert (alert.severity, alert.evidence["camera_id"], alert.evidence["relative_width"]) == (
        "warning",
        "pen-2",
        Decimal("0.3571"),
    )


def test_the_herd_evidence_reason_states_the_interval_and_the_valued_head():
    # 60 days, 20 of each: heads 40/41/42 -> the 30th of 60 sorted is 41; lower ends 36/37/39 -> 37;
    # upper ends 44/45/46 -> 45
    record = farm(cattle=[], herd_days=interval_days("cattle", CATTLE_DAYS * 20))
    decision = decide_limit(record, POLICY)
    (evidence,) = [r for r in decision.reasons if r.code == "herd_evidence"]
    assert evidence.message.startswith("Verified cattle herd 41 (90 % interval 37-45, valued at 37): ")
    assert decision.valuation is not None
    assert decision.valuation.herd_value.number == Decimal("2035000.00")


POLICY_TEXT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")


def test_a_policy_sets_the_widths_and_the_weight():
    text = POLICY_TEXT.replace("[verification]\n", '[verification]\ncount_precision = "0.05"\n') + (
        '\n[count_intervals]\nmax_relative_width_race = "0.1"\nmax_relative_width_aerial = "1.5"\n'
    )
    policy = load_policy(text)
    assert dict(policy.verification_weights)["count_precision"] == Decimal("0.05")
    assert dict(policy.max_relative_width) == {
        "race": Decimal("0.1"),
        "pen": Decimal("0.30"),
        "wide": Decimal("0.50"),
        "aerial": Decimal("1.5"),
    }


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ('max_relative_width_drone = "0.3"', r"unknown parameters \['max_relative_width_drone'\]"),
        ('max_relative_width_pen = "0"', "count_intervals.max_relative_width_pen = 0; use a positive width"),
        ('max_relative_width_pen = "11"', "max_relative_width_pen = 11 is out of range"),
    ],
)
def test_a_bad_width_is_refused_naming_the_field(table, match):
    with pytest.raises(PolicyError, match=match):
        load_policy(POLICY_TEXT + f"\n[count_intervals]\n{table}\n")


UNBOUNDED_DAYS = [(40, 37, 44), (42, 0, None), (41, 36, 45), (43, 38, None)]
"""Two days unbounded above (a profile calibrated on too few frames)."""


def test_an_unbounded_day_keeps_its_lower_end_and_sorts_above_every_upper_end():
    record = farm(herd_days=interval_days("cattle", UNBOUNDED_DAYS), devices=())
    (cattle,) = value_production(record, POLICY).herds
    # heads 40 41 42 43 -> 41; lower ends 0 36 37 38 -> 36; upper ends 44 45 inf inf -> the 2nd of 4, 45
    assert (cattle.head, cattle.head_low, cattle.head_high) == (41, 36, 45)
    assert cattle.value.number == Decimal("1980000.00")  # 36 x 55 000
    three = farm(herd_days=interval_days("cattle", UNBOUNDED_DAYS[1:]), devices=())
    # upper ends inf 45 inf -> inf: unbounded; lower ends 0 36 38 -> 36
    assert [(h.head_low, h.head_high) for h in value_production(three, POLICY).herds] == [(36, None)]


def test_unbounded_days_have_no_precision():
    record = farm(herd_days=interval_days("cattle", UNBOUNDED_DAYS), declared={"cattle": 41})
    parts = {c.name: c for c in score_verification(record, POLICY, value_production(record, POLICY)).components}
    # bounded days: (37 + 36) / (44 + 45) = 73 / 89 = 0.82022..; 2 of 4 days bounded: x 0.5 = 0.41011.. -> 0.4101
    assert parts["count_precision"].value == Decimal("0.4101")


def test_a_camera_unbounded_on_a_day_is_flagged_whatever_its_width():
    aerial = CameraInterval("drone-1", "", "sheep", "aerial", 3, 20, 1, unbounded_days=1)
    record = farm(cattle=[], herd_days=interval_days("cattle", CATTLE_DAYS * 20), camera_intervals=(aerial,))
    (flag,) = [r for r in decide_limit(record, POLICY).reasons if r.code == "wide_count_interval"]
    assert flag.message == (
        "Camera drone-1/- (aerial) counts sheep with 90 % intervals unbounded above on 1 of 3 day(s), wider than "
        "the 40 % allowed for aerial cameras: check its counts before relying on them."
    )
