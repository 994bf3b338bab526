"""Close of day in SQL for plain ledgers: the snapshot of a loan whose replay is known without running it.

A ledger is *plain* when its repayments dated up to the close are, in date order, exactly the
schedule's first instalments: the j-th repayment is in the loan's currency, in whole minor units,
equal to instalment j's fees, interest and principal, paid inside instalment j's period (after the
previous due date, on or before its own), and, unless j is the last instalment, instalment j's interest
and fees are less than the principal of the later instalments (so the payment can never be a payoff).
No repayment at all is the plainest case. :mod:`credit.servicing` then settles instalment j with
payment j whatever the allocation order, strategy or recalculation, charges no late fee before the
close, and leaves the later instalments as scheduled: the first ``m`` instalments owe nothing and the
others owe what the schedule says, plus the late fee once past their grace days. The snapshot
(:class:`credit.close_of_day.LedgerSnapshot`) follows set-based, for a whole book in one statement;
``tests/usecases/test_close_of_day.py`` compares it with :func:`credit.close_of_day.ledger_snapshot`.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from credit.money import minor_unit
from store.loan_states import day_end

log = logging.getLogger(__name__)

__all__ = ["snapshot_plain_ledgers"]

_PLAIN_SNAPSHOTS = """
WITH units AS (SELECT key AS currency, value::integer AS places FROM jsonb_each_text(%(units)s)),
inst AS (
    SELECT i.loan_id, row_number() OVER w AS k, i.due_date AS due, i.days, i.interest, i.principal,
           i.principal + i.interest + i.fees AS owed,
           coalesce(lag(i.due_date) OVER w, l.start_date) AS period_start,
           coalesce(sum(i.principal) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0) AS principal_after,
           count(*) OVER (PARTITION BY i.loan_id) AS n, u.places, c.payments_seen AS m
    FROM close_stale c JOIN loans l ON l.id = c.loan_id
    JOIN units u ON u.currency = rtrim(l.currency)
    JOIN loan_instalments i ON i.loan_id = c.loan_id
    WINDOW w AS (PARTITION BY i.loan_id ORDER BY i.number)
),
pay AS (
    SELECT r.loan_id, row_number() OVER (PARTITION BY r.loan_id ORDER BY r.paid_at, r.id) AS k,
           (r.paid_at AT TIME ZONE 'UTC')::date AS paid_on, r.amount, r.currency
    FROM close_stale c JOIN repayments r ON r.loan_id = c.loan_id
    WHERE r.paid_at < %(end)s
),
not_plain AS (
    SELECT DISTINCT p.loan_id
    FROM pay p JOIN loans l ON l.id = p.loan_id
    LEFT JOIN inst i ON i.loan_id = p.loan_id AND i.k = p.k
    WHERE i.k IS NULL OR p.currency <> l.currency OR p.amount <> i.owed OR p.amount <> round(p.amount, i.places)
       OR p.paid_on > i.due OR p.paid_on < i.period_start OR (i.k > 1 AND p.paid_on = i.period_start)
       OR (i.k < i.n AND i.owed - i.principal >= i.principal_after)
),
snap AS (
    SELECT i.loan_id, i.m, i.places,
           coalesce(sum(i.principal) FILTER (WHERE i.k > i.m), 0) AS outstanding_principal,
           coalesce(sum(i.owed + %(fee)s) FILTER (WHERE i.k > i.m AND i.owed > 0 AND i.due + %(grace)s < %(as_of)s),
                    0) AS late_arrears,
           min(i.due) FILTER (WHERE i.k > i.m AND i.owed > 0) AS oldest_unpaid_due,
           count(*) FILTER (WHERE i.k > i.m AND i.owed > 0) = 0 AS closed,
           coalesce((array_agg(i.period_start ORDER BY i.k) FILTER (WHERE i.due + %(grace)s >= %(as_of)s))[1],
                    %(as_of)s) AS period_start,
           coalesce(array_agg(i.due ORDER BY i.k) FILTER (WHERE i.due + %(grace)s >= %(as_of)s), '{}') AS due,
           coalesce(array_agg(i.days ORDER BY i.k) FILTER (WHERE i.due + %(grace)s >= %(as_of)s), '{}') AS days,
           coalesce(array_agg(i.interest ORDER BY i.k) FILTER (WHERE i.due + %(grace)s >= %(as_of)s),
                    '{}') AS interest,
           coalesce(array_agg(CASE WHEN i.k <= i.m THEN i.interest ELSE 0 END ORDER BY i.k)
                        FILTER (WHERE i.due + %(grace)s >= %(as_of)s), '{}') AS interest_paid,
           coalesce(array_agg(CASE WHEN i.k > i.m AND i.owed > 0 THEN i.owed + %(fee)s ELSE 0 END ORDER BY i.k)
                        FILTER (WHERE i.due + %(grace)s >= %(as_of)s), '{}') AS late_owed
    FROM inst i
    WHERE NOT EXISTS (SELECT 1 FROM not_plain x WHERE x.loan_id = i.loan_id)
    GROUP BY i.loan_id, i.m, i.places
),
stored AS (
    INSERT INTO loan_ledger_snapshots AS s (loan_id, as_of, terms, payments_seen, places, outstanding_principal,
           late_arrears, oldest_unpaid_due, closed, period_start, pending_due, pending_days, pending_interest,
           pending_interest_paid, pending_late_owed)
    SELECT loan_id, %(as_of)s, %(terms)s, m, places, outstanding_principal, late_arrears, oldest_unpaid_due, closed,
           period_start, due, days, interest, interest_paid, late_owed
    FROM snap
    ON CONFLICT (loan_id) DO UPDATE SET
        as_of = excluded.as_of, terms = excluded.terms, payments_seen = excluded.payments_seen,
        places = excluded.places, outstanding_principal = excluded.outstanding_principal,
        late_arrears = excluded.late_arrears, oldest_unpaid_due = excluded.oldest_unpaid_due,
        closed = excluded.closed, period_start = excluded.period_start, pending_due = excluded.pending_due,
        pending_days = excluded.pending_days, pending_interest = excluded.pending_interest,
        pending_interest_paid = excluded.pending_interest_paid, pending_late_owed = excluded.pending_late_owed,
        replayed_at = now()
    RETURNING loan_id
)
DELETE FROM close_stale c USING stored WHERE c.loan_id = stored.loan_id
"""


def snapshot_plain_ledgers(
    conn: psycopg.Connection, *, as_of: date, terms: str, grace_days: int, late_fee: Decimal
) -> int:
    """Store the snapshot of every plain ledger in ``close_stale`` (see the module) and take it off that table.

    ``close_stale`` is :func:`store.loan_states.find_stale_loans`'s table; what is left in it needs a
    replay by :mod:`credit.servicing`. ``terms`` is the snapshot's terms key, ``grace_days`` and
    ``late_fee`` the servicing terms it stands for. Returns how many snapshots were stored.
    """
    currencies = [r[0] for r in conn.execute("SELECT DISTINCT rtrim(currency) FROM loans").fetchall()]
    cur = conn.execute(
        _PLAIN_SNAPSHOTS,
        {
            "units": Jsonb({c: minor_unit(c) for c in currencies}),
            "end": day_end(as_of),
            "as_of": as_of,
            "terms": terms,
            "grace": grace_days,
            "fee": max(late_fee, Decimal(0)),
        },
    )
    log.info("close of day %s: %d plain ledger snapshot(s) in SQL", as_of, cur.rowcount)
    return cur.rowcount
