"""Close of day over random books equals ``credit.servicing`` run loan by loan, day after day."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from credit.money import Amount
from credit.servicing import Payment
from store.loan_states import CloseOfDayBusyError, lock_close_of_day
from store.loans import LoanNotFoundError
from tests.usecases.loan_books import POLICY, Book, check_day
from usecases.close_of_day import close_of_day, write_off


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
    write_off(conn, loan_id=started[0], on=on)
    book.loans[started[0]] = dataclasses.replace(book.loans[started[0]], written_off_on=on)
    closed = close_of_day(conn, as_of=on, policy=POLICY)
    check_day(book, on, POLICY)
    assert sum(c.loans for c in closed.currencies) == closed.loans - sum(
        1 for x in book.loans.values() if x.written_off_on and x.written_off_on <= on and x.schedule.start <= on
    )
    with pytest.raises(LoanNotFoundError, match="loan_id=00000000-0000-0000-0000-000000000000 does not exist"):
        write_off(conn, loan_id="00000000-0000-0000-0000-000000000000", on=on)


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
