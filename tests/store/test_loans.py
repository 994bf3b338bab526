import concurrent.futures
import threading
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN

import pytest

from credit import Amount, D, ScheduleError, decide_limit, load_policy
from credit.alerts import early_warnings
from credit.policy import DEFAULT_POLICY_PATH
from store.credit_records import load_farm_record, record_decision
from store.loans import (
    IdempotencyConflictError,
    LoanNotFoundError,
    LoanRefusedError,
    get_loan_status,
    list_alerts,
    open_loan,
    portfolio,
    post_repayment,
    raise_alerts,
)
from tests.credit.farms_db import AS_OF, make_farm

POLICY = load_policy(DEFAULT_POLICY_PATH)


def _approved(conn):
    farm = make_farm(conn)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    assert decision.status == "approved", decision.reasons
    decision_id, _ = record_decision(conn, decision=decision, record=record, policy=POLICY)
    return farm, decision, decision_id


def _loan(conn, decision_id, amount="12000"):
    return open_loan(
        conn,
        decision_id=decision_id,
        principal=Amount(D(amount), "KES"),
        rate=D("0.18"),
        months=6,
        kind="annuity",
        start=date(2025, 7, 1),
        policy=POLICY,
    )


def test_open_loan_stores_the_schedule_and_audits_it(conn):
    _farm, decision, decision_id = _approved(conn)
    opened = _loan(conn, decision_id)
    assert opened.audit_entry.kind == "loan.opened"
    rows = conn.execute(
        "SELECT sum(principal), count(*) FROM loan_instalments WHERE loan_id = %s", (opened.loan_id,)
    ).fetchone()
    assert rows == (D("12000.00"), 6)
    with pytest.raises(LoanRefusedError, match="exceeds the approved limit"):
        _loan(conn, decision_id, amount=str(decision.limit.number + 1))
    with pytest.raises(ScheduleError, match="rate=2 is out of range"):
        open_loan(
            conn,
            decision_id=decision_id,
            principal=Amount(D(100), "KES"),
            rate=D(2),
            months=6,
            kind="annuity",
            start=date(2025, 7, 1),
            policy=POLICY,
        )
    with pytest.raises(LoanNotFoundError):
        _loan(conn, "00000000-0000-0000-0000-000000000000")


def test_repayments_are_idempotent_and_drive_status_and_par(conn):
    farm, _decision, decision_id = _approved(conn)
    opened = _loan(conn, decision_id)
    first = opened.schedule.instalments[0]
    paid_at = datetime(2025, 8, 1, 9, tzinfo=UTC)
    posted = post_repayment(
        conn,
        loan_id=opened.loan_id,
        idempotency_key="mpesa-1",
        amount=Amount(first.total, "KES"),
        paid_at=paid_at,
        policy=POLICY,
    )
    again = post_repayment(
        conn,
        loan_id=opened.loan_id,
        idempotency_key="mpesa-1",
        amount=Amount(first.total, "KES"),
        paid_at=paid_at,
        policy=POLICY,
    )
    assert posted.created and not again.created and again.repayment_id == posted.repayment_id
    assert again.allocation == posted.allocation
    assert posted.allocation["interest"] == first.interest and posted.allocation["principal"] == first.principal
    assert conn.execute("SELECT count(*) FROM repayments WHERE loan_id = %s", (opened.loan_id,)).fetchone()[0] == 1
    with pytest.raises(IdempotencyConflictError, match="'mpesa-1' was already used"):
        post_repayment(
            conn,
            loan_id=opened.loan_id,
            idempotency_key="mpesa-1",
            amount=Amount(D(1), "KES"),
            paid_at=paid_at,
            policy=POLICY,
        )
    status = get_loan_status(conn, loan_id=opened.loan_id, as_of=date(2025, 10, 15), policy=POLICY)
    assert (status.days_past_due, status.bucket) == (44, "31-60")  # the 1 Sep instalment is unpaid on 15 Oct
    par = portfolio(conn, as_of=date(2025, 10, 15), policy=POLICY)
    assert par.at_risk_30.number >= status.outstanding_principal.number and par.par30 > 0
    alerts = early_warnings(record=load_farm_record(conn, farm_id=farm, as_of=AS_OF), policy=POLICY, loan=status)
    ids = raise_alerts(conn, farm_id=farm, alerts=alerts, loan_id=opened.loan_id)
    assert ids and raise_alerts(conn, farm_id=farm, alerts=alerts) == []  # an open alert is not raised twice
    stored = list_alerts(conn, farm_id=farm)
    assert {a["code"] for a in stored} >= {"missed_instalment"}


def test_paying_everything_closes_the_loan(conn):
    _farm, _decision, decision_id = _approved(conn)
    opened = _loan(conn, decision_id)
    done = post_repayment(
        conn,
        loan_id=opened.loan_id,
        idempotency_key="payoff",
        amount=Amount(D("12500"), "KES"),
        paid_at=datetime(2025, 7, 20, tzinfo=UTC),
        policy=POLICY,
    )
    assert done.status.closed and done.allocation["unapplied"] == D("500.00")
    assert conn.execute("SELECT status FROM loans WHERE id = %s", (opened.loan_id,)).fetchone()[0] == "closed"


def test_open_principal_under_one_decision_never_exceeds_its_limit(conn):
    _farm, decision, decision_id = _approved(conn)
    limit = decision.limit.number
    third = (limit / 3).quantize(D("0.01"), rounding=ROUND_DOWN)  # hand-derived: three thirds fit, a fourth does not
    for _ in range(3):
        _loan(conn, decision_id, amount=str(third))
    left = limit - 3 * third
    with pytest.raises(LoanRefusedError, match=f"at most {left} is left"):
        _loan(conn, decision_id, amount=str(left + D("0.01")))
    if left > 0:
        _loan(conn, decision_id, amount=str(left))  # exactly up to the limit is fine
    total = conn.execute("SELECT sum(principal) FROM loans WHERE decision_id = %s", (decision_id,)).fetchone()[0]
    assert total <= limit


def test_a_closed_loan_frees_its_principal_under_the_decision(conn):
    _farm, decision, decision_id = _approved(conn)
    first = _loan(conn, decision_id, amount=str(decision.limit.number))
    with pytest.raises(LoanRefusedError):
        _loan(conn, decision_id, amount="100")
    conn.execute("UPDATE loans SET status = 'closed' WHERE id = %s", (first.loan_id,))
    _loan(conn, decision_id, amount="100")


def test_concurrent_openings_from_one_decision_stay_within_its_limit(fresh_db_url):
    """Eight connections open a loan of 40 % of the limit at once: exactly two succeed (2 x 40 % <= 100 %)."""
    import psycopg

    with psycopg.connect(fresh_db_url) as setup:
        _farm, decision, decision_id = _approved(setup)
        setup.commit()
    amount = (decision.limit.number * D("0.4")).quantize(D("0.01"))
    barrier = threading.Barrier(8)

    def attempt(_: int) -> str:
        with psycopg.connect(fresh_db_url) as c:
            barrier.wait()
            try:
                _loan(c, decision_id, amount=str(amount))
            except LoanRefusedError:
                c.rollback()
                return "refused"
            c.commit()
            return "opened"

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["opened"] * 2 + ["refused"] * 6
    with psycopg.connect(fresh_db_url) as check:
        total = check.execute("SELECT sum(principal) FROM loans WHERE decision_id = %s", (decision_id,)).fetchone()[0]
    assert total == 2 * amount <= decision.limit.number


def test_a_lenders_loans_are_found_only_for_that_lender(conn):
    from store.loans import find_decision, find_loan, loan_ids
    from store.tenants import create_organization

    one = create_organization(conn, kind="lender", name="Lender One")
    two = create_organization(conn, kind="lender", name="Lender Two")
    farm = make_farm(conn)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision_id, _ = record_decision(
        conn, decision=decide_limit(record, POLICY), record=record, policy=POLICY, lender_organization_id=one
    )
    assert find_decision(conn, decision_id=decision_id, lender_organization_id=two) is None
    with pytest.raises(LoanNotFoundError):
        open_loan(
            conn,
            decision_id=decision_id,
            principal=Amount(D("100"), "KES"),
            rate=D("0.18"),
            months=6,
            kind="annuity",
            start=date(2025, 7, 1),
            policy=POLICY,
            lender_organization_id=two,
        )
    loan = _loan(conn, decision_id, amount="100")  # the CLI (no lender given) opens it for the decision's lender
    assert find_loan(conn, loan_id=loan.loan_id, lender_organization_id=one).lender_organization_id == one
    assert find_loan(conn, loan_id=loan.loan_id, lender_organization_id=two) is None
    assert find_loan(conn, loan_id=loan.loan_id, lender_organization_id=one, farm_ids=[]) is None
    assert loan_ids(conn, lender_organization_id=two) == []
    assert loan.loan_id in loan_ids(conn, lender_organization_id=one, farm_ids=[farm])
    with pytest.raises(LoanNotFoundError):
        post_repayment(
            conn,
            loan_id=loan.loan_id,
            idempotency_key="two-1",
            amount=Amount(D("10"), "KES"),
            paid_at=datetime(2025, 7, 2, tzinfo=UTC),
            policy=POLICY,
            lender_organization_id=two,
        )
