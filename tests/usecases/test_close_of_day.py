"""Close of day over random books equals ``credit.servicing`` run loan by loan, day after day."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from credit.close_of_day import ledger_snapshot
from credit.money import Amount, minor_unit
from credit.schedule import build_schedule
from credit.servicing import Payment
from store.loan_states import CloseOfDayBusyError, lock_close_of_day
from store.loans import LoanNotFoundError
from tests.credit.books import BookLoan, random_book
from tests.signers import TEST_SIGNER
from tests.usecases.loan_books import POLICY, Book, check_day
from usecases.close_of_day import close_of_day, servicing_terms
from usecases.errors import WriteOffConflictError, WriteOffDateError
from usecases.loans import portfolio, write_off


def _paid_between(book: Book, after: date, upto: date) -> int:
    return sum(
        1
        for loan in book.loans.values()
        if loan.schedule.start <= upto
        and (loan.schedule.start > after or any(after < p.paid_on <= upto for p in loan.payments))
    )


def test_random_books_close_day_after_day_like_the_servicing_code(conn):
    book = Book(conn, seed=2025, loans=160)
    first, later = date(2025, 2, 14), date(2025, 3, 3)
    closed = close_of_day(conn, as_of=first, policy=POLICY)
    assert closed.loans == closed.replayed == sum(1 for x in book.loans.values() if x.schedule.start <= first)
    buckets = check_day(book, first, POLICY)
    assert set(buckets) == {"current", "1-30", "31-60", "61-90", "90+"}, buckets

    # the next close replays only the loans with a repayment since, and the loans started since
    closed = close_of_day(conn, as_of=later, policy=POLICY)
    assert closed.replayed == _paid_between(book, first, later) < closed.loans
    check_day(book, later, POLICY)

    # a rerun of the same day replays nothing and stores the same rows once
    again = close_of_day(conn, as_of=later, policy=POLICY)
    assert (again.replayed, again.loans) == (0, closed.loans)
    assert (
        conn.execute("SELECT count(*) FROM loan_daily_states WHERE as_of = %s", (later,)).fetchone()[0] == closed.loans
    )
    check_day(book, later, POLICY)

    # a back-dated repayment (before the last close) and a new one are picked up by the next close
    ids = [i for i, x in book.loans.items() if x.schedule.start < first - timedelta(days=40)][:2]
    cur = book.loans[ids[0]].schedule.principal.currency
    book.add_payment(ids[0], Payment(first - timedelta(days=5), "backdated", Amount(Decimal(7), cur)))
    cur = book.loans[ids[1]].schedule.principal.currency
    book.add_payment(ids[1], Payment(later, "today", Amount(Decimal(1000), cur)))
    assert close_of_day(conn, as_of=later, policy=POLICY).replayed == 2
    check_day(book, later, POLICY)

    # a day months later, an earlier day again, and other servicing terms (every snapshot is replayed)
    for day in (date(2025, 7, 31), first - timedelta(days=20)):
        close_of_day(conn, as_of=day, policy=POLICY)
        check_day(book, day, POLICY)
    other = dataclasses.replace(
        POLICY, grace_days=0, allocation_strategy="early-payment", prepayment_recalculation="reduce-term"
    )
    closed = close_of_day(conn, as_of=later, policy=other)
    assert closed.replayed == closed.loans
    check_day(book, later, other)


def test_written_off_loans_leave_the_portfolio_and_unknown_loans_are_refused(conn):
    book = Book(conn, seed=7, loans=12)
    on = date(2025, 6, 1)
    started = [i for i, x in book.loans.items() if x.schedule.start <= on and x.written_off_on is None]
    # first a loan of a lender in the policy's currency, so that the API's PAR below has one to leave out
    started.sort(key=lambda i: (book.lender[i] is None, book.loans[i].schedule.principal.currency != POLICY.currency))
    write_off(conn, signer=TEST_SIGNER, loan_id=started[0], on=on)
    book.loans[started[0]] = dataclasses.replace(book.loans[started[0]], written_off_on=on)
    closed = close_of_day(conn, as_of=on, policy=POLICY)
    check_day(book, on, POLICY)
    assert sum(c.loans for c in closed.currencies) == closed.loans - sum(
        1 for x in book.loans.values() if x.written_off_on and x.written_off_on <= on and x.schedule.start <= on
    )
    with pytest.raises(LoanNotFoundError, match="loan_id=00000000-0000-0000-0000-000000000000 does not exist"):
        write_off(conn, signer=TEST_SIGNER, loan_id="00000000-0000-0000-0000-000000000000", on=on)
    # the API's PAR (usecases.loans.portfolio) leaves the same loans out: it equals the stored summary
    for lender in {book.lender[i] for i in book.loans} - {None}:
        par = portfolio(conn, as_of=on, policy=POLICY, lender_organization_id=lender).par
        mine = [s for s in closed.portfolios if s.lender_organization_id == lender and s.currency == POLICY.currency]
        assert len(mine) == 1
        assert (par.loans, par.outstanding.number, par.par30, par.par90) == (
            mine[0].loans,
            mine[0].outstanding_principal,
            mine[0].par30,
            mine[0].par90,
        )
    # a write-off is one audited event: again from the same day changes nothing, from another day is refused
    again = write_off(conn, signer=TEST_SIGNER, loan_id=started[0], on=on)
    assert again.created is False and again.written_off_on == on
    with pytest.raises(WriteOffConflictError, match=f"already written off from {on}"):
        write_off(conn, signer=TEST_SIGNER, loan_id=started[0], on=on + timedelta(days=1))
    with pytest.raises(WriteOffDateError, match="is before the loan started"):
        write_off(
            conn, signer=TEST_SIGNER, loan_id=started[1], on=book.loans[started[1]].schedule.start - timedelta(days=1)
        )
    kinds = conn.execute("SELECT count(*) FROM audit_log WHERE kind = 'loan.written_off'").fetchone()[0]
    assert kinds == sum(1 for x in book.loans.values() if x.written_off_on)


def test_worker_processes_replay_the_same_book(conn, monkeypatch):
    monkeypatch.setattr("usecases.close_of_day.BATCH", 5)
    book = Book(conn, seed=99, loans=50)
    on = date(2025, 5, 20)
    closed = close_of_day(conn, as_of=on, policy=POLICY, workers=2)
    assert closed.replayed == closed.loans > 20
    check_day(book, on, POLICY)


def test_one_close_of_day_at_a_time(conn, db_url):
    with psycopg.connect(db_url) as other:
        lock_close_of_day(other)
        with pytest.raises(CloseOfDayBusyError, match="another close of day is running"):
            close_of_day(conn, as_of=date(2025, 1, 1), policy=POLICY)


def _plain(loan, on: date) -> bool:
    """The reference's reading of a plain ledger: payment j is instalment j's exact total, paid in its period."""
    rows = loan.schedule.instalments
    pays = sorted(p for p in loan.payments if p.paid_on <= on)
    if len(pays) > len(rows):
        return False
    for j, (pay, row) in enumerate(zip(pays, rows, strict=False)):
        opened = rows[j - 1].due_date if j else loan.schedule.start
        inside = opened < pay.paid_on <= row.due_date or (j == 0 and pay.paid_on == opened)
        later = sum((r.principal for r in rows[j + 1 :]), Decimal(0))
        payoff_possible = j < len(rows) - 1 and row.interest + row.fees >= later
        if pay.amount.number != row.fees + row.interest + row.principal or not inside or payoff_possible:
            return False
    return True


def _shaped(seed: int) -> tuple[BookLoan, ...]:
    """Loans shaped by hand: plain ledgers of every kind, and near misses that need the full replay."""
    out = []
    for n, loan in enumerate(random_book(seed, loans=24, first_start=date(2024, 3, 1))):
        rows = loan.schedule.instalments
        cur = loan.schedule.principal.currency
        step = Decimal(1).scaleb(-minor_unit(cur))

        def pay(k, shift=0, delta=Decimal(0), rows=rows, cur=cur, n=n):
            r = rows[k]
            return Payment(r.due_date + timedelta(days=shift), f"s{n}-{k}-{shift}", Amount(r.total + delta, cur))

        shapes = {
            0: (),  # never paid: every instalment late in turn
            1: tuple(pay(k) for k in range(len(rows))),  # each on its due date
            2: tuple(pay(k, -9) for k in range(len(rows))),  # each nine days early, the last one a payoff
            3: tuple(pay(k) for k in range(min(3, len(rows)))),  # three on time, then nothing
            4: tuple(pay(k, 1 if k == 1 else 0) for k in range(len(rows))),  # one a day late, inside grace
            5: tuple(pay(k, 0, -step if k == 1 else Decimal(0)) for k in range(len(rows))),  # one a minor unit short
            6: tuple(pay(k, 0, step if k == 0 else Decimal(0)) for k in range(len(rows))),  # one a minor unit over
            7: (pay(0, -2), pay(1, -2 - (rows[1].due_date - rows[0].due_date).days) if len(rows) > 1 else pay(0, -1)),
        }
        payments = tuple(p for p in shapes[n % 8] if p.amount.number > 0)
        out.append(dataclasses.replace(loan, payments=payments, written_off_on=None))
    # the first instalment's interest (100) is more than the later principal (10): paid early, it is a payoff
    base = build_schedule(
        principal=Amount(Decimal(10000), "KES"), rate=Decimal("0.12"), months=2, kind="annuity", start=date(2024, 3, 1)
    )
    first, second = base.instalments
    rows = (
        dataclasses.replace(first, principal=Decimal(9990), interest=Decimal(100), total=Decimal(10090)),
        dataclasses.replace(second, principal=Decimal(10), interest=Decimal(1), total=Decimal(11)),
    )
    lopsided = dataclasses.replace(base, instalments=rows)
    early = Payment(first.due_date - timedelta(days=5), "lopsided", Amount(Decimal(10090), "KES"))
    return (*out, BookLoan(lopsided, (early,), None))


def test_plain_ledgers_are_snapshot_in_sql_exactly_as_the_replay_would(conn):
    book = Book(conn, seed=31, loans=120, extra=_shaped(5))
    terms = servicing_terms(POLICY)
    for n, day in enumerate((date(2024, 9, 15), date(2025, 2, 1), date(2025, 11, 30))):
        closed = close_of_day(conn, as_of=day, policy=POLICY)
        started = {i: x for i, x in book.loans.items() if x.schedule.start <= day}
        plain = {i for i, x in started.items() if _plain(x, day)}
        assert 0 < len(plain) < len(started)
        stored = {
            row[0]: row[1:]
            for row in conn.execute(
                """SELECT loan_id, as_of, places, outstanding_principal, late_arrears, oldest_unpaid_due, closed,
                          period_start, pending_due, pending_days, pending_interest, pending_interest_paid,
                          pending_late_owed
                   FROM loan_ledger_snapshots WHERE as_of = %s""",
                (day,),
            ).fetchall()
        }
        assert len(stored) == closed.replayed == (len(started) if n == 0 else closed.replayed) > 0
        assert closed.replayed_in_sql == len(plain & set(stored)) > 0
        for loan_id in stored:
            loan = book.loans[loan_id]
            want = ledger_snapshot(schedule=loan.schedule, payments=loan.payments, as_of=day, terms=terms)
            got = stored[loan_id]
            assert got[:7] == (
                want.as_of,
                want.places,
                want.outstanding_principal,
                want.late_arrears,
                want.oldest_unpaid_due,
                want.closed,
                want.period_start,
            ), (loan_id, loan)
            assert tuple(map(tuple, got[7:])) == (
                want.pending_due,
                want.pending_days,
                want.pending_interest,
                want.pending_interest_paid,
                want.pending_late_owed,
            ), (loan_id, loan)
        check_day(book, day, POLICY)
        later = day + timedelta(days=45)  # advanced in SQL from the snapshots, instalments falling due meanwhile
        close_of_day(conn, as_of=later, policy=POLICY)
        check_day(book, later, POLICY)
