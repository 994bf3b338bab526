import json
from datetime import UTC, datetime, timedelta

import pytest

from credit import load_policy
from credit.policy import DEFAULT_POLICY_PATH
from store.counts import CountRow, write_counts
from store.credit_records import FarmNotFoundError, record_decision
from store.farms import create_farm
from store.loans import list_alerts
from tests.signers import TEST_SIGNER
from usecases.credit_limits import decide_credit_limit, raise_early_warnings, replay_decision
from usecases.farm_records import load_farm_record

POLICY = load_policy(DEFAULT_POLICY_PATH)
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_decide_records_the_decision_only_when_asked(conn):
    farm = create_farm(conn, name="credit farm", country="NL", region="default", declared_herd={"sheep": 10}).id
    dry = decide_credit_limit(conn, signer=TEST_SIGNER, farm_id=farm, as_of=NOW, policy=POLICY, record=False)
    assert dry.decision_id is None and dry.audit_entry is None
    assert conn.execute("SELECT count(*) FROM credit_decisions WHERE farm_id = %s", (farm,)).fetchone()[0] == 0
    stored = decide_credit_limit(conn, signer=TEST_SIGNER, farm_id=farm, as_of=NOW, policy=POLICY)
    row = conn.execute(
        "SELECT limit_amount, status, audit_seq, as_of, window_days FROM credit_decisions WHERE id = %s",
        (stored.decision_id,),
    ).fetchone()
    assert row == (
        stored.decision.limit.number,
        stored.decision.status,
        stored.audit_entry.seq,
        NOW,
        POLICY.window_days,
    )
    # replaying the frozen record through the credit engine gives the stored output
    output, recomputed = replay_decision(conn, decision_id=stored.decision_id)
    assert output == recomputed and json.loads(output)["status"] == stored.decision.status


def test_unknown_farm_is_refused(conn):
    import uuid

    with pytest.raises(FarmNotFoundError):
        decide_credit_limit(conn, signer=TEST_SIGNER, farm_id=uuid.uuid4(), as_of=NOW, policy=POLICY)


def test_a_herd_that_fell_from_10_to_2_raises_one_high_alert(conn):
    farm = create_farm(conn, name="falling herd", declared_herd={"sheep": 10}).id
    # the camera is a device registered to the farm: counts of an unregistered device are unverified
    conn.execute("INSERT INTO devices (id, farm_id, public_key) VALUES ('cam', %s, %s)", (farm, bytes(32)))
    write_counts(
        conn=conn,
        rows=[
            CountRow(
                time=NOW - timedelta(days=d), farm_id=farm, device_id="cam", species="sheep", count=2, method="snapshot"
            )
            for d in (1, 2, 3)
        ],
    )
    ids = raise_early_warnings(conn, farm_id=farm, as_of=NOW, policy=POLICY, baseline_herd={"sheep": 10})
    # (10 - 2) / 10 = 80 % down: at least twice the policy's 20 % share, so "high"
    (alert,) = list_alerts(conn, farm_id=farm)
    assert [alert.id] == ids
    assert (alert.code, alert.severity, alert.message) == (
        "herd_decline",
        "high",
        "sheep herd down 80% (10 to 2)",
    )
    # an alert already open is not raised twice
    assert raise_early_warnings(conn, farm_id=farm, as_of=NOW, policy=POLICY, baseline_herd={"sheep": 10}) == []
    # a steady herd raises nothing
    steady = create_farm(conn, name="steady herd").id
    assert raise_early_warnings(conn, farm_id=steady, as_of=NOW, policy=POLICY, baseline_herd={"sheep": 10}) == []


def test_a_stored_decision_replays_exactly(conn):
    from credit import decide_limit
    from credit.canonical import canonical_json
    from store.credit_records import load_decision
    from tests.credit.farms_db import AS_OF, make_farm

    farm = make_farm(conn, cattle=9, declared=14)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    decision_id, entry = record_decision(conn, signer=TEST_SIGNER, decision=decision, record=record, policy=POLICY)
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


def test_a_decisions_loan_history_uses_the_policys_grace_days(conn):
    """Issue #14 item 8: the record's loan history ignored the policy's grace days (3 in ft-2025.1)."""
    from datetime import date

    from credit import Amount, D, decide_limit
    from store.credit_records import load_decision
    from tests.credit.farms_db import AS_OF, make_farm
    from usecases.loans import open_loan, post_repayment

    farm = make_farm(conn)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision_id, _ = record_decision(
        conn, signer=TEST_SIGNER, decision=decide_limit(record, POLICY), record=record, policy=POLICY
    )
    opened = open_loan(
        conn,
        signer=TEST_SIGNER,
        decision_id=decision_id,
        principal=Amount(D("12000"), "KES"),
        rate=D("0.18"),
        months=6,
        kind="annuity",
        start=date(2025, 7, 1),
        policy=POLICY,
    )
    # the 1 Aug and 1 Sep instalments are each paid 2 days late: inside the 3 grace days
    for key, row, paid in [
        ("a", 0, datetime(2025, 8, 3, 9, tzinfo=UTC)),
        ("b", 1, datetime(2025, 9, 3, 9, tzinfo=UTC)),
    ]:
        total = opened.schedule.instalments[row].total
        post_repayment(
            conn,
            signer=TEST_SIGNER,
            loan_id=opened.loan_id,
            idempotency_key=key,
            amount=Amount(total, "KES"),
            paid_at=paid,
            policy=POLICY,
        )
    later = datetime(2025, 9, 20, tzinfo=UTC)
    stored = decide_credit_limit(conn, signer=TEST_SIGNER, farm_id=farm, as_of=later, policy=POLICY)
    (loan,) = load_decision(conn, decision_id=stored.decision_id).record.past_loans
    # with the grace: 2 due, 2 on time, never delinquent; without it both would be 2 days late
    assert (loan.instalments_due, loan.instalments_on_time, loan.max_days_past_due) == (2, 2, 0)
    (strict,) = load_farm_record(conn, farm_id=farm, as_of=later).past_loans
    assert (strict.instalments_on_time, strict.max_days_past_due) == (0, 2)
