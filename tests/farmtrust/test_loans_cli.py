"""``farmtrust loans close-of-day`` and ``write-off``: one summary line or JSON, the rows stored, clear errors."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import psycopg
import pytest

from tests.farmtrust.test_cli import run_cli
from tests.usecases.loan_books import POLICY, Book, check_day

_NO_LOAN = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2026-13-01", "error: --as-of '2026-13-01' is not a date; write it as YYYY-MM-DD"),
        ("yesterday", "error: --as-of 'yesterday' is not a date"),
        ("2999-01-01", "error: --as-of 2999-01-01 is in the future"),
    ],
)
def test_a_bad_day_is_one_line_naming_as_of(as_of, message):
    out = run_cli("loans", "close-of-day", "--as-of", as_of, "--db-url", "postgresql://postgres@127.0.0.1:1/nope")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr + out.stdout


def test_close_of_day_prints_par_per_currency_and_stores_every_loan(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        book = Book(conn, seed=11, loans=40)
        conn.commit()
        day = date(2025, 4, 30)
        out = run_cli("loans", "close-of-day", "--as-of", day.isoformat(), "--json", "--db-url", fresh_db_url)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        started = sum(1 for loan in book.loans.values() if loan.schedule.start <= day)
        assert (result["as_of"], result["loans"], result["replayed"]) == (day.isoformat(), started, started)
        assert {c["currency"] for c in result["currencies"]} <= {"KES", "UGX", "USD"}
        assert "Replaying loans with new repayments" in out.stderr
        check_day(book, day, POLICY)
        # a rerun with the text summary, worker processes included: nothing to replay, the same rows
        again = run_cli("loans", "close-of-day", "--as-of", day.isoformat(), "--workers", "2", "--db-url", fresh_db_url)
        assert again.returncode == 0, again.stderr
        line = again.stdout.strip()
        assert line.startswith(f"closed {day}: {started} loans (0 replayed)"), line
        assert "PAR30" in line and "PAR90" in line and len(line.splitlines()) == 1
        check_day(book, day, POLICY)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not-a-uuid", "--on", "2025-01-01"), "error: LOAN_ID 'not-a-uuid' is not a loan id; pass the loan's UUID"),
        ((_NO_LOAN, "--on", "2025-02-30"), "error: --on '2025-02-30' is not a date; write it as YYYY-MM-DD"),
        ((_NO_LOAN, "--on", "2999-01-01"), "error: --on 2999-01-01 is in the future"),
    ],
)
def test_a_bad_write_off_is_one_line_naming_the_argument(args, message):
    out = run_cli("loans", "write-off", *args, "--db-url", "postgresql://postgres@127.0.0.1:1/nope")
    assert out.returncode == 1
    assert out.stderr.strip().startswith(message), out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr + out.stdout


def test_write_off_is_audited_once_and_close_of_day_leaves_the_loan_out(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        book = Book(conn, seed=11, loans=12)
        conn.commit()
        day = date(2025, 4, 30)
        loan_id, loan = next((i, x) for i, x in book.loans.items() if x.schedule.start <= day and not x.written_off_on)
        out = run_cli("loans", "write-off", str(loan_id), "--on", day.isoformat(), "--json", "--db-url", fresh_db_url)
        assert out.returncode == 0, out.stderr
        done = json.loads(out.stdout)
        assert (done["loan_id"], done["written_off_on"], done["created"]) == (str(loan_id), day.isoformat(), True)
        again = run_cli("loans", "write-off", str(loan_id), "--on", day.isoformat(), "--db-url", fresh_db_url)
        assert again.returncode == 0 and again.stdout.startswith(f"already written off: loan {loan_id} from {day}")
        moved = run_cli("loans", "write-off", str(loan_id), "--on", "2025-05-01", "--db-url", fresh_db_url)
        assert moved.returncode == 1 and moved.stderr.strip().startswith(f"error: loan_id={loan_id} is already written")
        unknown = run_cli("loans", "write-off", _NO_LOAN, "--on", "2025-05-01", "--db-url", fresh_db_url)
        assert unknown.returncode == 1 and f"loan_id={_NO_LOAN} does not exist" in unknown.stderr
        seqs = conn.execute("SELECT seq FROM audit_log WHERE kind = 'loan.written_off'").fetchall()
        assert seqs == [(done["audit_seq"],)]
        book.loans[loan_id] = dataclasses.replace(loan, written_off_on=day)
        assert run_cli("loans", "close-of-day", "--as-of", day.isoformat(), "--db-url", fresh_db_url).returncode == 0
        check_day(book, day, POLICY)
