"""A random book stored through ``store.loans``, and the servicing code's view of it, for the close-of-day tests."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, timezone

from credit import decide_limit, load_policy
from credit.policy import DEFAULT_POLICY_PATH
from credit.servicing import Payment, loan_status, portfolio_par, replay_ledger
from store.audit import append_entry
from store.credit_records import record_decision
from store.loan_states import load_day_states, load_portfolio_summaries
from store.loans import insert_loan, insert_repayment
from tests.credit.books import BookLoan, random_book
from tests.credit.farms_db import AS_OF, make_farm
from tests.signers import TEST_SIGNER
from usecases.close_of_day import servicing_terms
from usecases.farm_records import load_farm_record
from usecases.loans import write_off

POLICY = load_policy(DEFAULT_POLICY_PATH)
EAST_AFRICA = timezone(timedelta(hours=3))


def _paid_at(payment: Payment, n: int) -> datetime:
    """A time on the payment's UTC day; every other one written in UTC+3 (01:30 there is 22:30 UTC the day before)."""
    if n % 2:
        return datetime.combine(payment.paid_on + timedelta(days=1), time(1, 30), tzinfo=EAST_AFRICA)
    return datetime.combine(payment.paid_on, time(9), tzinfo=UTC)


class Book:
    """A random book stored through ``store.loans``, and what each loan is in the reference's eyes."""

    def __init__(self, conn, seed: int, loans: int, extra: tuple[BookLoan, ...] = ()) -> None:
        self.conn = conn
        farm = make_farm(conn)
        record = load_farm_record(conn, farm_id=farm, as_of=AS_OF)
        decision_id, _ = record_decision(
            conn, decision=decide_limit(record, POLICY), record=record, policy=POLICY, signer=TEST_SIGNER
        )
        lenders = [
            conn.execute(
                "INSERT INTO organizations (kind, name) VALUES ('lender', %s) RETURNING id", (name,)
            ).fetchone()[0]
            for name in ("Lender A", "Lender B")
        ]
        self.seq = append_entry(conn, signer=TEST_SIGNER, kind="test.book", payload={"seed": seed}).seq
        self.loans: dict = {}
        self.lender: dict = {}
        for n, loan in enumerate([*random_book(seed, loans=loans), *extra]):
            lender = [*lenders, None][n % 3]
            loan_id = insert_loan(
                conn,
                farm_id=farm,
                decision_id=decision_id,
                schedule=loan.schedule,
                policy_version=POLICY.version,
                audit_seq=self.seq,
                lender_organization_id=lender,
            )
            for k, p in enumerate(loan.payments):
                self._store(loan_id, p, k)
            if loan.written_off_on:
                write_off(conn, signer=TEST_SIGNER, loan_id=loan_id, on=loan.written_off_on)
            self.loans[loan_id] = loan
            self.lender[loan_id] = lender

    def _store(self, loan_id, payment: Payment, n: int) -> None:
        insert_repayment(
            self.conn,
            loan_id=loan_id,
            idempotency_key=payment.key,
            amount=payment.amount,
            paid_at=_paid_at(payment, n),
            audit_seq=self.seq,
        )

    def add_payment(self, loan_id, payment: Payment) -> None:
        self._store(loan_id, payment, 0)
        loan = self.loans[loan_id]
        self.loans[loan_id] = dataclasses.replace(loan, payments=(*loan.payments, payment))


def reference(loan: BookLoan, on: date, policy) -> tuple:
    """The servicing code on one loan: outstanding, accrued unpaid interest, arrears, DPD, bucket, closed."""
    terms = servicing_terms(policy)
    status = loan_status(
        schedule=loan.schedule,
        payments=loan.payments,
        as_of=on,
        order=terms.order,
        grace_days=terms.grace_days,
        late_fee=terms.late_fee,
        strategy=terms.strategy,
        recalculation=terms.recalculation,
    )
    accrued = replay_ledger(schedule=loan.schedule, payments=loan.payments, as_of=on, terms=terms)
    return (
        status.outstanding_principal.number,
        accrued.accrued_interest_unpaid(on),
        status.arrears.number,
        status.days_past_due,
        status.bucket,
        status.closed,
    ), status


def check_day(book: Book, on: date, policy) -> dict[str, int]:
    """Compare every stored state and PAR of ``on`` with the reference; return how many loans per bucket."""
    rows = {r.loan_id: r for r in load_day_states(book.conn, as_of=on)}
    started = {i: loan for i, loan in book.loans.items() if loan.schedule.start <= on}
    assert set(rows) == set(started)
    groups: dict = defaultdict(list)
    buckets: dict[str, int] = defaultdict(int)
    for loan_id, loan in started.items():
        row = rows[loan_id]
        want, status = reference(loan, on, policy)
        got = (row.outstanding_principal, row.accrued_interest, row.arrears, row.days_past_due, row.bucket, row.closed)
        assert got == want, (loan_id, loan, on)
        written_off = loan.written_off_on is not None and loan.written_off_on <= on
        assert (row.written_off, row.currency, row.lender_organization_id) == (
            written_off,
            loan.schedule.principal.currency,
            book.lender[loan_id],
        )
        buckets[row.bucket] += 1
        if not written_off:
            groups[(book.lender[loan_id], row.currency)].append(status)
    summaries = {(s.lender_organization_id, s.currency): s for s in load_portfolio_summaries(book.conn, as_of=on)}
    assert set(summaries) == set(groups)
    for (lender, currency), statuses in groups.items():
        par = portfolio_par(statuses, currency=currency)
        s = summaries[(lender, currency)]
        assert (s.loans, s.outstanding_principal, s.at_risk_30, s.at_risk_90, s.par30, s.par90) == (
            par.loans,
            par.outstanding.number,
            par.at_risk_30.number,
            par.at_risk_90.number,
            par.par30,
            par.par90,
        )
    return buckets
