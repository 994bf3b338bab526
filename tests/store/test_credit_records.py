import json
from datetime import timedelta

import pytest

from credit import D, RecordError, decide_limit, load_policy
from credit.policy import DEFAULT_POLICY_PATH
from store.counts import CountRow, write_counts
from store.credit_records import (
    FarmNotFoundError,
    PolicyConflictError,
    latest_decisions,
    read_farm_record,
    record_decision,
    register_policy,
)
from store.farms import create_farm
from store.tenants import create_organization
from tests.credit.farms_db import AS_OF, make_farm
from tests.signers import TEST_SIGNER

POLICY = load_policy(DEFAULT_POLICY_PATH)


def test_read_farm_record_reads_every_input(conn):
    farm = make_farm(conn)
    record = read_farm_record(conn, farm_id=farm, as_of=AS_OF)
    assert record.declared_herd == (("cattle", 12),)
    # each day one camera counts 11, 12 and 10: the day's figure is their low median, 11 (not the maximum, 12)
    assert len(record.herd_days) == 60 and {d.head for d in record.herd_days} == {11}
    assert all((d.frames, d.cameras) == (3, 1) for d in record.herd_days)
    assert len(record.frames) == 180
    water = [s for s in record.sensor_days if s.metric == "water_flow_l_min"]
    assert len(water) == 60 and all(s.readings == 12 for s in water)
    assert record.devices[0].days_with_data == 60 and record.devices[0].messages == 720
    assert record.fields[0].declared_crop == "maize" and len(record.fields[0].boundary) == 4
    assert record.deliveries[0].amount.number == 15000
    # the same rows give the same hash, and the window excludes the as_of instant itself
    assert read_farm_record(conn, farm_id=farm, as_of=AS_OF).record_hash() == record.record_hash()
    assert len(read_farm_record(conn, farm_id=farm, as_of=AS_OF, window_days=10).herd_days) == 10


def test_missing_farm_and_naive_time_are_clear_errors(conn):
    with pytest.raises(FarmNotFoundError, match="farm_id='nope' is not a valid id"):
        read_farm_record(conn, farm_id="nope", as_of=AS_OF)
    with pytest.raises(FarmNotFoundError, match="does not exist"):
        read_farm_record(conn, farm_id="00000000-0000-0000-0000-000000000000", as_of=AS_OF)
    with pytest.raises(RecordError, match="no time zone"):
        read_farm_record(conn, farm_id="00000000-0000-0000-0000-000000000000", as_of=AS_OF.replace(tzinfo=None))


def test_policy_versions_are_registered_once_and_audited(conn):
    first = register_policy(conn, signer=TEST_SIGNER, policy=POLICY)
    assert first is not None and first.kind == "policy.registered"
    assert json.loads(first.payload_json)["sha256"] == POLICY.sha256
    assert register_policy(conn, signer=TEST_SIGNER, policy=POLICY) is None
    changed = load_policy(POLICY.text.replace('product_cap = "500000"', 'product_cap = "400000"'))
    with pytest.raises(PolicyConflictError, match="bump `version`"):
        register_policy(conn, signer=TEST_SIGNER, policy=changed)


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
    record = read_farm_record(conn, farm_id=farm, as_of=AS_OF)
    meadow = next(f for f in record.fields if f.declared_crop == "grass")
    assert (meadow.cropped_ha, meadow.grassland_ha, meadow.observed_ha) == (0, D("1.75"), D("1.75"))
    decision = decide_limit(record, POLICY, as_of=AS_OF)
    assert any(c.field_id == str(field_id) and c.observed_ha == D("1.75") for c in decision.valuation.crops)


def test_a_stored_count_of_an_unknown_species_leaves_the_farm_decidable(conn, caplog):
    """Issue #12 item 8: one 'llama' count used to make every credit request of the farm a 422 for 60 days."""
    farm = make_farm(conn)
    clean = read_farm_record(conn, farm_id=farm, as_of=AS_OF)
    device = conn.execute("SELECT id FROM devices WHERE farm_id = %s", (farm,)).fetchone()[0]
    llama = CountRow(AS_OF - timedelta(days=3), farm, "llama", 4, "edge_snapshot", device_id=device, camera_id="cam")
    write_counts(conn=conn, rows=[llama])
    conn.execute("""UPDATE farms SET declared_herd = declared_herd || '{"alpaca": 2}'::jsonb WHERE id = %s""", (farm,))
    with caplog.at_level("WARNING", logger="store.record_reads"):
        record = read_farm_record(conn, farm_id=farm, as_of=AS_OF)
    assert record.species() == ("cattle",)
    assert record.declared_herd == (("cattle", 12),)
    assert record.record_hash() == clean.record_hash()  # the unknown rows are left out, nothing else changes
    assert "alpaca" in caplog.text and "llama" in caplog.text
    assert decide_limit(record, POLICY).status == decide_limit(clean, POLICY).status


def test_latest_decisions_give_the_lenders_newest_decision_per_farm_by_farm_name(conn):
    lender = create_organization(conn, kind="lender", name="Lender L")
    other = create_organization(conn, kind="lender", name="Lender M")
    zebra = make_farm(conn, cattle=9, declared=14)
    conn.execute("UPDATE farms SET name = 'Zebra farm' WHERE id = %s", (zebra,))
    apple = create_farm(conn, name="Apple farm", region="default", declared_herd={"cattle": 3}).id
    hidden = make_farm(conn)
    ids = {}
    for farm, owner, when in (
        (zebra, lender, AS_OF - timedelta(days=2)),
        (zebra, lender, AS_OF),
        (apple, lender, AS_OF),
        (zebra, other, AS_OF + timedelta(days=1)),  # another lender's: never shown to L
        (hidden, lender, AS_OF),  # a farm not asked for
    ):
        record = read_farm_record(conn, farm_id=farm, as_of=when)
        decision_id, _ = record_decision(
            conn,
            signer=TEST_SIGNER,
            decision=decide_limit(record, POLICY),
            record=record,
            policy=POLICY,
            lender_organization_id=owner,
        )
        conn.execute("UPDATE credit_decisions SET decided_at = %s WHERE id = %s", (when, decision_id))
        ids[(farm, owner, when)] = decision_id
    rows = latest_decisions(conn, farm_ids=[zebra, apple], lender_organization_id=lender)
    assert [(r["farm"], r["id"]) for r in rows] == [
        ("Apple farm", ids[(apple, lender, AS_OF)]),
        ("Zebra farm", ids[(zebra, lender, AS_OF)]),
    ]
    assert rows[1]["currency"] == "KES" and json.loads(rows[1]["output"])["status"] == rows[1]["status"]


def test_the_decision_says_which_days_and_frames_the_herd_came_from(conn):
    """Issue #14 item 9: the decision's reasons name the herd figure's days and frames."""
    record = read_farm_record(conn, farm_id=make_farm(conn), as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    (evidence,) = [r for r in decision.reasons if r.code == "herd_evidence"]
    # make_farm: one camera, frames at 10:00, 11:00 and 12:00 on each of the 60 days before 30 June 2025
    assert evidence.message.startswith(
        "Verified cattle herd 11: the low median of 60 daily figures from 2025-05-01 to 2025-06-29;"
    )
    assert "180 frames from up to 1 camera(s)" in evidence.message and evidence.source == "herd_days"
