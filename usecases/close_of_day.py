"""Close of day over the whole book: every loan's accrual, days past due and bucket, and PAR per lender and currency.

Incremental: only the loans with a repayment dated since their last snapshot (or a back-dated one),
new loans and loans replayed under other servicing terms get a new snapshot: in SQL when their ledger is
plain (no repayment yet, or each instalment paid exactly, in its period: :mod:`store.plain_ledgers`),
otherwise by replaying it in full with :mod:`credit.servicing`; every loan is then advanced from its
snapshot in one SQL statement
(:func:`store.loan_states.advance_day_states`, the set-based twin of :func:`credit.close_of_day.day_state`).
Rerunning a day replaces its rows.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

import psycopg

from credit.close_of_day import LedgerSnapshot, ledger_snapshot, terms_key
from credit.errors import PaymentError
from credit.policy import Policy
from credit.servicing import ServicingTerms
from store.loan_states import (
    LedgerRow,
    PortfolioDayRow,
    advance_day_states,
    find_stale_loans,
    ledger_from_row,
    lock_close_of_day,
    replace_snapshots,
    stale_ledger_rows,
    write_portfolio_summaries,
)
from store.plain_ledgers import snapshot_plain_ledgers

log = logging.getLogger(__name__)

__all__ = ["CloseOfDay", "CurrencyPar", "close_of_day", "servicing_terms", "snapshot_rows"]

BATCH = 2000
"""Loans read, replayed and written at a time."""

Progress = Callable[[str, int, int], None]
"""Called with (step, done, total) as the close goes on."""


@dataclass(frozen=True)
class CurrencyPar:
    """Portfolio at risk of one currency over every lender."""

    currency: str
    loans: int
    outstanding_principal: Decimal
    par30: Decimal
    par90: Decimal


@dataclass(frozen=True)
class CloseOfDay:
    """What a close of day did: loans closed, how many got a new snapshot, and PAR per lender and per currency.

    ``replayed`` counts every loan whose snapshot was made again; ``replayed_in_sql`` how many of them
    had a plain ledger, snapshot in SQL without running :mod:`credit.servicing`.
    """

    as_of: date
    loans: int
    replayed: int
    replayed_in_sql: int
    portfolios: list[PortfolioDayRow]
    currencies: list[CurrencyPar]


def servicing_terms(policy: Policy) -> ServicingTerms:
    """The servicing terms of ``policy``, as :func:`usecases.loans.get_loan_status` applies them."""
    return ServicingTerms(
        order=policy.allocation_order,
        grace_days=policy.grace_days,
        late_fee=policy.late_fee.number,
        strategy=policy.allocation_strategy,
        recalculation=policy.prepayment_recalculation,
    )


def close_of_day(
    conn: psycopg.Connection,
    *,
    as_of: date,
    policy: Policy,
    on_progress: Progress | None = None,
    workers: int = 1,
) -> CloseOfDay:
    """Close ``as_of`` for every loan started by then: store each loan's day state and the day's PAR.

    Run it in a REPEATABLE READ transaction so that a repayment committed meanwhile is seen by all
    steps or by none (it is then picked up by the next close). With ``workers`` above 1 the ledger
    replays run in as many processes while this one reads and writes.

    Raises:
        credit.PaymentError: a stored repayment cannot be replayed (names the loan).
        store.loan_states.CloseOfDayBusyError: another close of day is running.
    """
    lock_close_of_day(conn)
    report = on_progress or (lambda step, done, total: None)
    terms = servicing_terms(policy)
    key = terms_key(terms)
    stale = find_stale_loans(conn, as_of=as_of, terms=key)
    report("replay", 0, stale)
    plain = snapshot_plain_ledgers(conn, as_of=as_of, terms=key, grace_days=terms.grace_days, late_fee=terms.late_fee)
    done = plain
    report("replay", done, stale)
    # a pool costs a second or two to start: worth it only for more than a few batches
    processes = workers if stale - plain > 4 * BATCH else 1
    for snapshots in _replayed(stale_ledger_rows(conn, as_of=as_of, batch=BATCH), as_of, terms, processes):
        replace_snapshots(conn, snapshots=snapshots, terms=key)
        done += len(snapshots)
        report("replay", done, stale)
    report("advance", 0, 1)
    loans = advance_day_states(conn, as_of=as_of, grace_days=terms.grace_days)
    report("advance", 1, 1)
    portfolios = write_portfolio_summaries(conn, as_of=as_of)
    log.info("closed %s: %d loan(s), %d replayed (%d of them in SQL)", as_of, loans, stale, plain)
    return CloseOfDay(as_of, loans, stale, plain, portfolios, _by_currency(portfolios))


Snapshots = list[tuple[UUID, int, LedgerSnapshot]]


def snapshot_rows(rows: list[LedgerRow], as_of: date, terms: ServicingTerms) -> Snapshots:
    """Replay each stale loan's ledger and keep its snapshot: (loan id, repayments seen, snapshot).

    Raises:
        credit.PaymentError: a stored repayment cannot be replayed (names the loan).
    """
    out = []
    for row in rows:
        ledger = ledger_from_row(row)
        try:
            snap = ledger_snapshot(schedule=ledger.schedule, payments=ledger.payments, as_of=as_of, terms=terms)
        except PaymentError as exc:
            raise PaymentError(f"loan {ledger.loan_id}: {exc}") from None
        out.append((ledger.loan_id, len(ledger.payments), snap))
    return out


def _replayed(
    batches: Iterator[list[LedgerRow]], as_of: date, terms: ServicingTerms, workers: int
) -> Iterator[Snapshots]:
    """Snapshots of each batch, in order; with several workers the next batches replay while one is written."""
    if workers <= 1:
        for rows in batches:
            yield snapshot_rows(rows, as_of, terms)
        return
    first = next(batches, None)
    if first is None:
        return
    # spawn, not fork: a forked child would share the parent's database socket
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque[Future[Snapshots]] = deque([pool.submit(snapshot_rows, first, as_of, terms)])
        for rows in batches:
            pending.append(pool.submit(snapshot_rows, rows, as_of, terms))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _by_currency(portfolios: list[PortfolioDayRow]) -> list[CurrencyPar]:
    out = []
    places = Decimal("0.0001")
    for currency in sorted({p.currency for p in portfolios}):
        rows = [p for p in portfolios if p.currency == currency]
        total = sum((p.outstanding_principal for p in rows), Decimal(0))
        at30 = sum((p.at_risk_30 for p in rows), Decimal(0))
        at90 = sum((p.at_risk_90 for p in rows), Decimal(0))
        par30 = (at30 / total).quantize(places) if total else Decimal(0)
        par90 = (at90 / total).quantize(places) if total else Decimal(0)
        out.append(CurrencyPar(currency, sum(p.loans for p in rows), total, par30, par90))
    return out
