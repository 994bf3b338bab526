"""Close of day in SQL: which loans need a replay, their ledgers, snapshots, daily states and portfolio at risk.

The rules live in :mod:`credit.close_of_day` and the orchestration in :mod:`usecases.close_of_day`;
:func:`advance_day_states` is the SQL twin of :func:`credit.close_of_day.day_state`. A repayment's day is
its ``paid_at`` in UTC, as in :func:`store.loans.load_payments`. Functions never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from credit.close_of_day import LedgerSnapshot
from credit.money import Amount
from credit.schedule import Instalment, Schedule, stored_schedule
from credit.servicing import Payment
from store.errors import StoreError

log = logging.getLogger(__name__)

__all__ = [
    "CloseOfDayBusyError",
    "LedgerRow",
    "LoanDayRow",
    "LoanLedger",
    "PortfolioDayRow",
    "advance_day_states",
    "day_end",
    "find_stale_loans",
    "find_write_off",
    "ledger_from_row",
    "load_day_states",
    "load_portfolio_summaries",
    "lock_close_of_day",
    "replace_snapshots",
    "stale_ledger_rows",
    "write_off_loan",
    "write_portfolio_summaries",
]

_BUCKET_SQL = """CASE WHEN {dpd} <= 0 THEN 'current' WHEN {dpd} <= 30 THEN '1-30' WHEN {dpd} <= 60 THEN '31-60'
                      WHEN {dpd} <= 90 THEN '61-90' ELSE '90+' END"""


CLOSE_LOCK_ID = 0x46_54_43_44
"""The transaction advisory lock (``"FTCD"``) that keeps one close of day at a time."""


class CloseOfDayBusyError(StoreError, RuntimeError):
    """Another close of day is running."""


@dataclass(frozen=True)
class LoanLedger:
    """A loan's stored schedule and its repayments dated up to the close."""

    loan_id: UUID
    schedule: Schedule
    payments: tuple[Payment, ...]


@dataclass(frozen=True, kw_only=True)
class LoanDayRow:
    """One loan's stored standing on one day."""

    as_of: date
    loan_id: UUID
    lender_organization_id: UUID | None
    currency: str
    outstanding_principal: Decimal
    accrued_interest: Decimal
    arrears: Decimal
    days_past_due: int
    bucket: str
    closed: bool
    written_off: bool


@dataclass(frozen=True, kw_only=True)
class PortfolioDayRow:
    """Portfolio at risk of one lender (None: loans without one) in one currency on one day."""

    as_of: date
    lender_organization_id: UUID | None
    currency: str
    loans: int
    outstanding_principal: Decimal
    at_risk_30: Decimal
    at_risk_90: Decimal
    par30: Decimal
    par90: Decimal


_ACCRUAL = """CASE WHEN {days} <= 0 THEN 0
                   ELSE greatest(ft_div_half_even({interest} * (%(as_of)s - {start}), {days}, s.places) - {paid}, 0)
              END"""
"""Interest of a period accrued to the day and unpaid, as ``LedgerReplay.accrued_interest_unpaid``."""
_ACCRUED_FIRST = _ACCRUAL.format(
    interest="s.pending_interest[1]",
    start="s.period_start",
    days="s.pending_days[1]",
    paid="s.pending_interest_paid[1]",
)
_ACCRUED_LATER = _ACCRUAL.format(
    interest="p.interest",
    start="CASE WHEN p.k = 1 THEN s.period_start ELSE s.pending_due[p.k - 1] END",
    days="p.days",
    paid="p.paid",
)


def day_end(as_of: date) -> datetime:
    """The first instant after ``as_of`` in UTC: repayments paid before it count on ``as_of``."""
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)


def lock_close_of_day(conn: psycopg.Connection) -> None:
    """Hold the close-of-day lock until the transaction ends.

    Raises:
        CloseOfDayBusyError: another transaction holds it (a close of day is running).
    """
    row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (CLOSE_LOCK_ID,)).fetchone()
    if not (row and row[0]):
        raise CloseOfDayBusyError("another close of day is running; wait for it to finish, then run this one again")


def find_stale_loans(conn: psycopg.Connection, *, as_of: date, terms: str) -> int:
    """Collect in temporary table ``close_stale`` the loans whose snapshot cannot be advanced to ``as_of``.

    A loan started on or before ``as_of`` is stale without a snapshot, with one replayed under other
    servicing ``terms`` or after ``as_of``, or when the number of its repayments dated up to ``as_of``
    differs from the number its snapshot saw (a new or back-dated repayment). Returns how many.
    """
    conn.execute("DROP TABLE IF EXISTS pg_temp.close_stale")
    cur = conn.execute(
        """CREATE TEMP TABLE close_stale ON COMMIT DROP AS
           SELECT l.id AS loan_id, coalesce(r.n, 0)::integer AS payments_seen
           FROM loans l
           LEFT JOIN loan_ledger_snapshots s ON s.loan_id = l.id
           LEFT JOIN (SELECT loan_id, count(*) AS n FROM repayments WHERE paid_at < %(end)s GROUP BY loan_id) r
                  ON r.loan_id = l.id
           WHERE l.start_date <= %(as_of)s
             AND (s.loan_id IS NULL OR s.terms <> %(terms)s OR s.as_of > %(as_of)s
                  OR s.payments_seen <> coalesce(r.n, 0))""",
        {"as_of": as_of, "end": day_end(as_of), "terms": terms},
    )
    log.info("close of day %s: %d loan(s) to replay", as_of, cur.rowcount)
    return cur.rowcount


LedgerRow = tuple[Any, ...]
"""A stale loan's row as read (:func:`stale_ledger_rows`); :func:`ledger_from_row` makes it a :class:`LoanLedger`."""


def stale_ledger_rows(conn: psycopg.Connection, *, as_of: date, batch: int = 2000) -> Iterator[list[LedgerRow]]:
    """The ledgers of the loans in ``close_stale`` (see :func:`find_stale_loans`), ``batch`` loans at a time.

    Each carries its repayments paid up to ``as_of``; read through a server-side cursor. The rows are
    raw so that worker processes can turn them into ledgers (:func:`ledger_from_row`) in parallel.
    """
    with conn.cursor(name="close_stale_ledgers") as cur:
        cur.itersize = batch
        cur.execute(
            """SELECT l.id, l.kind, l.principal, rtrim(l.currency), l.rate, l.months, l.start_date, l.grace_months,
                      l.harvest_months, l.upfront_fee, l.apr, i.nums, i.dues, i.money, p.days, p.keys, p.amounts
               FROM close_stale c JOIN loans l ON l.id = c.loan_id
               CROSS JOIN LATERAL (
                   SELECT array_agg(ARRAY[number, days] ORDER BY number) AS nums,
                          array_agg(due_date ORDER BY number) AS dues,
                          array_agg(ARRAY[principal, interest, fees, total, balance_after] ORDER BY number) AS money
                   FROM loan_instalments WHERE loan_id = l.id) AS i
               CROSS JOIN LATERAL (
                   SELECT array_agg((paid_at AT TIME ZONE 'UTC')::date) AS days, array_agg(idempotency_key) AS keys,
                          array_agg(amount) AS amounts
                   FROM repayments WHERE loan_id = l.id AND paid_at < %(end)s) AS p""",
            {"end": day_end(as_of)},
        )
        while rows := cur.fetchmany(batch):
            yield rows


def ledger_from_row(row: LedgerRow) -> LoanLedger:
    """The loan's stored schedule and repayments from a row of :func:`stale_ledger_rows`."""
    loan_id, kind, principal, currency, rate, months, start, grace, harvest, fee, apr, nums, dues, money = row[:14]
    paid_on, keys, amounts = row[14:]
    instalments = tuple(
        Instalment(n[0], due, n[1], *m) for n, due, m in zip(nums or (), dues or (), money or (), strict=True)
    )
    payments = tuple(
        Payment(d, k, Amount(a, currency)) for d, k, a in zip(paid_on or (), keys or (), amounts or (), strict=True)
    )
    schedule = stored_schedule(
        kind=kind,
        principal=Amount(principal, currency),
        rate=rate,
        months=months,
        start=start,
        grace_months=grace,
        harvest_months=tuple(harvest),
        upfront_fee=Amount(fee, currency),
        instalments=instalments,
        apr=apr,
    )
    return LoanLedger(loan_id, schedule, payments)


def replace_snapshots(
    conn: psycopg.Connection, *, snapshots: list[tuple[UUID, int, LedgerSnapshot]], terms: str
) -> None:
    """Store the snapshots (loan id, repayments seen, snapshot) in place of the loans' earlier ones."""
    conn.execute("DELETE FROM loan_ledger_snapshots WHERE loan_id = ANY(%s::uuid[])", ([s[0] for s in snapshots],))
    with conn.cursor().copy(
        """COPY loan_ledger_snapshots (loan_id, as_of, terms, payments_seen, places, outstanding_principal,
               late_arrears, oldest_unpaid_due, closed, period_start, pending_due, pending_days, pending_interest,
               pending_interest_paid, pending_late_owed) FROM STDIN"""
    ) as copy:
        for loan_id, seen, s in snapshots:
            copy.write_row(
                (
                    loan_id,
                    s.as_of,
                    terms,
                    seen,
                    s.places,
                    s.outstanding_principal,
                    s.late_arrears,
                    s.oldest_unpaid_due,
                    s.closed,
                    s.period_start,
                    _array(s.pending_due),
                    _array(s.pending_days),
                    _array(s.pending_interest),
                    _array(s.pending_interest_paid),
                    _array(s.pending_late_owed),
                )
            )
    log.info("stored %d ledger snapshot(s)", len(snapshots))


def _array(values: tuple[object, ...]) -> str:
    """A PostgreSQL array literal of dates or numbers (their ``str`` needs no quoting)."""
    return "{" + ",".join(map(str, values)) + "}"


def advance_day_states(conn: psycopg.Connection, *, as_of: date, grace_days: int) -> int:
    """Write every started loan's standing on ``as_of`` from its snapshot (a rerun replaces the day's rows).

    Every loan started on or before ``as_of`` must have a snapshot not after ``as_of`` with no repayment
    since (:func:`find_stale_loans` finds the others). Returns the number of loans.
    """
    dpd = "CASE WHEN s.oldest_unpaid_due + %(grace)s < %(as_of)s THEN %(as_of)s - s.oldest_unpaid_due ELSE 0 END"
    # Most nights no instalment of a loan passes its grace days and its period goes on: then the arrays'
    # first element answers (no unnest); the subqueries run only for the loans where something moves.
    arrears = """CASE WHEN cardinality(s.pending_due) = 0 OR s.pending_due[1] + %(grace)s >= %(as_of)s
                      THEN s.late_arrears
                      ELSE s.late_arrears + (SELECT sum(p.owed)
                                             FROM unnest(s.pending_due, s.pending_late_owed) AS p (due, owed)
                                             WHERE p.due + %(grace)s < %(as_of)s) END"""
    accrued = f"""CASE WHEN cardinality(s.pending_due) = 0 THEN 0
                       WHEN s.pending_due[1] > %(as_of)s THEN {_ACCRUED_FIRST}
                       ELSE coalesce((SELECT {_ACCRUED_LATER}
                                      FROM unnest(s.pending_due, s.pending_days, s.pending_interest,
                                                  s.pending_interest_paid)
                                           WITH ORDINALITY AS p (due, days, interest, paid, k)
                                      WHERE p.due > %(as_of)s ORDER BY p.k LIMIT 1), 0) END"""
    cur = conn.execute(
        f"""INSERT INTO loan_daily_states AS d (as_of, loan_id, lender_organization_id, currency,
                   outstanding_principal, accrued_interest, arrears, days_past_due, bucket, closed, written_off)
            SELECT %(as_of)s, l.id, l.lender_organization_id, l.currency, s.outstanding_principal,
                   {accrued}, {arrears}, {dpd}, {_BUCKET_SQL.format(dpd=dpd)}, s.closed,
                   ft_written_off(l.written_off_on, %(as_of)s)
            FROM loans l JOIN loan_ledger_snapshots s ON s.loan_id = l.id
            WHERE l.start_date <= %(as_of)s
            ON CONFLICT (as_of, loan_id) DO UPDATE SET
                lender_organization_id = excluded.lender_organization_id, currency = excluded.currency,
                outstanding_principal = excluded.outstanding_principal, accrued_interest = excluded.accrued_interest,
                arrears = excluded.arrears, days_past_due = excluded.days_past_due, bucket = excluded.bucket,
                closed = excluded.closed, written_off = excluded.written_off""",
        {"as_of": as_of, "grace": grace_days},
    )
    log.info("close of day %s: wrote %d loan state(s)", as_of, cur.rowcount)
    return cur.rowcount


def write_portfolio_summaries(conn: psycopg.Connection, *, as_of: date) -> list[PortfolioDayRow]:
    """Replace ``as_of``'s portfolio at risk, per lender and currency, from the day's loan states.

    Written-off loans are out of the portfolio; PAR30/PAR90 are the shares of outstanding principal of
    loans more than 30/90 days past due, rounded half-even to 4 decimals (0 for an empty portfolio).
    """
    conn.execute("DELETE FROM portfolio_daily_summaries WHERE as_of = %s", (as_of,))
    with conn.cursor(row_factory=class_row(PortfolioDayRow)) as cur:
        return cur.execute(
            """INSERT INTO portfolio_daily_summaries (as_of, lender_organization_id, currency, loans,
                   outstanding_principal, at_risk_30, at_risk_90, par30, par90)
               SELECT as_of, lender_organization_id, currency, n, total, a30, a90,
                      CASE WHEN total > 0 THEN ft_div_half_even(a30, total, 4) ELSE 0 END,
                      CASE WHEN total > 0 THEN ft_div_half_even(a90, total, 4) ELSE 0 END
               FROM (SELECT as_of, lender_organization_id, currency, count(*)::integer AS n,
                            sum(outstanding_principal) AS total,
                            coalesce(sum(outstanding_principal) FILTER (WHERE days_past_due > 30), 0) AS a30,
                            coalesce(sum(outstanding_principal) FILTER (WHERE days_past_due > 90), 0) AS a90
                     FROM loan_daily_states WHERE as_of = %s AND NOT written_off
                     GROUP BY as_of, lender_organization_id, currency) AS g
               RETURNING as_of, lender_organization_id, rtrim(currency) AS currency, loans, outstanding_principal,
                         at_risk_30, at_risk_90, par30, par90""",
            (as_of,),
        ).fetchall()


def load_day_states(conn: psycopg.Connection, *, as_of: date) -> list[LoanDayRow]:
    """Every loan's stored standing on ``as_of``."""
    with conn.cursor(row_factory=class_row(LoanDayRow)) as cur:
        return cur.execute(
            """SELECT as_of, loan_id, lender_organization_id, rtrim(currency) AS currency, outstanding_principal,
                      accrued_interest, arrears, days_past_due, bucket, closed, written_off
               FROM loan_daily_states WHERE as_of = %s ORDER BY loan_id""",
            (as_of,),
        ).fetchall()


def load_portfolio_summaries(conn: psycopg.Connection, *, as_of: date) -> list[PortfolioDayRow]:
    """The stored portfolio at risk of ``as_of``, per lender and currency."""
    with conn.cursor(row_factory=class_row(PortfolioDayRow)) as cur:
        return cur.execute(
            """SELECT as_of, lender_organization_id, rtrim(currency) AS currency, loans, outstanding_principal,
                      at_risk_30, at_risk_90, par30, par90
               FROM portfolio_daily_summaries WHERE as_of = %s ORDER BY currency, lender_organization_id""",
            (as_of,),
        ).fetchall()


def write_off_loan(conn: psycopg.Connection, *, loan_id: UUID | str, on: date, audit_seq: int) -> None:
    """Mark the loan written off from ``on`` by the audit entry ``audit_seq`` (lock the loan first)."""
    conn.execute(
        "UPDATE loans SET written_off_on = %s, written_off_audit_seq = %s WHERE id = %s", (on, audit_seq, str(loan_id))
    )


def find_write_off(conn: psycopg.Connection, *, loan_id: UUID | str) -> tuple[date, int | None] | None:
    """The day the loan was written off and the audit entry that did it; None when it is not written off."""
    row = conn.execute(
        "SELECT written_off_on, written_off_audit_seq FROM loans WHERE id = %s AND written_off_on IS NOT NULL",
        (str(loan_id),),
    ).fetchone()
    return None if row is None else (row[0], row[1])
