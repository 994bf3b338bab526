"""store/loans.py against the real PostgreSQL: each query reads or writes exactly the rows it names."""

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from credit import Amount, D, build_schedule, decide_limit, load_policy
from credit.alerts import Alert
from credit.policy import DEFAULT_POLICY_PATH
from store.credit_records import read_farm_record, record_decision
from store.farms import create_farm
from store.loans import (
    close_loan,
    farm_loan_ids,
    find_repayment,
    insert_loan,
    insert_repayment,
    lender_loans,
    list_alerts,
    load_allocation,
    load_instalments,
    load_loan_terms,
    load_payments,
    loan_ids,
    lock_decision,
    lock_loan,
    open_principal,
    raise_alerts,
)
from store.tenants import create_organization
from tests.credit.farms_db import AS_OF, make_farm
from tests.signers import TEST_SIGNER

POLICY = load_policy(DEFAULT_POLICY_PATH)


def _decision(conn, farm, lender=None):
    record = read_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    decision_id, _ = record_decision(
        conn, signer=TEST_SIGNER, decision=decision, record=record, policy=POLICY, lender_organization_id=lender
    )
    return decision, decision_id


def _schedule(principal="1200.00", start=date(2025, 7, 1)):
    # 1,200 KES at 0 % over 3 months, equal principal: 400 due on 1 Aug, 1 Sep, 1 Oct
    return build_schedule(
        principal=Amount(D(principal), "KES"), rate=D("0"), months=3, kind="equal-principal", start=start
    )


def _loan(conn, farm, decision_id, lender=None, principal="1200.00", start=date(2025, 7, 1)):
    return insert_loan(
        conn,
        farm_id=UUID(str(farm)),
        decision_id=decision_id,
        schedule=_schedule(principal, start),
        policy_version=POLICY.version,
        audit_seq=1,
        lender_organization_id=lender,
    )


def test_a_loan_is_stored_with_its_schedule_and_read_back_the_same(conn):
    lender = create_organization(conn, kind="lender", name="Store lender")
    farm = make_farm(conn)
    decision, decision_id = _decision(conn, farm, lender)
    terms = lock_decision(conn, decision_id=decision_id, lender_organization_id=lender)
    assert (str(terms.farm_id), terms.status, terms.limit_amount, terms.currency, terms.lender_organization_id) == (
        farm,
        decision.status,
        decision.limit.number,
        "KES",
        lender,
    )
    other = create_organization(conn, kind="lender", name="Store lender two")
    assert lock_decision(conn, decision_id=decision_id, lender_organization_id=other) is None
    assert open_principal(conn, decision_id=decision_id) == 0
    first = _loan(conn, farm, decision_id, lender)
    second = _loan(conn, farm, decision_id, lender, principal="300.00")
    assert open_principal(conn, decision_id=decision_id) == D("1500.00")
    close_loan(conn, loan_id=first)
    assert open_principal(conn, decision_id=decision_id) == D("300.00")  # a closed loan no longer counts
    instalments = load_instalments(conn, loan_id=first)
    assert [(i.number, i.due_date, i.principal, i.interest, i.total, i.balance_after) for i in instalments] == [
        (1, date(2025, 8, 1), D("400.00"), D("0.00"), D("400.00"), D("800.00")),
        (2, date(2025, 9, 1), D("400.00"), D("0.00"), D("400.00"), D("400.00")),
        (3, date(2025, 10, 1), D("400.00"), D("0.00"), D("400.00"), D("0.00")),
    ]
    terms = load_loan_terms(conn, loan_id=first)
    assert (terms.kind, terms.principal, terms.currency, terms.months, terms.start_date) == (
        "equal-principal",
        D("1200.00"),
        "KES",
        3,
        date(2025, 7, 1),
    )
    ref = lock_loan(conn, loan_id=second, lender_organization_id=lender)
    assert (ref.loan_id, ref.currency, ref.start_date) == (second, "KES", date(2025, 7, 1))
    assert lock_loan(conn, loan_id=second, lender_organization_id=other) is None


def test_a_repayment_is_stored_with_its_allocation_under_its_key(conn):
    farm = make_farm(conn)
    _, decision_id = _decision(conn, farm)
    loan = _loan(conn, farm, decision_id)
    paid_at = datetime(2025, 8, 1, 23, 30, tzinfo=UTC) + timedelta(hours=1)  # 2 Aug in UTC
    assert find_repayment(conn, loan_id=loan, idempotency_key="mpesa-9") is None
    repayment = insert_repayment(
        conn,
        loan_id=loan,
        idempotency_key="mpesa-9",
        amount=Amount(D("450.00"), "KES"),
        paid_at=paid_at,
        audit_seq=1,
        allocation={"principal": D("400.00"), "unapplied": D("50.00")},
    )
    found = find_repayment(conn, loan_id=loan, idempotency_key="mpesa-9")
    assert (found.id, found.amount, found.currency, found.paid_at) == (repayment, D("450.00"), "KES", paid_at)
    assert load_allocation(conn, repayment_id=repayment) == {"principal": D("400.00"), "unapplied": D("50.00")}
    (payment,) = load_payments(conn, loan_id=loan)
    assert (payment.paid_on, payment.key, payment.amount) == (date(2025, 8, 2), "mpesa-9", Amount(D("450"), "KES"))


def test_loan_lists_filter_by_lender_farms_cooperative_and_start(conn):
    coop = create_organization(conn, kind="cooperative", name="Store coop")
    lender = create_organization(conn, kind="lender", name="List lender")
    member = make_farm(conn)
    conn.execute("UPDATE farms SET cooperative_id = %s, name = 'Member farm' WHERE id = %s", (coop, member))
    outsider = make_farm(conn)
    _d1, on_member = _decision(conn, member, lender)
    _d2, on_outsider = _decision(conn, outsider)
    a = _loan(conn, member, on_member, lender)
    b = _loan(conn, outsider, on_outsider, None, start=date(2025, 9, 1))
    assert {a, b} <= set(loan_ids(conn))  # no filter: every loan (opened in one transaction: same opened_at)
    assert loan_ids(conn, lender_organization_id=lender) == [a]
    assert loan_ids(conn, farm_ids=[UUID(outsider)]) == [b]
    assert loan_ids(conn, cooperative_id=coop) == [a]
    assert loan_ids(conn, farm_ids=[]) == []
    assert farm_loan_ids(conn, farm_id=outsider, started_before=date(2025, 9, 1)) == []
    assert farm_loan_ids(conn, farm_id=outsider, started_before=date(2025, 9, 2)) == [b]
    (listed,) = lender_loans(conn, lender_organization_id=lender, farm_ids=[member, outsider])
    assert (listed.id, listed.farm, listed.principal, listed.currency, listed.months, listed.status) == (
        a,
        "Member farm",
        D("1200.00"),
        "KES",
        3,
        "active",
    )


def test_open_alerts_are_listed_once_per_farm_with_the_farm_name_newest_first(conn):
    one = create_farm(conn, name="Alert farm one").id
    two = create_farm(conn, name="Alert farm two").id
    three = create_farm(conn, name="Alert farm three").id
    t = datetime(2026, 3, 1, tzinfo=UTC)

    def alert(code, hours):
        return Alert(
            code=code,
            severity="high",
            message=f"{code} message",
            source="herd",
            evidence={},
            raised_at=t + timedelta(hours=hours),
        )

    raise_alerts(conn, farm_id=one, alerts=[alert("herd_decline", 1)])
    raise_alerts(conn, farm_id=two, alerts=[alert("missed_instalment", 2), alert("herd_decline", 3)])
    raise_alerts(conn, farm_id=three, alerts=[alert("herd_decline", 4)])
    conn.execute(
        "UPDATE credit_alerts SET resolved_at = %s WHERE farm_id = %s AND code = 'missed_instalment'", (t, two)
    )
    rows = list_alerts(conn, farm_ids=[one, two])
    assert [(r.farm, r.code, r.raised_at) for r in rows] == [
        ("Alert farm two", "herd_decline", t + timedelta(hours=3)),
        ("Alert farm one", "herd_decline", t + timedelta(hours=1)),
    ]
    assert [r.code for r in list_alerts(conn, farm_id=two, open_only=False)] == ["herd_decline", "missed_instalment"]
    assert list_alerts(conn, farm_ids=[]) == []
    assert {r.farm_id for r in list_alerts(conn)} >= {one, two, three}
