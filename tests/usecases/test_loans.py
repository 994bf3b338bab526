import concurrent.futures
import threading
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN

import pytest

from credit import Amount, D, ScheduleError, decide_limit, load_policy
from credit.alerts import early_warnings
from credit.errors import LoanRefusedError, PaymentError
from credit.policy import DEFAULT_POLICY_PATH
from store.credit_records import record_decision
from store.loans import IdempotencyConflictError, LoanNotFoundError, list_alerts, raise_alerts
from tests.credit.farms_db import AS_OF, make_farm
from tests.signers import TEST_SIGNER
from usecases.farm_records import load_farm_record
from usecases.loans import get_loan_status, open_loan, portfolio, post_repayment

POLICY = load_policy(DEFAULT_POLICY_PATH)


def _approved(conn):
    farm = make_farm(conn)
    record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
    decision = decide_limit(record, POLICY)
    assert decision.status == "approved", decision.reasons
    decision_id, _ = record_decision(conn, signer=TEST_SIGNER, decision=decision, record=record, policy=POLICY)
    return farm, decision, decision_id


def _loan(conn, decision_id, amount="12000"):
    return open_loan(
        conn,
        signer=TEST_SIGNER,
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
            signer=TEST_SIGNER,
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
        signer=TEST_SIGNER,
        loan_id=opened.loan_id,
        idempotency_key="mpesa-1",
        amount=Amount(first.total, "KES"),
        paid_at=paid_at,
        policy=POLICY,
    )
    again = post_repayment(
        conn,
        signer=TEST_SIGNER,
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
            signer=TEST_SIGNER,
            loan_id=opened.loan_id,
            idempotency_key="mpesa-1",
            amount=Amount(D(1), "KES"),
            paid_at=paid_at,
            policy=POLICY,
        )
    status = get_loan_status(conn, loan_id=opened.loan_id, as_of=date(2025, 10, 15), policy=POLICY)
    assert (status.days_past_due, status.bucket) == (44, "31-60")  # the 1 Sep instalment is unpaid on 15 Oct
    par = portfolio(conn, as_of=date(2025, 10, 15), policy=POLICY).par
    assert par.at_risk_30.number >= status.outstanding_principal.number and par.par30 > 0
    alerts = early_warnings(record=load_farm_record(conn, farm_id=farm, as_of=AS_OF), policy=POLICY, loan=status)
    ids = raise_alerts(conn, farm_id=farm, alerts=alerts, loan_id=opened.loan_id)
    assert ids and raise_alerts(conn, farm_id=farm, alerts=alerts) == []  # an open alert is not raised twice
    stored = list_alerts(conn, farm_id=farm)
    assert {a.code for a in stored} >= {"missed_instalment"}


def test_paying_everything_closes_the_loan(conn):
    _farm, _decision, decision_id = _approved(conn)
    opened = _loan(conn, decision_id)
    done = post_repayment(
        conn,
        signer=TEST_SIGNER,
        loan_id=opened.loan_id,
        idempotency_key="payoff",
        amount=Amount(D("12500"), "KES"),
        paid_at=datetime(2025, 7, 20, tzinfo=UTC),
        policy=POLICY,
    )
    # Changed with issue #14 item 2 (a payoff used to waive accrued interest): July's interest is
    # 12,000 x 0.18 x 31/365 = 183.45; on 20 Jul 19 of its 31 days have accrued, 183.45 x 19/31 = 112.44,
    # so the payoff is 12,112.44 and 387.56 of the 12,500 stays a credit balance.
    assert done.status.closed and done.allocation["interest"] == D("112.44")
    assert done.allocation["principal"] == D("12000.00") and done.allocation["unapplied"] == D("387.56")
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
        conn,
        signer=TEST_SIGNER,
        decision=decide_limit(record, POLICY),
        record=record,
        policy=POLICY,
        lender_organization_id=one,
    )
    assert find_decision(conn, decision_id=decision_id, lender_organization_id=two) is None
    with pytest.raises(LoanNotFoundError):
        open_loan(
            conn,
            signer=TEST_SIGNER,
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
            signer=TEST_SIGNER,
            loan_id=loan.loan_id,
            idempotency_key="two-1",
            amount=Amount(D("10"), "KES"),
            paid_at=datetime(2025, 7, 2, tzinfo=UTC),
            policy=POLICY,
            lender_organization_id=two,
        )


def test_a_repayment_time_without_a_time_zone_is_a_payment_error_naming_paid_at(conn):
    """Issue #13: a naive paid_at was an IdempotencyConflictError (a 409); it is a bad value, naming the field."""
    _farm, _decision, decision_id = _approved(conn)
    opened = _loan(conn, decision_id)
    with pytest.raises(PaymentError, match="paid_at=2025-08-01T09:00:00 has no time zone"):
        post_repayment(
            conn,
            signer=TEST_SIGNER,
            loan_id=opened.loan_id,
            idempotency_key="naive-1",
            amount=Amount(D("100"), "KES"),
            paid_at=datetime(2025, 8, 1, 9),
            policy=POLICY,
        )
    assert conn.execute("SELECT count(*) FROM repayments WHERE loan_id = %s", (opened.loan_id,)).fetchone()[0] == 0


def _zero_rate_loan(conn, decision_id, principal, start):
    # at 0 %, equal principal over 3 months: principal / 3 due on the first of each following month
    return open_loan(
        conn,
        signer=TEST_SIGNER,
        decision_id=decision_id,
        principal=Amount(D(principal), "KES"),
        rate=D("0"),
        months=3,
        kind="equal-principal",
        start=start,
        policy=POLICY,
    )


def _pay(conn, loan_id, key, amount, day):
    post_repayment(
        conn,
        signer=TEST_SIGNER,
        loan_id=loan_id,
        idempotency_key=key,
        amount=Amount(D(amount), "KES"),
        paid_at=datetime.combine(day, datetime.min.time(), UTC),
        policy=POLICY,
    )


def test_portfolio_at_risk_over_a_lender_or_a_cooperative_is_derived_by_hand(conn):
    from store.tenants import create_organization

    coop = create_organization(conn, kind="cooperative", name="PAR coop")
    lender = create_organization(conn, kind="lender", name="PAR lender")
    late_farm, _d, late_decision = _approved(conn)
    fine_farm, _d, fine_decision = _approved(conn)
    conn.execute("UPDATE farms SET cooperative_id = %s WHERE id = %s", (coop, late_farm))
    conn.execute("UPDATE credit_decisions SET lender_organization_id = %s", (lender,))
    # late: 1,200 from 1 Jul; 400 due 1 Aug (paid), 1 Sep (unpaid), 1 Oct (unpaid) -> on 15 Oct 44 days late, 800 out
    late = _zero_rate_loan(conn, late_decision, "1200", date(2025, 7, 1))
    _pay(conn, late.loan_id, "late-1", "400", date(2025, 8, 1))
    # fine: 600 from 1 Sep; 200 due 1 Oct (paid on the day) -> on 15 Oct current, 400 out
    fine = _zero_rate_loan(conn, fine_decision, "600", date(2025, 9, 1))
    _pay(conn, fine.loan_id, "fine-1", "200", date(2025, 10, 1))
    book = portfolio(conn, as_of=date(2025, 10, 15), policy=POLICY, lender_organization_id=lender)
    # PAR30 = 800 / (800 + 400) = 0.6667; nothing is over 90 days late
    assert (book.par.loans, book.par.outstanding.number, book.par.par30, book.par.par90) == (
        2,
        D("1200"),
        D("0.6667"),
        D("0"),
    )
    assert (book.statuses[late.loan_id].days_past_due, book.statuses[fine.loan_id].days_past_due) == (44, 0)
    coop_book = portfolio(conn, as_of=date(2025, 10, 15), policy=POLICY, cooperative_id=coop)
    assert (coop_book.par.loans, coop_book.par.par30) == (1, D("1"))
    farm_book = portfolio(conn, as_of=date(2025, 10, 15), policy=POLICY, farm_ids=[fine_farm])
    assert (farm_book.par.loans, farm_book.par.outstanding.number, farm_book.par.par30) == (1, D("400"), D("0"))
