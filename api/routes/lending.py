"""Lenders: credit limits for consenting farms, loans, repayments, alerts and portfolio at risk."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Header, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError

from api.deps import Conn, CurrentOrg, require, visible_farm
from api.errors import ApiError
from api.schemas import CreditLimitPublic, LoanCreate, LoanPublic, PortfolioPublic, RepaymentCreate
from store.tenants import Principal, visible_farm_ids

if TYPE_CHECKING:
    from store.loans import LoanRef

router = APIRouter(prefix="/v1", tags=["lending"])

IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=8, max_length=200, description="unique per intended request")
]


def _replay(conn: psycopg.Connection, principal: Principal, key: str, request_hash: str) -> dict[str, Any] | None:
    """The stored response for ``key``, after taking a lock so concurrent retries wait for the first."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{principal.organization_id}:{key}",))
    row = conn.execute(
        "SELECT request_hash, response FROM idempotency_keys WHERE organization_id = %s AND key = %s",
        (principal.organization_id, key),
    ).fetchone()
    if row is None:
        return None
    if row[0] != request_hash:
        raise ApiError(409, "Conflict", f"Idempotency-Key {key!r} was already used for a different request.")
    return row[1]  # type: ignore[no-any-return]


def _remember(conn: psycopg.Connection, principal: Principal, key: str, request_hash: str, body: Any) -> None:
    conn.execute(
        """INSERT INTO idempotency_keys (organization_id, key, request_hash, status_code, response)
           VALUES (%s, %s, %s, 201, %s)""",
        (principal.organization_id, key, request_hash, json.dumps(jsonable_encoder(body))),
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    """A 422 naming ``body/<field>``, like the ones the request schemas give."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _check_minor_unit(field: str, value: Decimal, currency: str) -> None:
    """422 when ``value`` has more decimals than ``currency``'s minor unit (it would not be stored as sent)."""
    from credit.money import minor_unit

    places = minor_unit(currency)
    if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise _invalid(field, f"{currency} has {places} decimal places; {value} has more")


def _hash(*parts: object) -> str:
    return hashlib.sha256(json.dumps(jsonable_encoder(parts), sort_keys=True).encode()).hexdigest()


@router.post("/farms/{farm_id}/credit-limit", status_code=status.HTTP_201_CREATED, operation_id="request_credit_limit")
def credit_limit(
    farm_id: UUID, request: Request, principal: CurrentOrg, conn: Conn, idempotency_key: IdempotencyKey
) -> CreditLimitPublic:
    """Decide a credit limit from the farm's verified record (consent with scope 'credit' required)."""
    from credit import decide_limit
    from store.credit_records import load_farm_record, record_decision

    require(principal, "lender")
    visible_farm(conn, principal, farm_id, scope="credit")
    request_hash = _hash("credit-limit", str(farm_id))
    stored = _replay(conn, principal, idempotency_key, request_hash)
    if stored is not None:
        return CreditLimitPublic.model_validate(stored)
    policy = request.app.state.policy
    now = datetime.now(UTC)
    record = load_farm_record(conn, farm_id=farm_id, as_of=now, window_days=policy.window_days)
    decision = decide_limit(record, policy, as_of=now)
    decision_id, entry = record_decision(
        conn, decision=decision, record=record, policy=policy, lender_organization_id=principal.organization_id
    )
    body = CreditLimitPublic(
        decision_id=decision_id,
        farm_id=farm_id,
        status=decision.status,
        limit=decision.limit.number,
        currency=decision.limit.currency,
        score=decision.score,
        fraud_score=decision.fraud_score,
        verification_score=decision.verification_score,
        binding_factor=decision.binding_factor,
        reasons=[{"code": r.code, "message": r.message, "source": r.source} for r in decision.reasons],
        missing=list(decision.missing),
        counterfactuals=[c.message for c in decision.counterfactuals],
        policy_version=decision.policy_version,
        record_hash=decision.record_hash,
        audit_entry_seq=entry.seq,
        audit_receipt=entry.entry_hash,
    )
    _remember(conn, principal, idempotency_key, request_hash, body)
    conn.commit()  # now: the audit log's append lock is held until the commit, not while the response is built
    return body


def _scope(conn: psycopg.Connection, principal: Principal) -> tuple[UUID | None, list[UUID] | None]:
    """The caller's lender filter and farm filter (None: no filter).

    A lender sees its own loans on farms that consent to it now, a cooperative the loans of its
    member farms, an admin every loan.
    """
    if principal.kind == "admin":
        return None, None
    lender = principal.organization_id if principal.kind == "lender" else None
    return lender, visible_farm_ids(conn, principal=principal)


def _loan_ref(conn: psycopg.Connection, principal: Principal, loan_id: UUID) -> LoanRef:
    """The loan, or 404 when it is not the caller's (which says nothing of whose it is)."""
    from store.loans import find_loan

    lender, farm_ids = _scope(conn, principal)
    loan = find_loan(conn, loan_id=loan_id, lender_organization_id=lender, farm_ids=farm_ids)
    if loan is None:
        raise ApiError(404, "Not found", f"Loan {loan_id} does not exist.")
    return loan


def _loan_public(conn: psycopg.Connection, request: Request, loan_id: UUID, farm_id: UUID) -> LoanPublic:
    from store.loans import get_loan_status, load_schedule

    schedule = load_schedule(conn, loan_id=loan_id)
    status_ = get_loan_status(conn, loan_id=loan_id, as_of=datetime.now(UTC).date(), policy=request.app.state.policy)
    return LoanPublic(
        loan_id=loan_id,
        farm_id=farm_id,
        schedule=schedule.to_plain()["instalments"],
        apr=schedule.apr,
        days_past_due=status_.days_past_due,
        bucket=status_.bucket,
        outstanding_principal=status_.outstanding_principal.number,
    )


@router.post("/loans", status_code=status.HTTP_201_CREATED, operation_id="open_loan")
def open_loan(body: LoanCreate, request: Request, principal: CurrentOrg, conn: Conn) -> LoanPublic:
    """Open a loan from an approved decision of a consenting farm; the schedule is returned."""
    from credit import Amount
    from store.loans import find_decision
    from store.loans import open_loan as store_open_loan

    require(principal, "lender")
    decision = find_decision(conn, decision_id=body.decision_id, lender_organization_id=principal.organization_id)
    if decision is None:
        raise ApiError(404, "Not found", f"Decision {body.decision_id} does not exist.")
    farm_id = decision.farm_id
    visible_farm(conn, principal, farm_id, scope="credit")
    _check_minor_unit("principal", body.principal, decision.currency)
    opened = store_open_loan(
        conn,
        decision_id=body.decision_id,
        principal=Amount(body.principal, decision.currency),
        rate=body.rate,
        months=body.months,
        kind=body.kind,
        start=body.start,
        policy=request.app.state.policy,
        harvest_months=tuple(body.harvest_months),
        reviewed_by=body.reviewed_by,
        lender_organization_id=principal.organization_id,
    )
    return _loan_public(conn, request, opened.loan_id, farm_id)


@router.get("/loans/{loan_id}", operation_id="get_loan")
def get_loan(loan_id: UUID, request: Request, principal: CurrentOrg, conn: Conn) -> LoanPublic:
    """A loan's schedule and status (days past due, bucket)."""
    return _loan_public(conn, request, loan_id, _loan_ref(conn, principal, loan_id).farm_id)


@router.post("/loans/{loan_id}/repayments", status_code=status.HTTP_201_CREATED, operation_id="post_repayment")
def repay(
    loan_id: UUID,
    body: RepaymentCreate,
    request: Request,
    principal: CurrentOrg,
    conn: Conn,
    idempotency_key: IdempotencyKey,
) -> dict[str, Any]:
    """Post a repayment once per Idempotency-Key; the same key again returns the first result."""
    from credit import Amount
    from store.loans import post_repayment

    require(principal, "lender")
    loan = _loan_ref(conn, principal, loan_id)
    _check_minor_unit("amount", body.amount, loan.currency)
    if body.paid_at.astimezone(UTC).date() < loan.start_date:
        raise _invalid("paid_at", f"paid_at {body.paid_at.isoformat()} is before the loan started ({loan.start_date})")
    posted = post_repayment(
        conn,
        loan_id=loan_id,
        idempotency_key=idempotency_key,
        amount=Amount(body.amount, loan.currency),
        paid_at=body.paid_at,
        policy=request.app.state.policy,
        lender_organization_id=principal.organization_id,
    )
    return {
        "repayment_id": posted.repayment_id,
        "created": posted.created,
        "allocation": {k: str(v) for k, v in posted.allocation.items()},
        "days_past_due": posted.status.days_past_due,
        "bucket": posted.status.bucket,
    }


@router.get("/portfolio", operation_id="portfolio")
def portfolio(request: Request, principal: CurrentOrg, conn: Conn) -> PortfolioPublic:
    """PAR30 and PAR90 over the caller's loans on farms that consent to it now (every loan for an admin)."""
    from credit import portfolio_par
    from store.loans import get_loan_status, loan_ids

    require(principal, "lender", "admin")
    policy = request.app.state.policy
    lender, farm_ids = _scope(conn, principal)
    today = datetime.now(UTC).date()
    statuses = [
        get_loan_status(conn, loan_id=loan_id, as_of=today, policy=policy)
        for loan_id in loan_ids(conn, lender_organization_id=lender, farm_ids=farm_ids)
    ]
    par = portfolio_par(statuses, currency=policy.currency)
    return PortfolioPublic(loans=par.loans, outstanding=par.outstanding.number, par30=par.par30, par90=par.par90)
