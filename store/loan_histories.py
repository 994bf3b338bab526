"""The loans of many farms with their stored instalments and repayments, read in one query.

A batch of the credit refresh needs every earlier loan of its farms to summarise how each was repaid
(``usecases.farm_records.load_farm_records``); reading them loan by loan would cost three queries per
loan. The instalments and repayments come back as parallel arrays, so numbers stay ``Decimal`` and
dates stay ``date`` (no JSON round trip). Functions never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from uuid import UUID

import psycopg

from credit.money import Amount
from credit.schedule import Instalment
from credit.servicing import Payment
from store.loans import LoanTerms

__all__ = ["StoredLoan", "farms_loans"]


@dataclass(frozen=True, kw_only=True)
class StoredLoan:
    """One loan as stored: its farm, terms, instalments (in order) and repayments."""

    loan_id: UUID
    farm_id: UUID
    terms: LoanTerms
    instalments: tuple[Instalment, ...]
    payments: tuple[Payment, ...]


def farms_loans(conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str], started_before: date) -> list[StoredLoan]:
    """Every loan of ``farm_ids`` that started before ``started_before``, by farm then loan id."""
    rows = conn.execute(
        """SELECT l.id, l.farm_id, l.kind, l.principal, rtrim(l.currency), l.rate, l.months, l.start_date,
                  l.grace_months, l.harvest_months, l.upfront_fee, l.apr,
                  i.numbers, i.due_dates, i.days, i.principals, i.interests, i.fees, i.totals, i.balances,
                  r.paid_at, r.keys, r.amounts, r.currencies
           FROM loans l
           LEFT JOIN LATERAL (
               SELECT array_agg(number ORDER BY number) AS numbers, array_agg(due_date ORDER BY number) AS due_dates,
                      array_agg(days ORDER BY number) AS days, array_agg(principal ORDER BY number) AS principals,
                      array_agg(interest ORDER BY number) AS interests, array_agg(fees ORDER BY number) AS fees,
                      array_agg(total ORDER BY number) AS totals, array_agg(balance_after ORDER BY number) AS balances
               FROM loan_instalments WHERE loan_id = l.id) i ON true
           LEFT JOIN LATERAL (
               SELECT array_agg(paid_at ORDER BY paid_at, id) AS paid_at,
                      array_agg(idempotency_key ORDER BY paid_at, id) AS keys,
                      array_agg(amount ORDER BY paid_at, id) AS amounts,
                      array_agg(rtrim(currency) ORDER BY paid_at, id) AS currencies
               FROM repayments WHERE loan_id = l.id) r ON true
           WHERE l.farm_id = ANY(%s::uuid[]) AND l.start_date < %s
           ORDER BY l.farm_id, l.id""",
        ([str(f) for f in farm_ids], started_before),
    ).fetchall()
    out = []
    for r in rows:
        terms = LoanTerms(
            kind=r[2],
            principal=r[3],
            currency=r[4],
            rate=r[5],
            months=r[6],
            start_date=r[7],
            grace_months=r[8],
            harvest_months=list(r[9]),
            upfront_fee=r[10],
            apr=r[11],
        )
        instalments = tuple(Instalment(*cols) for cols in zip(*(r[k] or [] for k in range(12, 20)), strict=True))
        payments = tuple(
            Payment(paid.astimezone(UTC).date(), key, Amount(amount, currency))
            for paid, key, amount, currency in zip(*(r[k] or [] for k in range(20, 24)), strict=True)
        )
        out.append(StoredLoan(loan_id=r[0], farm_id=r[1], terms=terms, instalments=instalments, payments=payments))
    return out
