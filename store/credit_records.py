"""Read farms' production records from the database, and store and read credit decisions.

:func:`read_farm_records` (a batch of farms, one query per table) and :func:`read_farm_record` (one farm)
read the stored inputs of a decision over ``[as_of - window_days, as_of)`` into :class:`credit.FarmRecord`
from the daily rollups (:mod:`store.record_reads`): the daily verified herd, frame hashes, daily sensor
summaries (rounded to 4 decimals at this door, so the record hashes the same after a round trip),
per-device coverage (:mod:`store.coverage`), fields with the latest remote sensing estimate and
cooperative deliveries. The farm's loan history is computed by ``usecases.farm_records``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
from psycopg.rows import dict_row

from credit.audit import AuditEntry
from credit.canonical import canonical_json, sha256_hex
from credit.decision import Decision
from credit.entry_signing import EntrySigner
from credit.policy import Policy
from credit.record import FarmRecord
from store.audit import AUDIT_LOCK_ID, append_entry
from store.errors import StoreError
from store.record_reads import FarmNotFoundError, read_farm_records

log = logging.getLogger(__name__)

__all__ = [
    "DecisionNotFoundError",
    "FarmNotFoundError",
    "PolicyConflictError",
    "StoredDecision",
    "decision_audit_payload",
    "latest_decisions",
    "load_decision",
    "read_farm_record",
    "read_farm_records",
    "record_decision",
    "register_policy",
]


class DecisionNotFoundError(StoreError, LookupError):
    """No credit decision has the given id."""


class PolicyConflictError(StoreError, ValueError):
    """A policy version is already stored with a different text."""


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored: the frozen record, the canonical output text, and the policy text."""

    decision_id: UUID
    farm_id: UUID
    record: FarmRecord
    output: str
    output_hash: str
    policy_text: str
    audit_seq: int


def read_farm_record(
    conn: psycopg.Connection, *, farm_id: UUID | str, as_of: datetime, window_days: int = 60
) -> FarmRecord:
    """Read the stored production record of ``farm_id`` over ``[as_of - window_days, as_of)``, without loan history.

    The one-farm case of :func:`read_farm_records` (the daily rollups, see :mod:`store.record_reads`).

    Raises:
        FarmNotFoundError: no farm has ``farm_id``.
        credit.RecordError: ``as_of`` has no time zone or the window is out of range.
    """
    records = read_farm_records(conn, farm_ids=[farm_id], as_of=as_of, window_days=window_days)
    return next(iter(records.values()))


def register_policy(conn: psycopg.Connection, *, policy: Policy, signer: EntrySigner) -> AuditEntry | None:
    """Store a policy version once (and audit it); return the new audit entry, or None if already stored.

    Raises:
        PolicyConflictError: the version is stored with a different text.
    """
    row = conn.execute("SELECT sha256 FROM credit_policies WHERE version = %s", (policy.version,)).fetchone()
    if row is None:
        # the audit log's lock, then look again: two first decisions at once must not both register it
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_ID,))
        row = conn.execute("SELECT sha256 FROM credit_policies WHERE version = %s", (policy.version,)).fetchone()
    if row is not None:
        if row[0] != policy.sha256:
            raise PolicyConflictError(
                f"policy version {policy.version!r} is already stored with another text; bump `version` in the file"
            )
        return None
    entry = append_entry(
        conn,
        signer=signer,
        kind="policy.registered",
        payload={"version": policy.version, "sha256": policy.sha256, "text": policy.text},
    )
    conn.execute(
        "INSERT INTO credit_policies (version, sha256, body) VALUES (%s, %s, %s)",
        (policy.version, policy.sha256, policy.text),
    )
    log.info("registered credit policy %s (%s)", policy.version, policy.sha256[:12])
    return entry


def decision_audit_payload(
    *, decision: Decision, record: FarmRecord, policy: Policy, output_hash: str
) -> dict[str, object]:
    """The payload of a decision's ``credit.decision`` audit entry (one decision, or a refresh batch's)."""
    return {
        "farm_id": record.farm_id,
        "as_of": record.as_of,
        "record_hash": decision.record_hash,
        "policy_version": policy.version,
        "policy_sha256": policy.sha256,
        "output_hash": output_hash,
        "status": decision.status,
        "limit": decision.limit,
        "score": decision.score,
        "fraud_score": decision.fraud_score,
        "verification_score": decision.verification_score,
    }


def record_decision(
    conn: psycopg.Connection,
    *,
    decision: Decision,
    record: FarmRecord,
    policy: Policy,
    signer: EntrySigner,
    lender_organization_id: UUID | None = None,
) -> tuple[UUID, AuditEntry]:
    """Store a decision with its frozen record and an audit entry; return the decision id and the entry.

    ``lender_organization_id`` is the lender that asked for the decision: only it may open loans from it.

    Every value is prepared before the audit entry is appended: from the append to the commit the
    transaction holds the log's single-appender lock, which every other decision waits for. The decision
    row is inserted without waiting for an answer, so under :meth:`psycopg.Connection.pipeline` it goes
    to the server together with the caller's next statements and its commit (one round trip).

    Raises:
        StoreError: the decision does not belong to ``record`` or ``policy``.
        PolicyConflictError: the policy version is stored with a different text.
    """
    if decision.record_hash != record.record_hash() or decision.policy_sha256 != policy.sha256:
        raise StoreError("decision does not match the record or policy it is stored with; decide again")
    register_policy(conn, policy=policy, signer=signer)
    output = canonical_json(decision)
    output_hash = sha256_hex(output)  # = decision.output_hash(), without serialising twice
    frozen_record = record.canonical
    decision_id = uuid4()
    entry = append_entry(
        conn,
        signer=signer,
        kind="credit.decision",
        payload=decision_audit_payload(decision=decision, record=record, policy=policy, output_hash=output_hash),
    )
    conn.execute(
        """INSERT INTO credit_decisions (id, farm_id, as_of, window_days, policy_version, record_hash, record, output,
               output_hash, status, limit_amount, currency, score, verification_score, fraud_score, audit_seq,
               lender_organization_id)
           VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            decision_id,
            record.farm_id,
            record.as_of,
            record.window_days,
            policy.version,
            decision.record_hash,
            frozen_record,
            output,
            output_hash,
            decision.status,
            decision.limit.number,
            decision.limit.currency,
            decision.score,
            decision.verification_score,
            decision.fraud_score,
            entry.seq,
            lender_organization_id,
        ),
    )
    log.info(
        "recorded decision %s for farm %s: %s %s (audit %d)",
        decision_id,
        record.farm_id,
        decision.status,
        decision.limit,
        entry.seq,
    )
    return decision_id, entry


def load_decision(conn: psycopg.Connection, *, decision_id: UUID | str) -> StoredDecision:
    """A stored decision with its frozen record and policy text.

    Raises:
        DecisionNotFoundError: no decision has ``decision_id``.
    """
    row = conn.execute(
        """SELECT d.id, d.farm_id, d.record, d.output, d.output_hash, p.body, d.audit_seq
           FROM credit_decisions d JOIN credit_policies p ON p.version = d.policy_version WHERE d.id = %s""",
        (str(decision_id),),
    ).fetchone()
    if row is None:
        raise DecisionNotFoundError(f"decision_id={decision_id} does not exist")
    return StoredDecision(row[0], row[1], FarmRecord.from_plain(row[2]), row[3], row[4], row[5], row[6])


def latest_decisions(
    conn: psycopg.Connection, *, farm_ids: list[UUID], lender_organization_id: UUID
) -> list[dict[str, Any]]:
    """The lender's latest decision on each of ``farm_ids``, by farm name, with its stored output (a JSON text).

    Keys: id, farm, decided_at, status, limit, currency, score, verification, fraud, policy, output, audit_seq.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT * FROM (
                   SELECT DISTINCT ON (d.farm_id) d.id, f.name AS farm, d.decided_at, d.status,
                          d.limit_amount AS limit, rtrim(d.currency) AS currency, d.score,
                          d.verification_score AS verification, d.fraud_score AS fraud, d.policy_version AS policy,
                          d.output, d.audit_seq
                   FROM credit_decisions d JOIN farms f ON f.id = d.farm_id
                   WHERE d.farm_id = ANY(%s::uuid[]) AND d.lender_organization_id = %s
                   ORDER BY d.farm_id, d.decided_at DESC) latest
               ORDER BY farm, id""",
            ([str(f) for f in farm_ids], lender_organization_id),
        ).fetchall()
    return rows
