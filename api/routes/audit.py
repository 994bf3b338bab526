"""The transparency log, public: its latest signed checkpoint and consistency proofs between tree sizes.

Both answer hashes only (no entry's content), so they need no API key: witnesses and lenders' auditors fetch
them to check that the log they were shown only ever grows. Receipts for the API's own decisions, loans and
repayments are built by :func:`receipt_for` when the response is.
"""

from __future__ import annotations

import base64
from typing import Annotated

import psycopg
from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError

from api.config import ApiConfig
from api.deps import Conn, CurrentOrg, Settings, require
from api.errors import ApiError
from api.schemas import (
    AuditConsistencyPublic,
    AuditEntryPublic,
    AuditReceiptPublic,
    AuditSignaturesPublic,
    CosignatureCreate,
)
from credit.errors import AuditError
from credit.transparency import Receipt, check_receipt_proof
from credit.tree_head import TreeHead
from usecases.audit import consistency_proof, current_size, prove_entry, signed_hashes
from usecases.audit_cosignatures import CosignatureRefused, accept_cosignature, checkpoint_with_cosignatures
from usecases.checkpoint_files import CheckpointIssuer, checkpoint_covering, latest_checkpoint

router = APIRouter(prefix="/v1/audit", tags=["audit"])

CHECKPOINT_MEDIA_TYPE = "text/plain; charset=utf-8"


def checkpoint_issuer(settings: ApiConfig) -> CheckpointIssuer:
    """The issuer the API's settings describe."""
    return CheckpointIssuer.from_config(settings)


def proven_receipt(conn: psycopg.Connection, settings: ApiConfig, seq: int) -> tuple[Receipt, TreeHead]:
    """The receipt of committed entry ``seq``, checked as a lender would, and the checkpoint it is proven against.

    It is proven against the latest checkpoint; when that does not hold the entry, one is signed now. Call it
    after the commit that wrote the entry: a checkpoint never vouches for an uncommitted entry.

    Raises:
        AuditError: the entry is not in the log, or the receipt does not verify (the log was tampered with).
    """
    issuer = checkpoint_issuer(settings)
    head, note = checkpoint_covering(conn, issuer, seq)
    made = prove_entry(conn, seq=seq, head=head, checkpoint=note)
    conn.commit()  # the receipt's reads end their transaction: no snapshot is held while the response goes out
    check_receipt_proof(made, head)  # the hashes, as a lender checks them; the signatures are the server's own
    return made, head


def receipt_for(conn: psycopg.Connection, settings: ApiConfig, seq: int) -> AuditReceiptPublic:
    """The receipt of committed entry ``seq`` as the API returns it (see :func:`proven_receipt`).

    Raises:
        ApiError: 500 when the log does not extend its published checkpoint: the server's fault, not the
            caller's; what was asked for is stored, and no checkpoint is signed that would fork the log.
    """
    try:
        made, _ = proven_receipt(conn, settings, seq)
    except AuditError as exc:
        conn.rollback()
        raise ApiError(
            500,
            "Audit log inconsistent",
            f"The request was recorded as audit entry {seq}, but no receipt can be given: {exc}. "
            "An operator must check the log (farmtrust audit verify --since the published checkpoint).",
        ) from None
    e = made.entry
    return AuditReceiptPublic(
        entry=AuditEntryPublic(
            seq=e.seq,
            kind=e.kind,
            created_at=e.created_at,
            payload=e.payload_json,
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
            signature=None if e.signature is None else e.signature.hex(),
        ),
        index=made.index,
        leaf_hash=made.leaf_hash.hex(),
        inclusion_proof=[p.hex() for p in made.proof],
        checkpoint=made.checkpoint,
    )


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


@router.get(
    "/checkpoint",
    operation_id="audit_checkpoint",
    response_class=Response,
    responses={200: {"description": "The signed checkpoint note", "content": {"text/plain": {}}}},
)
def checkpoint(settings: Settings, conn: Conn) -> Response:
    """The latest signed C2SP tlog-checkpoint note, with the witnesses' cosignature lines it has received."""
    latest = latest_checkpoint(settings.audit_checkpoint_dir)
    if latest is None:
        raise ApiError(404, "Not found", "No audit checkpoint has been issued yet.")
    return Response(checkpoint_with_cosignatures(conn, latest[0], latest[1]), media_type=CHECKPOINT_MEDIA_TYPE)


@router.post("/cosignatures", status_code=201, operation_id="post_audit_cosignature")
def post_cosignature(body: CosignatureCreate, principal: CurrentOrg, conn: Conn, settings: Settings) -> dict[str, int]:
    """A witness's tlog-cosignature/v1 of a checkpoint this log signed; kept and served with the checkpoint."""
    require(principal, "lender", "cooperative", "admin")
    try:
        head = accept_cosignature(
            conn, checkpoint_issuer(settings), cosigned=body.checkpoint, witness_vkey=body.witness_key
        )
    except CosignatureRefused as exc:
        raise RequestValidationError([{"loc": ("body", exc.field), "msg": str(exc), "type": "value_error"}]) from None
    return {"tree_size": head.size}


MAX_SIGNATURES = 10_000
"""The most entries one ``GET /v1/audit/signatures`` answers (a witness pages through more)."""


@router.get("/signatures", operation_id="audit_signatures")
def signatures(
    conn: Conn,
    from_size: Annotated[int, Query(alias="from", ge=0, description="the older tree size")],
    to_size: Annotated[int, Query(alias="to", ge=0, description="the newer tree size")],
) -> AuditSignaturesPublic:
    """The entries ``from + 1 .. to`` (seq, kind, chain hash, signature) and the older tree's subtree hashes.

    A witness rebuilds the newer root from these and checks every entry's signature by the log's key.
    """
    if to_size - from_size > MAX_SIGNATURES:
        raise _invalid("to", f"to={to_size} is more than {MAX_SIGNATURES} entries after from={from_size}")
    size = current_size(conn)
    if to_size > size:
        raise _invalid("to", f"to={to_size} is above the log's size ({size} entries)")
    if from_size > to_size:
        raise _invalid("from", f"from={from_size} is above to={to_size}: a log never shrinks")
    frontier, entries = signed_hashes(conn, start=from_size, end=to_size)
    return AuditSignaturesPublic.model_validate(
        {
            "from": from_size,
            "to": to_size,
            "frontier": [base64.b64encode(h).decode() for h in frontier],
            "entries": [
                {
                    "seq": e.seq,
                    "kind": e.kind,
                    "entry_hash": e.entry_hash,
                    "signature": None if e.signature is None else e.signature.hex(),
                }
                for e in entries
            ],
        }
    )


@router.get("/consistency", operation_id="audit_consistency")
def consistency(
    conn: Conn,
    from_size: Annotated[int, Query(alias="from", ge=0, description="the older tree size")],
    to_size: Annotated[int, Query(alias="to", ge=0, description="the newer tree size")],
) -> AuditConsistencyPublic:
    """The RFC 9162 proof that the tree of ``to`` entries extends the tree of ``from`` (base64 hashes)."""
    size = current_size(conn)
    if to_size > size:
        raise _invalid("to", f"to={to_size} is above the log's size ({size} entries)")
    if from_size > to_size:
        raise _invalid("from", f"from={from_size} is above to={to_size}: a log never shrinks")
    proof = consistency_proof(conn, from_size, to_size)
    return AuditConsistencyPublic.model_validate(
        {"from": from_size, "to": to_size, "proof": [base64.b64encode(p).decode() for p in proof]}
    )
