import json
from datetime import timedelta

import pytest

from credit import D, RecordError, decide_limit, load_policy
from credit.canonical import canonical_json
from credit.policy import DEFAULT_POLICY_PATH
from store.credit_records import (
    FarmNotFoundError,
    PolicyConflictError,
    load_decision,
    load_farm_record,
    record_decision,
    register_policy,
    replay_decision,
)
from tests.credit.farms_db import AS_OF, make_farm

POLICY = load_policy(DEFAULT_POLICY_PATH)


def test_load_farm_record_reads_every_input(conn):
    farm = make_farm(conn)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    assert record.declared_herd == (("cattle", 12),)
    assert len(record.herd_days) == 60 and {d.max_count for d in record.herd_days} == {12}
    assert all(d.counts == 3 for d in record.herd_days)
    assert len(record.frames) == 180
    water = [s for s in record.sensor_days if s.metric == "water_flow_l_min"]
    assert len(water) == 60 and all(s.readings == 12 for s in water)
    assert record.devices[0].days_with_data == 60 and record.devices[0].messages == 720
    assert record.fields[0].declared_crop == "maize" and len(record.fields[0].boundary) == 4
    assert record.deliveries[0].amount.number == 15000
    # the same rows give the same hash, and the window excludes the as_of instant itself
    assert load_farm_record(conn, farm_id=farm, as_of=AS_OF).record_hash() == record.record_hash()
    assert len(load_farm_record(conn, farm_id=farm, as_of=AS_OF, window_days=10).herd_days) == 10


def test_missing_farm_and_naive_time_are_clear_errors(conn):
    with pytest.raises(FarmNotFoundError, match="farm_id='nope' is not a valid id"):
        load_farm_record(conn, farm_id="nope", as_of=AS_OF)
    with pytest.raises(FarmNotFoundError, match="does not exist"):
        load_farm_record(conn, farm_id="00000000-0000-0000-0000-000000000000", as_of=AS_OF)
    with pytest.raises(RecordError, match="no time zone"):
        load_farm_record(conn, farm_id="00000000-0000-0000-0000-000000000000", as_of=AS_OF.replace(tzinfo=None))


def test_a_stored_decision_replays_exactly(conn):
    farm = make_farm(conn, cattle=9, declared=14)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    decision_id, entry = record_decision(conn, decision=decision, record=record, policy=POLICY)
    assert entry.kind == "credit.decision" and entry.payload["output_hash"] == decision.output_hash()
    stored, recomputed = replay_decision(conn, decision_id=decision_id)
    assert stored == recomputed == canonical_json(decision)
    again = load_decision(conn, decision_id=decision_id)
    assert again.record.record_hash() == record.record_hash()
    # the decision is also recomputable from the record freshly loaded from the source tables
    fresh = decide_limit(load_farm_record(conn, farm_id=farm, as_of=AS_OF), POLICY)
    assert canonical_json(fresh) == stored
    row = conn.execute(
        "SELECT status, limit_amount, record_hash FROM credit_decisions WHERE id = %s", (decision_id,)
    ).fetchone()
    assert row == (decision.status, decision.limit.number, record.record_hash())


def test_policy_versions_are_registered_once_and_audited(conn):
    first = register_policy(conn, policy=POLICY)
    assert first is not None and first.kind == "policy.registered"
    assert json.loads(first.payload_json)["sha256"] == POLICY.sha256
    assert register_policy(conn, policy=POLICY) is None
    changed = load_policy(POLICY.text.replace('product_cap = "500000"', 'product_cap = "400000"'))
    with pytest.raises(PolicyConflictError, match="bump `version`"):
        register_policy(conn, policy=changed)


def test_a_meadows_grassland_estimate_reaches_the_record_and_the_valuation(conn):
    farm = make_farm(conn)
    field_id = conn.execute(
        """INSERT INTO fields (farm_id, external_id, geometry, declared_crop, declared_area_ha)
           VALUES (%s, 'M1', '{"type": "Polygon", "coordinates": []}'::jsonb, 'grass', 2.0) RETURNING id""",
        (farm,),
    ).fetchone()[0]
    conn.execute(
        """INSERT INTO crop_area_estimates (field_id, farm_id, estimated_at, cropped_ha, grassland_ha, area_ha,
               clear_observations, method_version)
           VALUES (%s, %s, %s, 0, 1.75, 2.0, 9, 'test')""",
        (field_id, farm, AS_OF - timedelta(days=3)),
    )
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    meadow = next(f for f in record.fields if f.declared_crop == "grass")
    assert (meadow.cropped_ha, meadow.grassland_ha, meadow.observed_ha) == (0, D("1.75"), D("1.75"))
    decision = decide_limit(record, POLICY, as_of=AS_OF)
    assert any(c.field_id == str(field_id) and c.cropped_ha == D("1.75") for c in decision.valuation.crops)


def test_a_stored_count_of_an_unknown_species_leaves_the_farm_decidable(conn, caplog):
    """Issue #12 item 8: one 'llama' count used to make every credit request of the farm a 422 for 60 days."""
    farm = make_farm(conn)
    clean = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    device = conn.execute("SELECT id FROM devices WHERE farm_id = %s", (farm,)).fetchone()[0]
    conn.execute(
        """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method)
           VALUES (%s, %s, %s, 'cam', 'llama', 4, 'edge_snapshot')""",
        (AS_OF - timedelta(days=3), farm, device),
    )
    conn.execute("""UPDATE farms SET declared_herd = declared_herd || '{"alpaca": 2}'::jsonb WHERE id = %s""", (farm,))
    with caplog.at_level("WARNING", logger="store.credit_records"):
        record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    assert record.species() == ("cattle",)
    assert record.declared_herd == (("cattle", 12),)
    assert record.record_hash() == clean.record_hash()  # the unknown rows are left out, nothing else changes
    assert "alpaca" in caplog.text and "llama" in caplog.text
    assert decide_limit(record, POLICY).status == decide_limit(clean, POLICY).status
