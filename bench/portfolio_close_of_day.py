"""Close-of-day benchmark: a book of a million loans with realistic repayment histories, closed night after night.

Run ``python -m bench.portfolio_close_of_day [--quick] [--db-url URL]`` (``--quick``: 100,000 loans).
The book is generated in SQL (``generate_series``, foreign-key triggers off while it is written) in a database
of its own, created from the URL and dropped at the end: equal-principal and flat schedules of 6 to 18 months
in KES, UGX and USD, started over the last two years, for three lenders; each loan has a repayment behaviour
(72 % on time, 10 % late, 7 % partial, 6 % stop paying, 3 % pay double, 2 % pay off early), so the book has
every arrears bucket.
Then, measured:

- ``first_close_s``: the first close (``--as-of`` the day before): every loan gets its snapshot, the plain
  ledgers in SQL (``first_close_replayed_in_sql``: on-time payers, loans that stopped, none paid yet), the
  others replayed by the servicing code;
- ``close_of_day_s``: the next night's close, the goal (under 60 s for 1,000,000 loans): the loans paid
  that day are replayed, the others advanced in SQL from their snapshots; ``replayed`` says how many;
- baseline ``baseline_close_of_day_s``: one plain aggregate query reading every instalment and repayment
  row up to the day (what is due less what is paid, per loan); ``ratio`` = baseline / close.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from bench.scratch_db import scratch_database
from credit.audit import generate_signing_key
from credit.entry_signing import Ed25519EntrySigner
from credit.policy import DEFAULT_POLICY_PATH, load_policy
from store.audit import append_entry
from store.credit_records import register_policy
from store.loan_states import day_end
from usecases.close_of_day import close_of_day

log = logging.getLogger("bench.portfolio_close_of_day")

_SIGNER = Ed25519EntrySigner(generate_signing_key())
"""The audit signer of the benchmark's own log (a fresh key: the book is dropped at the end)."""

CLOSE_DAY = date(2026, 6, 30)
"""The measured night; the first close is the day before."""

_LOANS = """
SELECT setseed(0.17);
CREATE TABLE bench_loans AS
SELECT n, gen_random_uuid() AS id, c.currency, c.places,
       round((c.low * (1 + 99 * random() ^ 2))::numeric, c.places) AS principal,
       (ARRAY[0.12, 0.18, 0.24, 0.30])[1 + floor(random() * 4)::int] AS rate,
       (ARRAY[6, 9, 12, 12, 18])[1 + floor(random() * 5)::int] AS months,
       CASE WHEN random() < 0.7 THEN 'equal-principal' ELSE 'flat' END AS kind,
       %(day)s::date - (1 + floor(random() * 720))::int AS start_date,
       random() AS behaviour, random() AS quirk, (n %% 3) AS lender
FROM generate_series(1, %(loans)s) AS n
JOIN (VALUES (0, 'KES', 2, 5000), (1, 'UGX', 0, 200000), (2, 'USD', 2, 100)) AS c (k, currency, places, low)
  ON c.k = CASE WHEN n %% 10 < 7 THEN 0 WHEN n %% 10 < 9 THEN 1 ELSE 2 END
"""

_INSTALMENTS = """
CREATE TABLE bench_instalments AS
SELECT b.id AS loan_id, k AS number, due, due - prev AS days,
       CASE WHEN k < b.months THEN share ELSE b.principal - share * (b.months - 1) END AS principal,
       CASE WHEN b.kind = 'flat'
            THEN CASE WHEN k < b.months THEN flat_share ELSE flat - flat_share * (b.months - 1) END
            ELSE round((b.principal - share * (k - 1)) * b.rate * (due - prev) / 365, b.places) END AS interest,
       CASE WHEN k < b.months THEN b.principal - share * k ELSE 0 END AS balance_after
FROM bench_loans b
CROSS JOIN LATERAL (SELECT trunc(b.principal / b.months, b.places) AS share,
                           round(b.principal * b.rate * ((b.start_date + make_interval(months => b.months))::date
                                 - b.start_date) / 365, b.places) AS flat) AS s
CROSS JOIN LATERAL (SELECT trunc(s.flat / b.months, b.places) AS flat_share) AS f
CROSS JOIN LATERAL generate_series(1, b.months) AS k
CROSS JOIN LATERAL (SELECT (b.start_date + make_interval(months => k))::date AS due,
                           (b.start_date + make_interval(months => k - 1))::date AS prev) AS d;
"""

_BOOK = """
INSERT INTO loans (id, farm_id, decision_id, principal, currency, rate, months, kind, start_date, apr,
                   policy_version, audit_seq, lender_organization_id)
SELECT b.id, %(farm)s, %(decision)s, b.principal, b.currency, b.rate, b.months, b.kind, b.start_date, b.rate,
       %(policy)s, %(seq)s, (%(lenders)s::uuid[])[b.lender + 1]
FROM bench_loans b ORDER BY b.n;
INSERT INTO loan_instalments (loan_id, number, due_date, days, principal, interest, fees, total, balance_after)
SELECT loan_id, number, due, days, principal, interest, 0, principal + interest, balance_after FROM bench_instalments;
INSERT INTO repayments (loan_id, idempotency_key, amount, currency, paid_at, audit_seq)
SELECT loan_id, 'b-' || number, amount, currency, (paid_on + time '10:00') AT TIME ZONE 'UTC', %(seq)s
FROM (SELECT i.loan_id, i.number, b.currency,
             CASE WHEN b.behaviour < 0.72 THEN i.due - floor(b.quirk * 3)::int
                  WHEN b.behaviour < 0.82 THEN i.due + 5 + floor(b.quirk * 40)::int
                  ELSE i.due END AS paid_on,
             CASE WHEN b.behaviour >= 0.82 AND b.behaviour < 0.89
                      THEN round((i.principal + i.interest) * (0.6 + 0.35 * b.quirk)::numeric, b.places)
                  WHEN b.behaviour >= 0.95 AND b.behaviour < 0.98 THEN (i.principal + i.interest) * 2
                  WHEN b.behaviour >= 0.98 AND i.number = 1 + floor(b.quirk * b.months)::int
                      THEN round(b.principal * 1.2, b.places)
                  ELSE i.principal + i.interest END AS amount,
             b.behaviour >= 0.89 AND b.behaviour < 0.95 AND i.number > 1 + floor(b.quirk * b.months)::int AS stopped,
             b.behaviour >= 0.98 AND i.number > 1 + floor(b.quirk * b.months)::int AS paid_off
      FROM bench_instalments i JOIN bench_loans b ON b.id = i.loan_id) AS p
WHERE NOT stopped AND NOT paid_off AND amount > 0 AND paid_on <= %(day)s;
DROP TABLE bench_instalments;
DROP TABLE bench_loans;
"""

_BASELINE = """
SELECT count(*), sum(coalesce(i.due, 0) - coalesce(p.paid, 0))
FROM loans l
LEFT JOIN (SELECT loan_id, sum(total) AS due FROM loan_instalments WHERE due_date <= %(day)s GROUP BY loan_id) i
       ON i.loan_id = l.id
LEFT JOIN (SELECT loan_id, sum(amount) AS paid FROM repayments WHERE paid_at < %(end)s GROUP BY loan_id) p
       ON p.loan_id = l.id
WHERE l.start_date <= %(day)s
"""


def generate_book(conn: psycopg.Connection, *, loans: int, day: date) -> int:
    """Generate ``loans`` loans with their schedules and repayments up to ``day``; return the repayments."""
    policy = load_policy(DEFAULT_POLICY_PATH)
    register_policy(conn, policy=policy, signer=_SIGNER)
    seq = append_entry(conn, signer=_SIGNER, kind="bench.book", payload={"loans": loans}).seq
    farm = conn.execute("INSERT INTO farms (name) VALUES ('Bench farm') RETURNING id").fetchone()[0]  # type: ignore[index]
    lenders = [
        conn.execute(
            "INSERT INTO organizations (kind, name) VALUES ('lender', %s) RETURNING id", (f"L{k}",)
        ).fetchone()[0]  # type: ignore[index]
        for k in range(3)
    ]
    decision = conn.execute(
        """INSERT INTO credit_decisions (farm_id, as_of, window_days, policy_version, record_hash, record, output,
               output_hash, status, limit_amount, currency, verification_score, fraud_score, audit_seq)
           VALUES (%s, now(), 60, %s, repeat('0', 64), '{}', '{}', repeat('0', 64), 'approved', 1e11, 'KES', 1, 0, %s)
           RETURNING id""",
        (farm, policy.version, seq),
    ).fetchone()[0]  # type: ignore[index]
    args = {"loans": loans, "day": day, "farm": farm, "decision": decision, "policy": policy.version, "seq": seq}
    # the book references only the rows made above: skip the per-row foreign-key triggers while it is
    # generated (a million loans have twenty million of them); the close itself runs with them on
    conn.execute("SET LOCAL session_replication_role = replica")
    for script in (_LOANS, _INSTALMENTS, _BOOK):
        for statement in filter(str.strip, script.split(";\n")):
            conn.execute(statement, {**args, "lenders": lenders} if "%(" in statement else None)  # type: ignore[arg-type]
    conn.execute("SET LOCAL session_replication_role = origin")
    return conn.execute("SELECT count(*) FROM repayments").fetchone()[0]  # type: ignore[index,no-any-return]


def run(db_url: str, *, quick: bool, loans: int | None = None, workers: int | None = None) -> dict[str, Any]:
    """Generate the book in a database of its own, close two nights, run the baseline, drop it; the figures."""
    loans = loans or (100_000 if quick else 1_000_000)
    workers = workers or os.cpu_count() or 1
    policy = load_policy(DEFAULT_POLICY_PATH)
    with scratch_database(db_url, prefix="ft_bench_cod") as url:
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            repayments = generate_book(conn, loans=loans, day=CLOSE_DAY)
            conn.commit()
            generate_s = time.perf_counter() - started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        timings = {}
        results = {}
        for label, day in (("first", CLOSE_DAY - timedelta(days=1)), ("night", CLOSE_DAY)):
            with psycopg.connect(url) as conn:
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                started = time.perf_counter()
                results[label] = close_of_day(conn, as_of=day, policy=policy, workers=workers)
                conn.commit()
                timings[label] = time.perf_counter() - started
            log.info("%s close of %s: %.1f s", label, day, timings[label])
        with psycopg.connect(url) as conn:
            started = time.perf_counter()
            conn.execute(_BASELINE, {"day": CLOSE_DAY, "end": day_end(CLOSE_DAY)}).fetchone()
            baseline_s = time.perf_counter() - started
    night = results["night"]
    return {
        "close_of_day_loans": night.loans,
        "close_of_day_s": round(timings["night"], 2),
        "baseline_close_of_day_s": round(baseline_s, 2),
        "close_of_day_ratio": round(baseline_s / timings["night"], 3),
        "close_of_day_replayed": night.replayed,
        "first_close_s": round(timings["first"], 2),
        "first_close_replayed": results["first"].replayed,
        "first_close_replayed_in_sql": results["first"].replayed_in_sql,
        "close_of_day_replayed_in_sql": night.replayed_in_sql,
        "repayments": repayments,
        "generate_s": round(generate_s, 1),
        "workers": workers,
        "par30": {c.currency: str(c.par30) for c in night.currencies},
        "par90": {c.currency: str(c.par90) for c in night.currencies},
    }


def main() -> None:
    """Parse options, run, print a summary and the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 loans (under 3 minutes)")
    parser.add_argument("--db-url", help="admin URL of a PostgreSQL (default: an embedded one)")
    parser.add_argument("--loans", type=int, default=None, help="book size (default 1,000,000; quick 100,000)")
    parser.add_argument("--workers", type=int, default=None, help="replay processes (default: one per core)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    log.setLevel(logging.INFO)
    server = None
    db_url = args.db_url
    if db_url is None:
        from farmtrust.services import start_embedded_postgres

        db_url, server = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="ft-bench-pg-")) / "data")
    try:
        figures = run(db_url, quick=args.quick, loans=args.loans, workers=args.workers)
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    if not args.json:
        print(
            f"{figures['close_of_day_loans']:,} loans: close of day {figures['close_of_day_s']} s "
            f"({figures['close_of_day_replayed']:,} replayed; first close {figures['first_close_s']} s), "
            f"plain SQL pass {figures['baseline_close_of_day_s']} s (ratio {figures['close_of_day_ratio']}); "
            f"PAR30 {figures['par30']}, PAR90 {figures['par90']}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
