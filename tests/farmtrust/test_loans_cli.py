"""``farmtrust loans close-of-day``: one summary line or JSON, the day's rows stored, clear errors."""

from __future__ import annotations

import json
from datetime import date

import psycopg
import pytest

from tests.farmtrust.test_cli import run_cli
from tests.usecases.loan_books import POLICY, Book, check_day


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
