"""Persistence of loans, their schedules, idempotent repayments, portfolio PAR and early-warning alerts.

The arithmetic lives in :mod:`credit` (schedules, allocation, days past due); this module stores its
inputs and outputs, and writes an audit entry for every loan opened and every repayment posted.
Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from credit.audit import AuditEntry
from credit.canonical import to_plain
from credit.money import ZERO, Amount
from credit.policy import Policy
from credit.schedule import Instalment, Schedule, build_schedule
from credit.servicing import LoanStatus, Par, Payment, PaymentAllocation, loan_status, portfolio_par
from store.audit import append_entry
from store.errors import StoreError
from vocabulary.lending import ALLOCATION_COMPONENTS, DecisionStatus

log = logging.getLogger(__name__)

__all__ = [
    "DecisionRef",
    "IdempotencyConflictError",
    "LoanNotFoundError",
    "LoanOpened",
    "LoanRef",
    "LoanRefusedError",
    "RepaymentPosted",
    "find_decision",
    "find_loan",
    "get_loan_status",
    "list_alerts",
    "load_payments",
    "load_schedule",
    "loan_ids",
    "open_loan",
    "portfolio",
    "post_repayment",
    "raise_alerts",
]


class LoanNotFoundError(StoreError, LookupError):
    """No loan (or decision) has the given id."""


class LoanRefusedError(StoreError, ValueError):
    """A loan cannot be opened from this decision (not approved, above the limit, other currency)."""


class IdempotencyConflictError(StoreError, ValueError):
    """The idempotency key was already used for a different repayment."""


@dataclass(frozen=True)
class LoanOpened:
    """A loan just opened: its id, schedule and audit entry."""

    loan_id: UUID
    schedule: Schedule
    audit_entry: AuditEntry


@dataclass(frozen=True)
class RepaymentPosted:
    """A repayment as stored; ``created`` is False when the same idempotency key was posted before."""

    repayment_id: UUID
    created: bool
    allocation: dict[str, Decimal]
    status: LoanStatus
    audit_seq: int


@dataclass(frozen=True)
class DecisionRef:
    """What a loan needs to know of the decision it is opened from."""

    decision_id: UUID
    farm_id: UUID
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


def loan_ids(
    conn: psycopg.Connection, *, lender_organization_id: UUID | None = None, farm_ids: list[UUID] | None = None
) -> list[UUID]:
    """Ids of the loans of ``lender_organization_id`` on ``farm_ids`` (None: no such filter), oldest first."""
    rows = conn.execute(
        f"""SELECT id FROM loans WHERE {_lender_filter("lender_organization_id")}
              AND (%(farms)s::uuid[] IS NULL OR farm_id = ANY(%(farms)s::uuid[])) ORDER BY opened_at, id""",
        {"lender": lender_organization_id, "farms": farm_ids},
    ).fetchall()
    return [r[0] for r in rows]


def open_loan(
    conn: psycopg.Connection,
    *,
    decision_id: UUID | str,
    principal: Amount,
    rate: Decimal,
    months: int,
    kind: str,
    start: date,
    policy: Policy,
    harvest_months: tuple[int, ...] = (),
    grace_months: int = 0,
    upfront_fee: Amount | None = None,
    reviewed_by: str | None = None,
    lender_organization_id: UUID | None = None,
) -> LoanOpened:
    """Open a loan from a stored decision: build the schedule, store it and audit it.

    A ``referred`` decision needs ``reviewed_by`` (the person who cleared the fraud review). The loan
    belongs to the decision's lender; ``lender_organization_id``, when given, must be that lender.
    The decision's row stays locked (``FOR UPDATE``) until the caller's transaction ends, so loans
    opened at once from one decision are checked one after the other: the principal of its active
    loans never exceeds its limit.

    Raises:
        LoanNotFoundError: no decision has ``decision_id`` (for this lender).
        LoanRefusedError: the decision is not approved, or the principal (with the decision's loans still
            open) exceeds its limit, or is in another currency.
        credit.ScheduleError: principal, rate, tenor or harvest months are invalid.
    """
    row = conn.execute(
        f"""SELECT farm_id, status, limit_amount, currency, lender_organization_id FROM credit_decisions
            WHERE id = %(id)s AND {_lender_filter("lender_organization_id")} FOR UPDATE""",
        {"id": str(decision_id), "lender": lender_organization_id},
    ).fetchone()
    if row is None:
        raise LoanNotFoundError(f"decision_id={decision_id} does not exist; decide a limit first")
    farm_id, status, limit, currency, lender = row
    if status == DecisionStatus.REFERRED and not reviewed_by:
        raise LoanRefusedError(f"decision {decision_id} is referred for fraud review; pass reviewed_by after review")
    if status not in (DecisionStatus.APPROVED, DecisionStatus.REFERRED):
        raise LoanRefusedError(f"decision {decision_id} is {status}; only an approved limit can open a loan")
    if principal.currency != currency.strip():
        raise LoanRefusedError(f"principal currency {principal.currency} differs from the limit's {currency}")
    if principal.number > limit:
        raise LoanRefusedError(f"principal={principal.number} exceeds the approved limit {limit} {currency}")
    open_row = conn.execute(
        "SELECT coalesce(sum(principal), 0) FROM loans WHERE decision_id = %s AND status = 'active'",
        (str(decision_id),),
    ).fetchone()
    already = open_row[0] if open_row else ZERO
    if already + principal.number > limit:
        raise LoanRefusedError(
            f"principal={principal.number} with the {already} {currency.strip()} still open under decision "
            f"{decision_id} exceeds its approved limit {limit} {currency.strip()}; at most {limit - already} is left"
        )
    schedule = build_schedule(
        principal=principal,
        rate=rate,
        months=months,
        kind=kind,
        start=start,
        harvest_months=harvest_months,
        grace_months=grace_months,
        upfront_fee=upfront_fee,
        max_rate=policy.max_rate,
    )
    entry = append_entry(
        conn,
        kind="loan.opened",
        payload={
            "decision_id": str(decision_id),
            "farm_id": str(farm_id),
            "reviewed_by": reviewed_by,
            "schedule": schedule.to_plain(),
            "policy_version": policy.version,
        },
    )
    loan = conn.execute(
        """INSERT INTO loans (farm_id, decision_id, principal, currency, rate, months, kind, start_date,
               grace_months, harvest_months, upfront_fee, apr, policy_version, audit_seq, lender_organization_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
        (
            farm_id,
            str(decision_id),
            schedule.principal.number,
            currency,
            rate,
            months,
            kind,
            start,
            grace_months,
            list(schedule.harvest_months),
            schedule.upfront_fee.number,
            schedule.apr,
            policy.version,
            entry.seq,
            lender,
        ),
    ).fetchone()
    assert loan is not None
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO loan_instalments (loan_id, number, due_date, days, principal, interest, fees, total,
                   balance_after) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (loan[0], i.number, i.due_date, i.days, i.principal, i.interest, i.fees, i.total, i.balance_after)
                for i in schedule.instalments
            ],
        )
    log.info("opened loan %s for farm %s: %s over %d months (%s)", loan[0], farm_id, schedule.principal, months, kind)
    return LoanOpened(loan[0], schedule, entry)


def load_schedule(conn: psycopg.Connection, *, loan_id: UUID | str) -> Schedule:
    """The stored schedule of a loan.

    Raises:
        LoanNotFoundError: no loan has ``loan_id``.
    """
    row = conn.execute(
        """SELECT principal, currency, rate, months, kind, start_date, grace_months, harvest_months, upfront_fee, apr
           FROM loans WHERE id = %s""",
        (str(loan_id),),
    ).fetchone()
    if row is None:
        raise LoanNotFoundError(f"loan_id={loan_id} does not exist")
    cur = row[1].strip()
    rows = conn.execute(
        """SELECT number, due_date, days, principal, interest, fees, total, balance_after FROM loan_instalments
           WHERE loan_id = %s ORDER BY number""",
        (str(loan_id),),
    ).fetchall()
    instalments = tuple(Instalment(*r) for r in rows)
    interest = sum((i.interest for i in instalments), ZERO)
    return Schedule(
        row[4],
        Amount(row[0], cur),
        row[2],
        row[3],
        row[5],
        row[6],
        tuple(row[7]),
        Amount(row[8], cur),
        instalments,
        Amount(interest, cur),
        Amount(interest + row[0], cur),
        row[9],
    )


def load_payments(conn: psycopg.Connection, *, loan_id: UUID | str) -> list[Payment]:
    """Every repayment of a loan."""
    rows = conn.execute(
        "SELECT paid_at, idempotency_key, amount, currency FROM repayments WHERE loan_id = %s", (str(loan_id),)
    ).fetchall()
    return [Payment(r[0].astimezone(UTC).date(), r[1], Amount(r[2], r[3].strip())) for r in rows]


def get_loan_status(conn: psycopg.Connection, *, loan_id: UUID | str, as_of: date, policy: Policy) -> LoanStatus:
    """Days past due, bucket, arrears and outstanding principal of a loan on ``as_of``.

    Raises:
        LoanNotFoundError: no loan has ``loan_id``.
    """
    return loan_status(
        schedule=load_schedule(conn, loan_id=loan_id),
        payments=load_payments(conn, loan_id=loan_id),
        as_of=as_of,
        order=policy.allocation_order,
        grace_days=policy.grace_days,
        late_fee=policy.late_fee.number,
    )


def post_repayment(
    conn: psycopg.Connection,
    *,
    loan_id: UUID | str,
    idempotency_key: str,
    amount: Amount,
    paid_at: datetime,
    policy: Policy,
    lender_organization_id: UUID | None = None,
) -> RepaymentPosted:
    """Record a repayment once per ``idempotency_key``; posting the same key again returns the first result.

    Raises:
        LoanNotFoundError: no loan has ``loan_id`` (of ``lender_organization_id``, when given).
        IdempotencyConflictError: the key was used with another amount or time.
        credit.PaymentError: the amount is not positive or in another currency.
    """
    if not idempotency_key:
        raise IdempotencyConflictError("idempotency_key is empty; send a unique key per payment, e.g. the M-Pesa id")
    if paid_at.tzinfo is None:
        raise IdempotencyConflictError(f"paid_at={paid_at!r} has no time zone; send a timezone-aware time")
    locked = conn.execute(
        f"SELECT currency FROM loans WHERE id = %(id)s AND {_lender_filter('lender_organization_id')} FOR UPDATE",
        {"id": str(loan_id), "lender": lender_organization_id},
    ).fetchone()
    if locked is None:
        raise LoanNotFoundError(f"loan_id={loan_id} does not exist")
    existing = conn.execute(
        "SELECT id, amount, currency, paid_at, audit_seq FROM repayments WHERE loan_id = %s AND idempotency_key = %s",
        (str(loan_id), idempotency_key),
    ).fetchone()
    if existing is not None:
        if existing[1] != amount.number or existing[2].strip() != amount.currency or existing[3] != paid_at:
            raise IdempotencyConflictError(
                f"idempotency_key={idempotency_key!r} was already used for {existing[1]} {existing[2]} at "
                f"{existing[3].isoformat()}; use a new key for a different payment"
            )
        parts = conn.execute(
            "SELECT component, amount FROM repayment_allocations WHERE repayment_id = %s", (existing[0],)
        ).fetchall()
        status = get_loan_status(conn, loan_id=loan_id, as_of=paid_at.astimezone(UTC).date(), policy=policy)
        return RepaymentPosted(existing[0], False, dict(parts), status, existing[4])
    schedule = load_schedule(conn, loan_id=loan_id)
    payment = Payment(paid_at.astimezone(UTC).date(), idempotency_key, amount)
    payments = [*load_payments(conn, loan_id=loan_id), payment]
    status = loan_status(
        schedule=schedule,
        payments=payments,
        as_of=payment.paid_on,
        order=policy.allocation_order,
        grace_days=policy.grace_days,
        late_fee=policy.late_fee.number,
    )
    mine: PaymentAllocation = next(p for p in status.payments if p.key == idempotency_key)
    parts_d = {c: getattr(mine.allocation, c) for c in ALLOCATION_COMPONENTS}
    entry = append_entry(
        conn,
        kind="loan.repayment",
        payload={
            "loan_id": str(loan_id),
            "idempotency_key": idempotency_key,
            "amount": amount,
            "paid_at": paid_at,
            "allocation": parts_d,
            "days_past_due": status.days_past_due,
        },
    )
    rep = conn.execute(
        """INSERT INTO repayments (loan_id, idempotency_key, amount, currency, paid_at, audit_seq)
           VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
        (str(loan_id), idempotency_key, amount.number, amount.currency, paid_at, entry.seq),
    ).fetchone()
    assert rep is not None
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO repayment_allocations (repayment_id, component, amount) VALUES (%s, %s, %s)",
            [(rep[0], c, v) for c, v in parts_d.items()],
        )
    if status.closed:
        conn.execute("UPDATE loans SET status = 'closed' WHERE id = %s", (str(loan_id),))
    log.info("posted repayment %s of %s to loan %s", idempotency_key, amount, loan_id)
    return RepaymentPosted(rep[0], True, parts_d, status, entry.seq)


def portfolio(
    conn: psycopg.Connection,
    *,
    as_of: date,
    policy: Policy,
    cooperative_id: UUID | str | None = None,
    lender_organization_id: UUID | None = None,
) -> Par:
    """PAR30 and PAR90 over the active loans (of one cooperative's farms, of one lender, when given)."""
    rows = conn.execute(
        f"""SELECT l.id FROM loans l JOIN farms f ON f.id = l.farm_id
            WHERE l.start_date <= %(as_of)s AND (%(coop)s::uuid IS NULL OR f.cooperative_id = %(coop)s::uuid)
              AND {_lender_filter("l.lender_organization_id")} ORDER BY l.id""",
        {"as_of": as_of, "coop": cooperative_id and str(cooperative_id), "lender": lender_organization_id},
    ).fetchall()
    statuses = [get_loan_status(conn, loan_id=r[0], as_of=as_of, policy=policy) for r in rows]
    return portfolio_par(
        [s for s in statuses if s.outstanding_principal.currency == policy.currency], currency=policy.currency
    )


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
               VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s)
               ON CONFLICT (farm_id, code) WHERE resolved_at IS NULL DO NOTHING RETURNING id""",
            (
                str(farm_id),
                loan_id and str(loan_id),
                a.code,
                a.severity,
                a.message,
                json.dumps(to_plain(a.evidence)),
                a.raised_at,
            ),
        ).fetchone()
        if row:
            ids.append(row[0])
    if ids:
        log.info("raised %d alert(s) for farm %s", len(ids), farm_id)
    return ids


def list_alerts(
    conn: psycopg.Connection, *, farm_id: UUID | str | None = None, open_only: bool = True
) -> list[dict[str, Any]]:
    """Alerts, newest first, as plain dicts (id, farm_id, loan_id, code, severity, message, evidence, raised_at)."""
    rows = conn.execute(
        """SELECT id, farm_id, loan_id, code, severity, message, evidence, raised_at, resolved_at FROM credit_alerts
           WHERE (%s::uuid IS NULL OR farm_id = %s::uuid) AND (NOT %s OR resolved_at IS NULL)
           ORDER BY raised_at DESC, id DESC""",
        (farm_id and str(farm_id), farm_id and str(farm_id), open_only),
    ).fetchall()
    keys = ("id", "farm_id", "loan_id", "code", "severity", "message", "evidence", "raised_at", "resolved_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]
