"""Posting repayments through the real database: allocations are derived data, amounts are whole minor units.

The loan: 12,000 KES at 12 % over 12 months, equal principal, from 1 Jan 2025. By hand (actual/365):
instalment 1 (due 1 Feb) is 1,000 + 12,000 x 0.12 x 31/365 = 1,000 + 122.30; instalment 2 (due 1 Mar)
is 1,000 + 11,000 x 0.12 x 28/365 = 1,000 + 101.26.
"""

import dataclasses
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credit import Amount, D, build_schedule, decide_limit, load_policy
from credit.errors import PaymentError
from credit.policy import DEFAULT_POLICY_PATH
from credit.servicing import loan_status
from store.credit_records import record_decision
from store.loans import find_repayment, insert_loan, load_allocation, load_payments
from tests.credit.farms_db import AS_OF, make_farm
from tests.signers import TEST_SIGNER
from usecases.farm_records import load_farm_record
from usecases.loans import load_schedule, open_loan, post_repayment
from vocabulary.lending import ALLOCATION_STRATEGIES, PREPAYMENT_RECALCULATIONS

POLICY = load_policy(DEFAULT_POLICY_PATH)
KES = "KES"


def _decision(conn) -> UUID:
    record = load_farm_record(conn, farm_id=make_farm(conn), as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    assert decision.status == "approved", decision.reasons
    decision_id, _ = record_decision(conn, signer=TEST_SIGNER, decision=decision, record=record, policy=POLICY)
    return decision_id


def _loan(conn) -> UUID:
    return open_loan(
        conn,
        signer=TEST_SIGNER,
        decision_id=_decision(conn),
        principal=Amount(D("12000"), KES),
        rate=D("0.12"),
        months=12,
        kind="equal-principal",
        start=date(2025, 1, 1),
        policy=POLICY,
    ).loan_id


def _pay(conn, loan_id, key, amount, day, policy=POLICY):
    return post_repayment(
        conn,
        signer=TEST_SIGNER,
        loan_id=loan_id,
        idempotency_key=key,
        amount=Amount(D(amount), KES),
        paid_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
        policy=policy,
    )


def _stored(conn, loan_id, key) -> dict[str, Decimal]:
    found = find_repayment(conn, loan_id=loan_id, idempotency_key=key)
    assert found is not None
    return load_allocation(conn, repayment_id=found.id)


def _parts(interest: str, principal: str, unapplied: str = "0") -> dict[str, Decimal]:
    return {
        "penalty": D(0),
        "fees": D(0),
        "interest": D(interest),
        "principal": D(principal),
        "unapplied": D(unapplied),
    }


def test_item6_a_back_dated_repayment_replaces_the_stored_allocation_of_later_ones(conn):
    loan_id = _loan(conn)
    # 872.30 on the due date of instalment 1: its interest 122.30, then 750.00 of its principal
    _pay(conn, loan_id, "a", "872.30", date(2025, 2, 1))
    assert _stored(conn, loan_id, "a") == _parts("122.30", "750.00")
    # 1,122.30 back-dated to 25 Jan settles instalment 1 as on time; replayed, "a" now pays ahead on
    # instalment 2: its interest 101.26, then 771.04 of its principal (was: stored 122.30 / 750.00)
    _pay(conn, loan_id, "b", "1122.30", date(2025, 1, 25))
    assert _stored(conn, loan_id, "a") == _parts("101.26", "771.04")
    assert _stored(conn, loan_id, "b") == _parts("122.30", "1000.00")


def test_item7_a_sub_cent_payment_is_refused_and_a_retry_gets_the_same_answer(conn):
    loan_id = _loan(conn)
    for _ in range(2):  # was: stored as 100.01, then the retry failed with an idempotency conflict
        with pytest.raises(PaymentError, match=r"amount=100\.005 has more than 2 decimals"):
            _pay(conn, loan_id, "k", "100.005", date(2025, 2, 1))
    assert load_payments(conn, loan_id=loan_id) == []


def test_the_policy_chooses_the_early_payment_strategy(conn):
    loan_id = _loan(conn)
    early = dataclasses.replace(POLICY, allocation_strategy="early-payment")
    # 2,000 on 2 Jan: instalment 1's interest 122.30, then 1,877.70 of principal (1,000 of instalment 1, 877.70
    # of instalment 2); on 1 Mar instalment 2 owes its 122.30 principal and 101.26 interest
    posted = _pay(conn, loan_id, "a", "2000", date(2025, 1, 2), policy=early)
    assert posted.allocation == _parts("122.30", "1877.70")
    assert _stored(conn, loan_id, "a") == _parts("122.30", "1877.70")


@pytest.fixture
def decision_id(conn):
    return _decision(conn)


PAYMENT = st.tuples(
    st.integers(0, 420),  # day after the start
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("4000"), places=2),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["annuity", "equal-principal", "flat", "seasonal"]),
    months=st.integers(1, 12),
    rate=st.decimals(min_value=Decimal("0"), max_value=Decimal("0.36"), places=2),
    strategy=st.sampled_from(ALLOCATION_STRATEGIES),
    recalculation=st.sampled_from(PREPAYMENT_RECALCULATIONS),
    payments=st.lists(PAYMENT, min_size=1, max_size=8),
)
def test_stored_allocations_equal_the_replay_after_any_posting_order(
    conn, decision_id, kind, months, rate, strategy, recalculation, payments
):
    # posted in list order, so later postings are often back-dated before earlier ones
    start = date(2025, 1, 1)
    schedule = build_schedule(
        principal=Amount(D("6000"), KES), rate=rate, months=months, kind=kind, start=start, harvest_months=(7, 8)
    )
    loan_id = insert_loan(
        conn,
        farm_id=UUID(
            str(conn.execute("SELECT farm_id FROM credit_decisions WHERE id = %s", (decision_id,)).fetchone()[0])
        ),
        decision_id=decision_id,
        schedule=schedule,
        policy_version=POLICY.version,
        audit_seq=1,
        lender_organization_id=None,
    )
    policy = dataclasses.replace(POLICY, allocation_strategy=strategy, prepayment_recalculation=recalculation)
    for i, (day, amount) in enumerate(payments):
        _pay(conn, loan_id, f"p{i}", str(amount), start + timedelta(days=day), policy=policy)
    stored = load_payments(conn, loan_id=loan_id)
    replay = loan_status(
        schedule=load_schedule(conn, loan_id=loan_id),
        payments=stored,
        as_of=max(p.paid_on for p in stored),
        order=policy.allocation_order,
        grace_days=policy.grace_days,
        late_fee=policy.late_fee.number,
        strategy=strategy,
        recalculation=recalculation,
    )
    assert len(replay.payments) == len(payments)
    for p in replay.payments:
        a = p.allocation
        expected = {"penalty": a.penalty, "fees": a.fees, "interest": a.interest, "principal": a.principal}
        expected["unapplied"] = a.unapplied
        assert _stored(conn, loan_id, p.key) == expected
