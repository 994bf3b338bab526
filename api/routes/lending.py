"""Lenders: credit limits for consenting farms, loans, repayments and portfolio at risk.

HTTP only: each route checks the caller, translates the request into a use case's arguments and
its result into a response. The SQL is in ``store/``, the orchestration in ``usecases/``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any
from uuid import UUID

import psycopg
from fastapi import APIRouter, Header, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError

from api.deps import Conn, CurrentOrg, Settings, require, visible_farm
from api.errors import ApiError
from api.routes.audit import checkpoint_issuer, receipt_for
from api.schemas import (
    CreditLimitPublic,
    LoanCreate,
    LoanPublic,
    LoanWriteOffCreate,
    LoanWriteOffPublic,
    PortfolioPublic,
    RepaymentCreate,
)
from credit.decision import Decision
from credit.money import Amount, minor_unit
from store.loans import LoanRef, find_decision, find_loan
from store.tenants import Principal, visible_farm_ids
from usecases import idempotency, loans
from usecases.credit_limits import decide_credit_limit, record_credit_limit
from usecases.errors import IdempotencyKeyReusedError

router = APIRouter(prefix="/v1", tags=["lending"])

IdempotencyKey = Annotated[
    str, Header(alias="Idempotency-Key", min_length=8, max_length=200, description="unique per intended request")
]


def _invalid(field: str, message: str) -> RequestValidationError:
    """A 422 naming ``body/<field>``, like the ones the request schemas give."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _check_minor_unit(field: str, value: Decimal, currency: str) -> None:
    """422 when ``value`` has more decimals than ``currency``'s minor unit (it would not be stored as sent)."""
    places = minor_unit(currency)
    if value != value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):
        raise _invalid(field, f"{currency} has {places} decimal places; {value} has more")


def _replay(conn: psycopg.Connection, principal: Principal, key: str, request_hash: str) -> Any | None:
    """The stored response for ``key`` (409 when the key was used for another request)."""
    try:
        return idempotency.replay(conn, organization_id=principal.organization_id, key=key, request_hash=request_hash)
    except IdempotencyKeyReusedError as exc:
        raise ApiError(409, "Conflict", str(exc)) from None


@router.post("/farms/{farm_id}/credit-limit", status_code=status.HTTP_201_CREATED, operation_id="request_credit_limit")
def credit_limit(
    farm_id: UUID,
    request: Request,
    principal: CurrentOrg,
    conn: Conn,
    settings: Settings,
    idempotency_key: IdempotencyKey,
) -> CreditLimitPublic:
    """Decide a credit limit from the farm's verified record (consent with scope 'credit' required).

    The answer carries the decision's receipt: its audit entry, inclusion proof and signed checkpoint. A
    retry with the same Idempotency-Key returns the same decision, proven against the latest checkpoint.
    """
    require(principal, "lender")
    visible_farm(conn, principal, farm_id, scope="credit")
    request_hash = idempotency.request_hash("credit-limit", str(farm_id))
    stored = _replay(conn, principal, idempotency_key, request_hash)
    if stored is not None:
        replayed = CreditLimitPublic.model_validate(stored)
        conn.commit()
        replayed.receipt = receipt_for(conn, settings, replayed.audit_entry_seq)
        return replayed
    limit = decide_credit_limit(
        conn,
        farm_id=farm_id,
        as_of=datetime.now(UTC),
        policy=request.app.state.policy,
        record=False,
    )
    draft = _response(farm_id, limit.decision)
    remembered = jsonable_encoder(draft)
    # From the audit append to the commit this request holds the audit log's lock, which every other
    # decision waits for: the response is prepared before it, and in pipeline mode the decision row, the
    # idempotency key and the commit go to the server together, in one round trip after the append.
    with conn.pipeline():
        limit = record_credit_limit(
            conn,
            limit=limit,
            policy=request.app.state.policy,
            signer=checkpoint_issuer(settings).entry_signer(),
            lender_organization_id=principal.organization_id,
        )
        assert limit.decision_id is not None and limit.audit_entry is not None
        recorded = {
            "decision_id": limit.decision_id,
            "audit_entry_seq": limit.audit_entry.seq,
            "audit_receipt": limit.audit_entry.entry_hash,
        }
        body = draft.model_copy(update=recorded)
        remembered.update(recorded, decision_id=str(limit.decision_id))
        idempotency.remember(
            conn,
            organization_id=principal.organization_id,
            key=idempotency_key,
            request_hash=request_hash,
            response=remembered,
        )
        conn.commit()
    # after the commit: a checkpoint holds committed entries only
    body.receipt = receipt_for(conn, settings, body.audit_entry_seq)
    return body


def _response(farm_id: UUID, decision: Decision) -> CreditLimitPublic:
    """The response for ``decision`` before it is recorded (its id and audit entry are filled in then)."""
    return CreditLimitPublic(
        decision_id=UUID(int=0),
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
        audit_entry_seq=0,
        audit_receipt="",
    )


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
    lender, farm_ids = _scope(conn, principal)
    loan = find_loan(conn, loan_id=loan_id, lender_organization_id=lender, farm_ids=farm_ids)
    if loan is None:
        raise ApiError(404, "Not found", f"Loan {loan_id} does not exist.")
    return loan


def _loan_public(conn: psycopg.Connection, request: Request, loan_id: UUID, farm_id: UUID) -> LoanPublic:
    schedule = loans.load_schedule(conn, loan_id=loan_id)
    status_ = loans.get_loan_status(
        conn, loan_id=loan_id, as_of=datetime.now(UTC).date(), policy=request.app.state.policy
    )
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
def open_loan(body: LoanCreate, request: Request, principal: CurrentOrg, conn: Conn, settings: Settings) -> LoanPublic:
    """Open a loan from an approved decision of a consenting farm; the schedule and the loan's receipt are returned."""
    require(principal, "lender")
    decision = find_decision(conn, decision_id=body.decision_id, lender_organization_id=principal.organization_id)
    if decision is None:
        raise ApiError(404, "Not found", f"Decision {body.decision_id} does not exist.")
    farm_id = decision.farm_id
    visible_farm(conn, principal, farm_id, scope="credit")
    _check_minor_unit("principal", body.principal, decision.currency)
    opened = loans.open_loan(
        conn,
        decision_id=body.decision_id,
        principal=Amount(body.principal, decision.currency),
        rate=body.rate,
        months=body.months,
        kind=body.kind,
        start=body.start,
        policy=request.app.state.policy,
        signer=checkpoint_issuer(settings).entry_signer(),
        harvest_months=tuple(body.harvest_months),
        reviewed_by=body.reviewed_by,
        lender_organization_id=principal.organization_id,
    )
    public = _loan_public(conn, request, opened.loan_id, farm_id)
    conn.commit()
    public.receipt = receipt_for(conn, settings, opened.audit_entry.seq)
    return public


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
    settings: Settings,
    idempotency_key: IdempotencyKey,
) -> dict[str, Any]:
    """Post a repayment once per Idempotency-Key; the same key again returns the first result.

    The answer carries the repayment's receipt (its audit entry, inclusion proof and signed checkpoint).
    """
    require(principal, "lender")
    loan = _loan_ref(conn, principal, loan_id)
    _check_minor_unit("amount", body.amount, loan.currency)
    if body.paid_at.astimezone(UTC).date() < loan.start_date:
        raise _invalid("paid_at", f"paid_at {body.paid_at.isoformat()} is before the loan started ({loan.start_date})")
    posted = loans.post_repayment(
        conn,
        loan_id=loan_id,
        idempotency_key=idempotency_key,
        amount=Amount(body.amount, loan.currency),
        paid_at=body.paid_at,
        policy=request.app.state.policy,
        signer=checkpoint_issuer(settings).entry_signer(),
        lender_organization_id=principal.organization_id,
    )
    conn.commit()
    return {
        "repayment_id": posted.repayment_id,
        "created": posted.created,
        "allocation": {k: str(v) for k, v in posted.allocation.items()},
        "days_past_due": posted.status.days_past_due,
        "bucket": posted.status.bucket,
        "receipt": jsonable_encoder(receipt_for(conn, settings, posted.audit_seq)),
    }


@router.post("/loans/{loan_id}/write-off", status_code=status.HTTP_201_CREATED, operation_id="write_off_loan")
def write_off(
    loan_id: UUID, body: LoanWriteOffCreate, principal: CurrentOrg, conn: Conn, settings: Settings
) -> LoanWriteOffPublic:
    """Write a loan off from ``on`` (its lender, or an admin): from that day it is out of PAR and close of day.

    Audited, with the entry's receipt. The same day again returns the first write-off (``created`` false);
    another day is a 409.
    """
    require(principal, "lender", "admin")
    loan = _loan_ref(conn, principal, loan_id)
    if body.on < loan.start_date:
        raise _invalid("on", f"on {body.on} is before the loan started ({loan.start_date})")
    done = loans.write_off(
        conn,
        loan_id=loan_id,
        on=body.on,
        signer=checkpoint_issuer(settings).entry_signer(),
        lender_organization_id=principal.organization_id if principal.kind == "lender" else None,
    )
    conn.commit()
    receipt = receipt_for(conn, settings, done.audit_seq) if done.audit_seq is not None else None
    return LoanWriteOffPublic(
        loan_id=done.loan_id, written_off_on=done.written_off_on, created=done.created, receipt=receipt
    )


@router.get("/portfolio", operation_id="portfolio")
def portfolio(request: Request, principal: CurrentOrg, conn: Conn) -> PortfolioPublic:
    """PAR30 and PAR90 over the caller's loans on farms that consent to it now (every loan for an admin).

    Loans written off by today are out of it, as in close of day.
    """
    require(principal, "lender", "admin")
    lender, farm_ids = _scope(conn, principal)
    par = loans.portfolio(
        conn,
        as_of=datetime.now(UTC).date(),
        policy=request.app.state.policy,
        lender_organization_id=lender,
        farm_ids=farm_ids,
    ).par
    return PortfolioPublic(loans=par.loans, outstanding=par.outstanding.number, par30=par.par30, par90=par.par90)
