"""Persistence of loans, their schedules, repayments and early-warning alerts: one query per function.

The lending rules live in :mod:`credit` and the orchestration in :mod:`usecases.loans`; this module
reads and writes rows. Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from credit.canonical import to_plain
from credit.money import ZERO, Amount
from credit.schedule import Instalment, Schedule
from credit.servicing import Payment
from store.errors import StoreError

log = logging.getLogger(__name__)

__all__ = [
    "AlertRow",
    "DecisionRef",
    "DecisionTerms",
    "IdempotencyConflictError",
    "LoanListing",
    "LoanNotFoundError",
    "LoanRef",
    "LoanTerms",
    "StoredRepayment",
    "close_loan",
    "farm_loan_ids",
    "find_decision",
    "find_loan",
    "find_repayment",
    "insert_loan",
    "insert_repayment",
    "lender_loans",
    "list_alerts",
    "load_allocation",
    "load_instalments",
    "load_loan_terms",
    "load_payments",
    "loan_ids",
    "lock_decision",
    "lock_loan",
    "open_alert_counts",
    "open_principal",
    "raise_alerts",
    "replace_allocations",
    "written_off_loan_ids",
]


class LoanNotFoundError(StoreError, LookupError):
    """No loan (or decision) has the given id."""


class IdempotencyConflictError(StoreError, ValueError):
    """The idempotency key was already used for a different repayment."""


@dataclass(frozen=True)
class DecisionRef:
    """What a loan needs to know of the decision it is opened from."""

    decision_id: UUID
    farm_id: UUID
    currency: str
    lender_organization_id: UUID | None


@dataclass(frozen=True, kw_only=True)
class DecisionTerms:
    """A decision's row as a loan is opened from it: its farm, verdict, limit and lender."""

    farm_id: UUID
    status: str
    limit_amount: Decimal
    currency: str
    lender_organization_id: UUID | None


@dataclass(frozen=True)
class LoanRef:
    """Who a loan belongs to, its currency and when it started."""

    loan_id: UUID
    farm_id: UUID
    currency: str
    start_date: date
    lender_organization_id: UUID | None


@dataclass(frozen=True, kw_only=True)
class LoanTerms:
    """The terms a loan was opened with, as stored in ``loans``."""

    kind: str
    principal: Decimal
    currency: str
    rate: Decimal
    months: int
    start_date: date
    grace_months: int
    harvest_months: list[int]
    upfront_fee: Decimal
    apr: Decimal


@dataclass(frozen=True, kw_only=True)
class StoredRepayment:
    """A repayment as stored under its idempotency key."""

    id: UUID
    amount: Decimal
    currency: str
    paid_at: datetime
    audit_seq: int


@dataclass(frozen=True, kw_only=True)
class LoanListing:
    """One loan in a lender's list, with its farm's name."""

    id: UUID
    farm: str
    principal: Decimal
    currency: str
    rate: Decimal
    months: int
    kind: str
    apr: Decimal
    status: str
    opened_at: datetime


@dataclass(frozen=True, kw_only=True)
class AlertRow:
    """One early-warning alert with its farm's name."""

    id: int
    farm_id: UUID
    farm: str
    loan_id: UUID | None
    code: str
    severity: str
    message: str
    evidence: Any
    raised_at: datetime
    resolved_at: datetime | None


def _lender_filter(column: str) -> str:
    """SQL that keeps the rows of lender ``%(lender)s`` (every row when it is NULL: admins, the CLI)."""
    return f"(%(lender)s::uuid IS NULL OR {column} = %(lender)s::uuid)"


def find_decision(
    conn: psycopg.Connection, *, decision_id: UUID | str, lender_organization_id: UUID | None = None
) -> DecisionRef | None:
    """The decision when it exists and belongs to ``lender_organization_id`` (any lender's when None)."""
    row = conn.execute(
        f"""SELECT id, farm_id, currency, lender_organization_id FROM credit_decisions
            WHERE id = %(id)s AND {_lender_filter("lender_organization_id")}""",
        {"id": str(decision_id), "lender": lender_organization_id},
    ).fetchone()
    return None if row is None else DecisionRef(row[0], row[1], row[2].strip(), row[3])


def lock_decision(
    conn: psycopg.Connection, *, decision_id: UUID | str, lender_organization_id: UUID | None = None
) -> DecisionTerms | None:
    """The decision's terms, its row locked (``FOR UPDATE``) until the transaction ends; None when not found.

    Only a decision of ``lender_organization_id`` is found (any lender's when None).
    """
    with conn.cursor(row_factory=class_row(DecisionTerms)) as cur:
        return cur.execute(
            f"""SELECT farm_id, status, limit_amount, rtrim(currency) AS currency, lender_organization_id
                FROM credit_decisions WHERE id = %(id)s AND {_lender_filter("lender_organization_id")} FOR UPDATE""",
            {"id": str(decision_id), "lender": lender_organization_id},
        ).fetchone()


def open_principal(conn: psycopg.Connection, *, decision_id: UUID | str) -> Decimal:
    """The principal of the active loans opened from the decision."""
    row = conn.execute(
        "SELECT coalesce(sum(principal), 0) FROM loans WHERE decision_id = %s AND status = 'active'",
        (str(decision_id),),
    ).fetchone()
    return row[0] if row else ZERO


def find_loan(
    conn: psycopg.Connection,
    *,
    loan_id: UUID | str,
    lender_organization_id: UUID | None = None,
    farm_ids: list[UUID] | None = None,
) -> LoanRef | None:
    """The loan when it belongs to ``lender_organization_id`` and to one of ``farm_ids`` (None: no such filter)."""
    row = conn.execute(
        f"""SELECT id, farm_id, currency, start_date, lender_organization_id FROM loans
            WHERE id = %(id)s AND {_lender_filter("lender_organization_id")}
              AND (%(farms)s::uuid[] IS NULL OR farm_id = ANY(%(farms)s::uuid[]))""",
        {"id": str(loan_id), "lender": lender_organization_id, "farms": farm_ids},
    ).fetchone()
    return None if row is None else LoanRef(row[0], row[1], row[2].strip(), row[3], row[4])


def lock_loan(
    conn: psycopg.Connection, *, loan_id: UUID | str, lender_organization_id: UUID | None = None
) -> LoanRef | None:
    """The loan of ``lender_organization_id`` (any lender's when None), its row locked until the transaction ends."""
    row = conn.execute(
        f"""SELECT id, farm_id, currency, start_date, lender_organization_id FROM loans
            WHERE id = %(id)s AND {_lender_filter("lender_organization_id")} FOR UPDATE""",
        {"id": str(loan_id), "lender": lender_organization_id},
    ).fetchone()
    return None if row is None else LoanRef(row[0], row[1], row[2].strip(), row[3], row[4])


def loan_ids(
    conn: psycopg.Connection,
    *,
    lender_organization_id: UUID | None = None,
    farm_ids: list[UUID] | None = None,
    cooperative_id: UUID | str | None = None,
) -> list[UUID]:
    """Ids of the loans of ``lender_organization_id``, on ``farm_ids``, of ``cooperative_id``'s farms, oldest first.

    A filter that is None keeps every loan.
    """
    rows = conn.execute(
        f"""SELECT l.id FROM loans l JOIN farms f ON f.id = l.farm_id
            WHERE {_lender_filter("l.lender_organization_id")}
              AND (%(farms)s::uuid[] IS NULL OR l.farm_id = ANY(%(farms)s::uuid[]))
              AND (%(coop)s::uuid IS NULL OR f.cooperative_id = %(coop)s::uuid)
            ORDER BY l.opened_at, l.id""",
        {"lender": lender_organization_id, "farms": farm_ids, "coop": cooperative_id and str(cooperative_id)},
    ).fetchall()
    return [r[0] for r in rows]


def written_off_loan_ids(conn: psycopg.Connection, *, loan_ids: list[UUID], as_of: date) -> set[UUID]:
    """Which of ``loan_ids`` are written off at the close of ``as_of`` (as close of day counts them)."""
    rows = conn.execute(
        "SELECT id FROM loans WHERE id = ANY(%s::uuid[]) AND ft_written_off(written_off_on, %s)", (loan_ids, as_of)
    ).fetchall()
    return {r[0] for r in rows}


def farm_loan_ids(conn: psycopg.Connection, *, farm_id: UUID | str, started_before: date) -> list[UUID]:
    """Ids of the farm's loans that started before ``started_before``, in id order."""
    rows = conn.execute(
        "SELECT id FROM loans WHERE farm_id = %s AND start_date < %s ORDER BY id", (str(farm_id), started_before)
    ).fetchall()
    return [r[0] for r in rows]


def lender_loans(conn: psycopg.Connection, *, lender_organization_id: UUID, farm_ids: list[UUID]) -> list[LoanListing]:
    """The lender's loans on ``farm_ids`` with their farm's name, oldest first."""
    with conn.cursor(row_factory=class_row(LoanListing)) as cur:
        return cur.execute(
            """SELECT l.id, f.name AS farm, l.principal, rtrim(l.currency) AS currency, l.rate, l.months, l.kind,
                      l.apr, l.status, l.opened_at
               FROM loans l JOIN farms f ON f.id = l.farm_id
               WHERE l.farm_id = ANY(%s::uuid[]) AND l.lender_organization_id = %s ORDER BY l.opened_at, l.id""",
            ([str(f) for f in farm_ids], lender_organization_id),
        ).fetchall()


def insert_loan(
    conn: psycopg.Connection,
    *,
    farm_id: UUID,
    decision_id: UUID | str,
    schedule: Schedule,
    policy_version: str,
    audit_seq: int,
    lender_organization_id: UUID | None,
) -> UUID:
    """Store a loan with the instalments of its ``schedule``; return its id."""
    row = conn.execute(
        """INSERT INTO loans (farm_id, decision_id, principal, currency, rate, months, kind, start_date,
               grace_months, harvest_months, upfront_fee, apr, policy_version, audit_seq, lender_organization_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            farm_id,
            str(decision_id),
            schedule.principal.number,
            schedule.principal.currency,
            schedule.rate,
            schedule.months,
            schedule.kind,
            schedule.start,
            schedule.grace_months,
            list(schedule.harvest_months),
            schedule.upfront_fee.number,
            schedule.apr,
            policy_version,
            audit_seq,
            lender_organization_id,
        ),
    ).fetchone()
    assert row is not None
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO loan_instalments (loan_id, number, due_date, days, principal, interest, fees, total,
                   balance_after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (row[0], i.number, i.due_date, i.days, i.principal, i.interest, i.fees, i.total, i.balance_after)
                for i in schedule.instalments
            ],
        )
    log.info("stored loan %s for farm %s: %s over %d months", row[0], farm_id, schedule.principal, schedule.months)
    return row[0]  # type: ignore[no-any-return]


def load_loan_terms(conn: psycopg.Connection, *, loan_id: UUID | str) -> LoanTerms:
    """The terms a loan was opened with.

    Raises:
        LoanNotFoundError: no loan has ``loan_id``.
    """
    with conn.cursor(row_factory=class_row(LoanTerms)) as cur:
        terms = cur.execute(
            """SELECT kind, principal, rtrim(currency) AS currency, rate, months, start_date, grace_months,
                      harvest_months, upfront_fee, apr
               FROM loans WHERE id = %s""",
            (str(loan_id),),
        ).fetchone()
    if terms is None:
        raise LoanNotFoundError(f"loan_id={loan_id} does not exist")
    return terms


def load_instalments(conn: psycopg.Connection, *, loan_id: UUID | str) -> list[Instalment]:
    """A loan's stored instalments, in order."""
    with conn.cursor(row_factory=class_row(Instalment)) as cur:
        return cur.execute(
            """SELECT number, due_date, days, principal, interest, fees, total, balance_after FROM loan_instalments
               WHERE loan_id = %s ORDER BY number""",
            (str(loan_id),),
        ).fetchall()


def load_payments(conn: psycopg.Connection, *, loan_id: UUID | str) -> list[Payment]:
    """Every repayment of a loan."""
    rows = conn.execute(
        "SELECT paid_at, idempotency_key, amount, currency FROM repayments WHERE loan_id = %s", (str(loan_id),)
    ).fetchall()
    return [Payment(r[0].astimezone(UTC).date(), r[1], Amount(r[2], r[3].strip())) for r in rows]


def find_repayment(conn: psycopg.Connection, *, loan_id: UUID | str, idempotency_key: str) -> StoredRepayment | None:
    """The loan's repayment posted under ``idempotency_key``, or None."""
    with conn.cursor(row_factory=class_row(StoredRepayment)) as cur:
        return cur.execute(
            """SELECT id, amount, rtrim(currency) AS currency, paid_at, audit_seq FROM repayments
               WHERE loan_id = %s AND idempotency_key = %s""",
            (str(loan_id), idempotency_key),
        ).fetchone()


def load_allocation(conn: psycopg.Connection, *, repayment_id: UUID) -> dict[str, Decimal]:
    """How a stored repayment was split, by component."""
    rows = conn.execute(
        "SELECT component, amount FROM repayment_allocations WHERE repayment_id = %s", (repayment_id,)
    ).fetchall()
    return dict(rows)


def insert_repayment(
    conn: psycopg.Connection,
    *,
    loan_id: UUID | str,
    idempotency_key: str,
    amount: Amount,
    paid_at: datetime,
    audit_seq: int,
    allocation: dict[str, Decimal] | None = None,
) -> UUID:
    """Store a repayment, and its allocation by component when given; return its id."""
    row = conn.execute(
        """INSERT INTO repayments (loan_id, idempotency_key, amount, currency, paid_at, audit_seq)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (str(loan_id), idempotency_key, amount.number, amount.currency, paid_at, audit_seq),
    ).fetchone()
    assert row is not None
    if allocation:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO repayment_allocations (repayment_id, component, amount) VALUES (%s, %s, %s)",
                [(row[0], c, v) for c, v in allocation.items()],
            )
    log.info("stored repayment %s of %s to loan %s", idempotency_key, amount, loan_id)
    return row[0]  # type: ignore[no-any-return]


def replace_allocations(
    conn: psycopg.Connection, *, loan_id: UUID | str, allocations: dict[str, dict[str, Decimal]]
) -> None:
    """Replace the stored allocation of every repayment of a loan with ``allocations`` (by idempotency key).

    A repayment whose key ``allocations`` does not name keeps no allocation rows.
    """
    conn.execute(
        "DELETE FROM repayment_allocations WHERE repayment_id IN (SELECT id FROM repayments WHERE loan_id = %s)",
        (str(loan_id),),
    )
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO repayment_allocations (repayment_id, component, amount)
               SELECT id, %s, %s FROM repayments WHERE loan_id = %s AND idempotency_key = %s""",
            [(c, v, str(loan_id), key) for key, parts in allocations.items() for c, v in parts.items()],
        )


def close_loan(conn: psycopg.Connection, *, loan_id: UUID | str) -> None:
    """Mark the loan closed (fully repaid)."""
    conn.execute("UPDATE loans SET status = 'closed' WHERE id = %s", (str(loan_id),))


def raise_alerts(
    conn: psycopg.Connection,
    *,
    farm_id: UUID | str,
    alerts: tuple[Any, ...] | list[Any],
    loan_id: UUID | str | None = None,
) -> list[int]:
    """Store alerts (``credit.alerts.Alert``) that are not already open for the farm; return the new ids."""
    ids = []
    for a in alerts:
        row = conn.execute(
            """INSERT INTO credit_alerts (farm_id, loan_id, code, severity, message, evidence, raised_at)
               VALUES (%s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (farm_id, code) WHERE resolved_at IS NULL DO NOTHING RETURNING id""",
            (
                str(farm_id),
                loan_id and str(loan_id),
                a.code,
                a.severity,
                a.message,
                Jsonb(to_plain(a.evidence)),
                a.raised_at,
            ),
        ).fetchone()
        if row:
            ids.append(row[0])
    if ids:
        log.info("raised %d alert(s) for farm %s", len(ids), farm_id)
    return ids


def list_alerts(
    conn: psycopg.Connection,
    *,
    farm_id: UUID | str | None = None,
    farm_ids: list[UUID] | None = None,
    open_only: bool = True,
) -> list[AlertRow]:
    """Alerts of ``farm_id`` or of ``farm_ids`` (None: of every farm), newest first; only open ones by default.

    The one query for alerts: the API, the dashboard and the demo's report read them here.
    """
    farms = [str(f) for f in (*(farm_ids or ()), *(() if farm_id is None else (farm_id,)))]
    with conn.cursor(row_factory=class_row(AlertRow)) as cur:
        return cur.execute(
            """SELECT a.id, a.farm_id, f.name AS farm, a.loan_id, a.code, a.severity, a.message, a.evidence,
                      a.raised_at, a.resolved_at
               FROM credit_alerts a JOIN farms f ON f.id = a.farm_id
               WHERE (%(all)s OR a.farm_id = ANY(%(farms)s::uuid[])) AND (NOT %(open)s OR a.resolved_at IS NULL)
               ORDER BY a.raised_at DESC, a.id DESC""",
            {"all": farm_id is None and farm_ids is None, "farms": farms, "open": open_only},
        ).fetchall()


def open_alert_counts(conn: psycopg.Connection, *, farm_ids: list[UUID] | None = None) -> dict[UUID, int]:
    """How many open alerts each farm of ``farm_ids`` (None: every farm) has; farms without any are left out.

    Counts what :func:`list_alerts` with ``open_only=True`` lists, without reading the rows.
    """
    rows = conn.execute(
        """SELECT farm_id, count(*) FROM credit_alerts
           WHERE (%(all)s OR farm_id = ANY(%(farms)s::uuid[])) AND resolved_at IS NULL GROUP BY farm_id""",
        {"all": farm_ids is None, "farms": [str(f) for f in farm_ids or ()]},
    ).fetchall()
    return {UUID(str(farm_id)): int(n) for farm_id, n in rows}
