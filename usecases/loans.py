"""Lending: open a loan from a decision, post a repayment once, a loan's status, and portfolio at risk."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import psycopg

from credit.audit import AuditEntry
from credit.entry_signing import EntrySigner
from credit.errors import PaymentError
from credit.lending import check_loan_opening
from credit.money import Amount
from credit.policy import Policy
from credit.schedule import Schedule, build_schedule, stored_schedule
from credit.servicing import (
    LoanStatus,
    Par,
    Payment,
    PaymentAllocation,
    check_payment_amount,
    loan_status,
    portfolio_par,
)
from store.audit import append_entry
from store.loan_states import find_write_off, write_off_loan
from store.loans import (
    IdempotencyConflictError,
    LoanNotFoundError,
    close_loan,
    find_repayment,
    insert_loan,
    insert_repayment,
    load_allocation,
    load_instalments,
    load_loan_terms,
    load_payments,
    loan_ids,
    lock_decision,
    lock_loan,
    open_principal,
    replace_allocations,
    written_off_loan_ids,
)
from usecases.errors import WriteOffConflictError, WriteOffDateError
from vocabulary.lending import ALLOCATION_COMPONENTS

log = logging.getLogger(__name__)

__all__ = [
    "LoanOpened",
    "LoanWrittenOff",
    "Portfolio",
    "RepaymentPosted",
    "get_loan_status",
    "load_schedule",
    "open_loan",
    "portfolio",
    "post_repayment",
    "write_off",
]


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
class LoanWrittenOff:
    """A write-off as stored; ``created`` is False when the loan was already written off from that day."""

    loan_id: UUID
    written_off_on: date
    created: bool
    audit_seq: int | None
    """The audit entry of the write-off (None for one stored before write-offs were audited)."""


@dataclass(frozen=True)
class Portfolio:
    """PAR over a set of loans, each loan's status by id (in the portfolio's order), and those written off.

    Written-off loans keep their status but are out of PAR, as in close of day.
    """

    par: Par
    statuses: dict[UUID, LoanStatus]
    written_off: frozenset[UUID]


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
    signer: EntrySigner,
    harvest_months: tuple[int, ...] = (),
    grace_months: int = 0,
    upfront_fee: Amount | None = None,
    reviewed_by: str | None = None,
    lender_organization_id: UUID | None = None,
) -> LoanOpened:
    """Open a loan from a stored decision: check the lending rules, build the schedule, store it and audit it.

    The loan belongs to the decision's lender; ``lender_organization_id``, when given, must be that
    lender. The decision's row stays locked until the caller's transaction ends, so loans opened at
    once from one decision are checked one after the other: the principal of its active loans never
    exceeds its limit.

    Raises:
        store.loans.LoanNotFoundError: no decision has ``decision_id`` (for this lender).
        credit.errors.LoanRefusedError: a lending rule refuses the loan (:func:`credit.lending.check_loan_opening`).
        credit.ScheduleError: principal, rate, tenor or harvest months are invalid.
    """
    terms = lock_decision(conn, decision_id=decision_id, lender_organization_id=lender_organization_id)
    if terms is None:
        raise LoanNotFoundError(f"decision_id={decision_id} does not exist; decide a limit first")
    check_loan_opening(
        decision_id=decision_id,
        status=terms.status,
        limit=Amount(terms.limit_amount, terms.currency),
        principal=principal,
        open_principal=open_principal(conn, decision_id=decision_id),
        reviewed_by=reviewed_by,
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
        signer=signer,
        kind="loan.opened",
        payload={
            "decision_id": str(decision_id),
            "farm_id": str(terms.farm_id),
            "reviewed_by": reviewed_by,
            "schedule": schedule.to_plain(),
            "policy_version": policy.version,
        },
    )
    loan_id = insert_loan(
        conn,
        farm_id=terms.farm_id,
        decision_id=decision_id,
        schedule=schedule,
        policy_version=policy.version,
        audit_seq=entry.seq,
        lender_organization_id=terms.lender_organization_id,
    )
    log.info("opened loan %s for farm %s: %s over %d months (%s)", loan_id, terms.farm_id, principal, months, kind)
    return LoanOpened(loan_id, schedule, entry)


def load_schedule(conn: psycopg.Connection, *, loan_id: UUID | str) -> Schedule:
    """The schedule a loan was opened with, as stored.

    Raises:
        store.loans.LoanNotFoundError: no loan has ``loan_id``.
    """
    terms = load_loan_terms(conn, loan_id=loan_id)
    return stored_schedule(
        kind=terms.kind,
        principal=Amount(terms.principal, terms.currency),
        rate=terms.rate,
        months=terms.months,
        start=terms.start_date,
        grace_months=terms.grace_months,
        harvest_months=tuple(terms.harvest_months),
        upfront_fee=Amount(terms.upfront_fee, terms.currency),
        instalments=tuple(load_instalments(conn, loan_id=loan_id)),
        apr=terms.apr,
    )


def _status(schedule: Schedule, payments: list[Payment], as_of: date, policy: Policy) -> LoanStatus:
    return loan_status(
        schedule=schedule,
        payments=payments,
        as_of=as_of,
        order=policy.allocation_order,
        grace_days=policy.grace_days,
        late_fee=policy.late_fee.number,
        strategy=policy.allocation_strategy,
        recalculation=policy.prepayment_recalculation,
    )


def get_loan_status(conn: psycopg.Connection, *, loan_id: UUID | str, as_of: date, policy: Policy) -> LoanStatus:
    """Days past due, bucket, arrears and outstanding principal of a loan on ``as_of``, under ``policy``.

    Raises:
        store.loans.LoanNotFoundError: no loan has ``loan_id``.
    """
    return _status(load_schedule(conn, loan_id=loan_id), load_payments(conn, loan_id=loan_id), as_of, policy)


def post_repayment(
    conn: psycopg.Connection,
    *,
    loan_id: UUID | str,
    idempotency_key: str,
    amount: Amount,
    paid_at: datetime,
    policy: Policy,
    signer: EntrySigner,
    lender_organization_id: UUID | None = None,
) -> RepaymentPosted:
    """Record a repayment once per ``idempotency_key``; posting the same key again returns the first result.

    The loan's row stays locked until the caller's transaction ends, so repayments of one loan are
    allocated one after the other. Allocations are derived data: posting any repayment, back-dated or
    not, replays the loan's whole ledger and replaces the stored allocation of every repayment of the
    loan with the replay's, in the same transaction.

    Raises:
        credit.PaymentError: ``paid_at`` has no time zone, or the amount is not positive, finer than the
            currency's minor unit, or in another currency.
        store.loans.LoanNotFoundError: no loan has ``loan_id`` (of ``lender_organization_id``, when given).
        store.loans.IdempotencyConflictError: the key is empty, or was used with another amount or time.
    """
    if not idempotency_key:
        raise IdempotencyConflictError("idempotency_key is empty; send a unique key per payment, e.g. the M-Pesa id")
    if paid_at.tzinfo is None:
        raise PaymentError(f"paid_at={paid_at.isoformat()} has no time zone; send a timezone-aware time")
    check_payment_amount(amount)
    if lock_loan(conn, loan_id=loan_id, lender_organization_id=lender_organization_id) is None:
        raise LoanNotFoundError(f"loan_id={loan_id} does not exist")
    paid_on = paid_at.astimezone(UTC).date()
    existing = find_repayment(conn, loan_id=loan_id, idempotency_key=idempotency_key)
    if existing is not None:
        if existing.amount != amount.number or existing.currency != amount.currency or existing.paid_at != paid_at:
            raise IdempotencyConflictError(
                f"idempotency_key={idempotency_key!r} was already used for {existing.amount} {existing.currency} at "
                f"{existing.paid_at.isoformat()}; use a new key for a different payment"
            )
        status = get_loan_status(conn, loan_id=loan_id, as_of=paid_on, policy=policy)
        allocation = load_allocation(conn, repayment_id=existing.id)
        return RepaymentPosted(existing.id, False, allocation, status, existing.audit_seq)
    payment = Payment(paid_on, idempotency_key, amount)
    schedule = load_schedule(conn, loan_id=loan_id)
    payments = [*load_payments(conn, loan_id=loan_id), payment]
    status = _status(schedule, payments, paid_on, policy)
    ledger = _status(schedule, payments, max(p.paid_on for p in payments), policy)
    mine = next(p for p in ledger.payments if p.key == idempotency_key)
    parts = _parts(mine)
    entry = append_entry(
        conn,
        signer=signer,
        kind="loan.repayment",
        payload={
            "loan_id": str(loan_id),
            "idempotency_key": idempotency_key,
            "amount": amount,
            "paid_at": paid_at,
            "allocation": parts,
            "days_past_due": status.days_past_due,
        },
    )
    repayment_id = insert_repayment(
        conn,
        loan_id=loan_id,
        idempotency_key=idempotency_key,
        amount=amount,
        paid_at=paid_at,
        audit_seq=entry.seq,
    )
    replace_allocations(conn, loan_id=loan_id, allocations={p.key: _parts(p) for p in ledger.payments})
    if ledger.closed:
        close_loan(conn, loan_id=loan_id)
    log.info("posted repayment %s of %s to loan %s", idempotency_key, amount, loan_id)
    return RepaymentPosted(repayment_id, True, parts, status, entry.seq)


def _parts(allocated: PaymentAllocation) -> dict[str, Decimal]:
    return {c: getattr(allocated.allocation, c) for c in ALLOCATION_COMPONENTS}


def portfolio(
    conn: psycopg.Connection,
    *,
    as_of: date,
    policy: Policy,
    lender_organization_id: UUID | None = None,
    farm_ids: list[UUID] | None = None,
    cooperative_id: UUID | str | None = None,
) -> Portfolio:
    """PAR30 and PAR90 on ``as_of`` over the loans of a lender, on some farms, of a cooperative's farms.

    A filter that is None keeps every loan. Only loans in the policy's currency and not written off
    on ``as_of`` (as close of day counts them) count towards PAR; every loan's status is returned.
    """
    ids = loan_ids(
        conn, lender_organization_id=lender_organization_id, farm_ids=farm_ids, cooperative_id=cooperative_id
    )
    statuses = {loan_id: get_loan_status(conn, loan_id=loan_id, as_of=as_of, policy=policy) for loan_id in ids}
    written_off = frozenset(written_off_loan_ids(conn, loan_ids=ids, as_of=as_of))
    par = portfolio_par(
        [
            s
            for loan_id, s in statuses.items()
            if s.outstanding_principal.currency == policy.currency and loan_id not in written_off
        ],
        currency=policy.currency,
    )
    return Portfolio(par, statuses, written_off)


def write_off(
    conn: psycopg.Connection,
    *,
    loan_id: UUID | str,
    on: date,
    signer: EntrySigner,
    lender_organization_id: UUID | None = None,
) -> LoanWrittenOff:
    """Write the loan off from ``on`` and audit it: from that day it is out of the portfolio and its PAR.

    Writing it off again from the same day returns the first write-off; the loan's row stays locked
    until the caller's transaction ends.

    Raises:
        store.loans.LoanNotFoundError: no loan has ``loan_id`` (of ``lender_organization_id``, when given).
        usecases.errors.WriteOffDateError: ``on`` is before the loan started.
        usecases.errors.WriteOffConflictError: the loan is already written off from another day.
    """
    loan = lock_loan(conn, loan_id=loan_id, lender_organization_id=lender_organization_id)
    if loan is None:
        raise LoanNotFoundError(f"loan_id={loan_id} does not exist")
    if on < loan.start_date:
        raise WriteOffDateError(f"on={on} is before the loan started ({loan.start_date}); write it off from then on")
    existing = find_write_off(conn, loan_id=loan.loan_id)
    if existing is not None:
        if existing[0] != on:
            raise WriteOffConflictError(
                f"loan_id={loan.loan_id} is already written off from {existing[0]}; a write-off is not moved"
            )
        return LoanWrittenOff(loan.loan_id, on, False, existing[1])
    entry = append_entry(
        conn,
        signer=signer,
        kind="loan.written_off",
        payload={"loan_id": str(loan.loan_id), "farm_id": str(loan.farm_id), "written_off_on": on},
    )
    write_off_loan(conn, loan_id=loan.loan_id, on=on, audit_seq=entry.seq)
    log.info("wrote off loan %s from %s", loan.loan_id, on)
    return LoanWrittenOff(loan.loan_id, on, True, entry.seq)
