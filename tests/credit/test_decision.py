"""Credit scenarios in domain notation: a farm, its verified record, and the decision it gets."""

import dataclasses
import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit import D, FarmRecord, FrameSeen, HerdDay, RecordError, decide_limit, load_policy
from credit.policy import DEFAULT_POLICY_PATH

from .farms import AS_OF, camera, farm, field, good_payer, herd, water

POLICY = load_policy(DEFAULT_POLICY_PATH)


def test_a_verified_dairy_farm_is_approved_with_every_factor_explained():
    d = decide_limit(farm(cattle=[12] * 60, declared={"cattle": 12}, past_loans=good_payer()), POLICY)
    assert d.status == "approved"
    assert d.limit.currency == "KES" and d.limit.number > 0
    assert d.limit.number % POLICY.step == 0
    names = [f.name for f in d.factors]
    assert names == [
        "product_cap",
        "repayment_capacity",
        "asset_coverage",
        "score_multiplier",
        "verification_multiplier",
    ]
    # 12 cattle x 55,000 x 20 % offtake x 60 % margin = 79,200 a year; x 0.35 DSR = 27,720 binds
    assert d.binding_factor == "repayment_capacity"
    capacity = next(f for f in d.factors if f.name == "repayment_capacity")
    assert capacity.amount.number == D("27720.00")
    assert d.limit.number <= capacity.amount.number


def test_counted_below_declared_gives_reasons_and_a_counterfactual():
    d = decide_limit(farm(cattle=[9] * 60, declared={"cattle": 14}, past_loans=good_payer()), POLICY)
    assert d.status == "approved"
    assert any(r.source == "herd_agreement" and "64%" in r.message for r in d.reasons)
    cf = d.counterfactuals[0]
    assert cf.change == "cattle_head=14"
    assert "A verified cattle herd of 14 instead of 9 would raise the limit to" in cf.message
    assert cf.limit.number > d.limit.number


@pytest.mark.parametrize(
    ("record", "missing"),
    [
        (farm(cattle=[12] * 10), "device data on 10 days of the last 60"),
        (farm(cattle=[12] * 60, devices=()), "0 active signed device(s)"),
        (farm(cattle=[], devices=(camera(),)), "no verified production"),
    ],
)
def test_too_little_verified_data_is_never_a_guessed_limit(record, missing):
    d = decide_limit(record, POLICY)
    assert d.status == "insufficient_data"
    assert d.limit.number == 0 and d.score is None
    assert any(missing in m for m in d.missing)
    assert d.reasons[0].code == "insufficient_verified_data"


def test_crops_and_deliveries_add_income_and_coverage():
    crops = farm(cattle=[12] * 60, fields=(field("f1", "maize", "2.0", "1.5"),))
    base = decide_limit(farm(cattle=[12] * 60), POLICY)
    d = decide_limit(crops, POLICY)
    assert d.valuation.crop_value.number == D("1.5") * D("3.2") * D("35000")  # nakuru maize yield
    assert d.limit.number > base.limit.number
    assert any(c.change == "cropped_ha=2.0" for c in d.counterfactuals)


def test_a_meadow_is_valued_on_the_grassland_the_satellite_sees():
    # remote sensing reports a meadow as grassland, not as cropped area: 0 ha cropped, 1.6 ha grass
    meadow = dataclasses.replace(field("m1", "grass", "2.0", "0"), grassland_ha=D("1.6"))
    d = decide_limit(farm(cattle=[12] * 60, fields=(meadow,)), POLICY)
    assert d.valuation.crop_value.number == D("1.6") * D("6") * D("4000")  # grass: 6 t/ha at 4000
    area = next(c for c in d.verification if c.name == "area_agreement")
    assert area.value == D("0.8")  # 1.6 of 2.0 ha confirmed, not 0 of 2.0
    assert any(c.change == "cropped_ha=2.0" for c in d.counterfactuals)  # full grass cover would raise it
    # a maize field keeps its cropped area even when grass was seen in it
    maize = dataclasses.replace(field("f1", "maize", "2.0", "1.5"), grassland_ha=D("0.4"))
    assert decide_limit(farm(fields=(maize,)), POLICY).valuation.crop_value.number == D("1.5") * D("3.2") * D("35000")


def test_records_stored_before_grassland_existed_hash_as_they_did():
    plain = farm(fields=(field("f1", "maize", "2.0", "1.5"),))
    assert '"grassland_ha"' not in plain.canonical  # an unknown value is left out, so old hashes hold
    with_grass = dataclasses.replace(plain, fields=(dataclasses.replace(plain.fields[0], grassland_ha=D("0.3")),))
    assert '"grassland_ha":"0.3"' in with_grass.canonical
    again = FarmRecord.from_plain(json.loads(with_grass.canonical))
    assert again.fields[0].grassland_ha == D("0.3") and again.record_hash() == with_grass.record_hash()
    assert FarmRecord.from_plain(json.loads(plain.canonical)).record_hash() == plain.record_hash()


def test_unknown_crop_names_the_field():
    with pytest.raises(RecordError, match=r"field f9 declared_crop: unknown crop 'quinoa'"):
        decide_limit(farm(fields=(field("f9", "quinoa", "1", "1"),)), POLICY)


def test_unknown_species_is_refused_when_the_record_is_built():
    with pytest.raises(RecordError, match="unknown species 'llama'"):
        HerdDay(AS_OF.date(), "llama", 3)


def test_recycled_frames_refer_the_decision_to_a_person():
    frames = tuple(FrameSeen(AS_OF - timedelta(days=i, hours=2), "cam-1", "f0f0f0f0f0f0f0f0") for i in range(1, 30))
    d = decide_limit(farm(frames=frames), POLICY)
    signal = next(s for s in d.fraud_signals if s.code == "recycled_frames")
    assert signal.evidence["reused"] == 28 and signal.severity == 1
    assert d.status == "referred" and d.reasons[0].code == "fraud_review"
    assert d.limit.number > 0  # the fraud score stands beside the limit; a person decides


def test_a_count_jump_before_the_application_is_a_fraud_signal():
    d = decide_limit(farm(cattle=[10] * 53 + [25] * 7, declared={"cattle": 25}), POLICY)
    jump = next(s for s in d.fraud_signals if s.code == "count_jump")
    assert jump.evidence == {"species": "cattle", "late_median": 25, "early_median": 10, "ratio": D("2.50")}


def test_flat_lined_water_meter_and_a_device_outside_the_fields():
    flat = tuple(dataclasses.replace(s, stdev=D(0)) for s in water([600] * 60))
    outside = dataclasses.replace(camera(), lat_deg=D("-1.5"), lon_deg=D("37.5"))
    plot = dataclasses.replace(
        field("f1", "maize", "2", "2"), boundary=((D(36), D("-0.3")), (D("36.01"), D("-0.3")), (D("36.01"), D("-0.29")))
    )
    d = decide_limit(farm(sensor_days=flat, devices=(outside,), fields=(plot,)), POLICY)
    codes = {s.code for s in d.fraud_signals}
    assert {"flat_sensor", "device_outside_farm"} <= codes


def test_water_draw_far_below_the_declared_herd_lowers_verification():
    ok = decide_limit(farm(sensor_days=water([600] * 60)), POLICY)
    dry = decide_limit(farm(sensor_days=water([60] * 60)), POLICY)
    assert next(c for c in ok.verification if c.name == "water_consistency").value == 1
    # 60 L/day for 12 cattle that need 240..1,200 L/day: about a quarter
    assert D("0.24") < next(c for c in dry.verification if c.name == "water_consistency").value < D("0.26")
    assert dry.verification_score < ok.verification_score


def test_decision_is_deterministic_and_names_its_record():
    r = farm(cattle=[11, 12, 13] * 20)
    a, b = decide_limit(r, POLICY), decide_limit(FarmRecord.from_plain(r.to_plain()), POLICY)
    assert a.record_hash == r.record_hash() and a.output_hash() == b.output_hash()


@st.composite
def farms_and_losses(draw):
    counts = draw(st.lists(st.integers(0, 40), min_size=21, max_size=60))
    declared = draw(st.integers(0, 40))
    loss = draw(st.integers(1, 40))
    sheep = draw(st.lists(st.integers(0, 60), min_size=0, max_size=60))
    repaid = draw(st.booleans())
    return counts, declared, loss, sheep, repaid


@settings(max_examples=120, deadline=None)
@given(farms_and_losses())
def test_the_limit_never_rises_when_the_verified_herd_falls(case):
    counts, declared, loss, sheep, repaid = case
    extra = {"past_loans": good_payer()} if repaid else {}
    sheep_days = herd("sheep", sheep) if sheep else ()

    def record(cattle):
        r = farm(cattle=cattle, declared={"cattle": declared, "sheep": 20}, **extra)
        return dataclasses.replace(r, herd_days=r.herd_days + sheep_days)

    before = decide_limit(record(counts), POLICY)
    after = decide_limit(record([max(c - loss, 0) for c in counts]), POLICY)
    assert after.limit.number <= before.limit.number


def _policy_with_distance(distance: int):
    text = DEFAULT_POLICY_PATH.read_text()
    return load_policy(text.replace("recycled_phash_max_distance = 2", f"recycled_phash_max_distance = {distance}"))


def _reused(hashes: list[int], policy) -> int:
    frames = tuple(
        FrameSeen(AS_OF - timedelta(days=len(hashes) - i, hours=2), "cam-1", f"{h:016x}") for i, h in enumerate(hashes)
    )
    signal = next(
        (s for s in decide_limit(farm(frames=frames), policy).fraud_signals if s.code == "recycled_frames"), None
    )
    return 0 if signal is None else signal.evidence["reused"]


# 0 and a hash 5 bits away with one differing bit in each 16-bit quarter (bits 0, 8, 16, 32, 48): the old
# matcher compared only hashes sharing a 16-bit quarter exactly, so any distance above 3 silently missed it.
FIVE_BITS_AWAY = (1 << 0) | (1 << 8) | (1 << 16) | (1 << 32) | (1 << 48)


@pytest.mark.parametrize(("distance", "expected"), [(4, 0), (5, 1), (15, 1)])
def test_a_phash_distance_above_3_still_matches(distance, expected):
    assert _reused([0, FIVE_BITS_AWAY], _policy_with_distance(distance)) == expected


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 15),
    st.lists(st.tuples(st.integers(0, 2**64 - 1), st.sets(st.integers(0, 63), max_size=8)), min_size=2, max_size=6),
)
def test_recycled_matcher_agrees_with_comparing_every_pair(distance, seeds):
    """Reference: each frame is compared bit by bit with every earlier frame (each on its own day)."""
    base = seeds[0][0]
    hashes = [base ^ sum(1 << b for b in flips) if i % 2 else value for i, (value, flips) in enumerate(seeds)]
    expected = sum(
        any((hashes[i] ^ hashes[j]).bit_count() <= distance for j in range(i)) for i in range(1, len(hashes))
    )
    assert _reused(hashes, _policy_with_distance(distance)) == expected


def test_a_decision_stored_before_the_issue_14_renames_still_replays():
    """``FarmRecord.repayments`` became ``past_loans`` and ``CropEstimate.cropped_ha`` became ``observed_ha``.

    The stored texts were written by the code before the renames (commit be05239, see ``made_by``): the
    old record must hash as it did, and the recomputed decision must equal the stored one, key names aside.
    """
    import json
    from pathlib import Path

    from credit.canonical import canonical_json
    from credit.decision import upgrade_stored_output
    from credit.record import FarmRecord

    stored = json.loads((Path(__file__).parent / "stored" / "decision_before_issue_14.json").read_text())
    assert '"repayments"' in stored["record"] and '"cropped_ha"' in stored["output"]
    record = FarmRecord.from_plain(json.loads(stored["record"]))
    assert record.record_hash() == stored["record_hash"]
    assert [(p.loan_id, p.max_days_past_due) for p in record.past_loans] == [("loan-0", 4)]
    recomputed = canonical_json(decide_limit(record, POLICY))
    assert '"observed_ha"' in recomputed and '"cropped_ha"' not in recomputed
    assert upgrade_stored_output(stored["output"]) == recomputed
    crops = {c["field_id"]: c["observed_ha"] for c in json.loads(recomputed)["valuation"]["crops"]}
    assert crops == {"m1": "1.6", "f1": "1.5"}  # the meadow's grassland, the maize field's cropped area
    # the same data recorded now is stored under the new name (a new text, so a new hash) and reloads to it
    now = dataclasses.replace(record)
    assert '"past_loans"' in now.canonical and '"repayments"' not in now.canonical
    assert FarmRecord.from_plain(now.to_plain()).record_hash() == now.record_hash() != record.record_hash()
