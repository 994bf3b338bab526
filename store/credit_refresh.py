"""The weekly credit refresh's tables: cycles, the farms still to decide, done marks, and batched decision writes.

A cycle (``credit_refresh_cycles``, migration 0085) is one decision time and policy. Its done marks
(``credit_refresh_decisions``) name each farm and lender decided in it with the decision's id; a worker
inserts the marks of its batch before deciding (:func:`claim_pairs`), so a pair that another worker holds
or has committed is skipped, and the marks commit with the decisions. Partitions follow
``ft_farm_partition`` (SHA-256 of the farm id, modulo the number of partitions). Functions never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from credit.audit import AuditEntry
from credit.canonical import canonical_json, sha256_hex
from credit.decision import Decision
from credit.entry_signing import EntrySigner
from credit.policy import Policy
from credit.record import FarmRecord
from store.audit import append_entries, draft_entry
from store.credit_records import decision_audit_payload, register_policy
from store.errors import StoreError

log = logging.getLogger(__name__)

__all__ = [
    "Claim",
    "CyclePolicyError",
    "CycleRow",
    "DecisionToStore",
    "PendingFarm",
    "claim_pairs",
    "decided_pairs",
    "pending_farms",
    "record_decisions",
    "release_claims",
    "start_cycle",
]


class CyclePolicyError(StoreError, ValueError):
    """A refresh cycle was started under another policy version."""


@dataclass(frozen=True, kw_only=True)
class CycleRow:
    """One refresh cycle: its id, decision time and policy version."""

    id: int
    as_of: datetime
    policy_version: str
    started_at: datetime


@dataclass(frozen=True, kw_only=True)
class PendingFarm:
    """A farm with a valid credit consent, and the lenders not yet decided for it in the cycle."""

    farm_id: UUID
    lender_ids: list[UUID]


@dataclass(frozen=True)
class Claim:
    """A done mark: the farm and lender decided in a cycle, under the decision id it is stored with."""

    farm_id: UUID
    lender_id: UUID
    decision_id: UUID


@dataclass(frozen=True, kw_only=True)
class DecisionToStore:
    """A refresh decision with its id (chosen when claimed), its frozen record and its lender."""

    decision_id: UUID
    decision: Decision
    record: FarmRecord
    lender_id: UUID


def start_cycle(conn: psycopg.Connection, *, as_of: datetime, policy: Policy, signer: EntrySigner) -> CycleRow:
    """The cycle deciding as of ``as_of``, created under ``policy`` when it is the first (registers the policy).

    Raises:
        CyclePolicyError: the cycle exists under another policy version.
        store.credit_records.PolicyConflictError: the policy version is stored with another text.
    """
    register_policy(conn, policy=policy, signer=signer)
    conn.execute(
        "INSERT INTO credit_refresh_cycles (as_of, policy_version) VALUES (%s, %s) ON CONFLICT (as_of) DO NOTHING",
        (as_of, policy.version),
    )
    with conn.cursor(row_factory=class_row(CycleRow)) as cur:
        cycle = cur.execute(
            "SELECT id, as_of, policy_version, started_at FROM credit_refresh_cycles WHERE as_of = %s", (as_of,)
        ).fetchone()
    assert cycle is not None
    if cycle.policy_version != policy.version:
        raise CyclePolicyError(
            f"the refresh cycle as of {as_of.isoformat()} was started under policy {cycle.policy_version}, not "
            f"{policy.version}; finish it with --policy of version {cycle.policy_version} or choose another --as-of"
        )
    return cycle


_CONSENTED = """
    FROM consents c
    WHERE c.revoked_at IS NULL AND c.expires_at > now() AND 'credit' = ANY(c.scope)
      AND ft_farm_partition(c.farm_id, %(partitions)s) = %(partition)s"""


def pending_farms(
    conn: psycopg.Connection, *, cycle_id: int, partition: int = 0, partitions: int = 1
) -> list[PendingFarm]:
    """Farms of partition ``partition`` (0-based, of ``partitions``) with a valid credit consent, by farm id.

    Each comes with its consenting lenders that have no done mark in the cycle yet.
    """
    with conn.cursor(row_factory=class_row(PendingFarm)) as cur:
        return cur.execute(
            f"""SELECT c.farm_id, array_agg(DISTINCT c.lender_id ORDER BY c.lender_id) AS lender_ids {_CONSENTED}
                  AND NOT EXISTS (SELECT 1 FROM credit_refresh_decisions d WHERE d.cycle_id = %(cycle)s
                                  AND d.farm_id = c.farm_id AND d.lender_organization_id = c.lender_id)
                GROUP BY c.farm_id ORDER BY c.farm_id""",
            {"cycle": cycle_id, "partition": partition, "partitions": partitions},
        ).fetchall()


def decided_pairs(conn: psycopg.Connection, *, cycle_id: int, partition: int = 0, partitions: int = 1) -> int:
    """How many farm-lender pairs of the partition already have a done mark in the cycle."""
    row = conn.execute(
        """SELECT count(*) FROM credit_refresh_decisions
           WHERE cycle_id = %(cycle)s AND ft_farm_partition(farm_id, %(partitions)s) = %(partition)s""",
        {"cycle": cycle_id, "partition": partition, "partitions": partitions},
    ).fetchone()
    return int(row[0]) if row else 0


def claim_pairs(conn: psycopg.Connection, *, cycle_id: int, claims: Sequence[Claim]) -> list[Claim]:
    """Insert the done marks of ``claims`` (in farm, lender order); return those this transaction now holds.

    A pair another transaction has marked is left out (after waiting for it to commit or roll back), so
    two workers never decide the same pair in one cycle.
    """
    if not claims:
        return []
    ordered = sorted(claims, key=lambda c: (str(c.farm_id), str(c.lender_id)))
    rows = conn.execute(
        """INSERT INTO credit_refresh_decisions (cycle_id, farm_id, lender_organization_id, decision_id)
           SELECT %s, f, l, d FROM unnest(%s::uuid[], %s::uuid[], %s::uuid[]) WITH ORDINALITY AS t(f, l, d, n)
           ORDER BY n
           ON CONFLICT DO NOTHING RETURNING farm_id, lender_organization_id, decision_id""",
        (
            cycle_id,
            [c.farm_id for c in ordered],
            [c.lender_id for c in ordered],
            [c.decision_id for c in ordered],
        ),
    ).fetchall()
    return [Claim(*r) for r in rows]


def release_claims(conn: psycopg.Connection, *, cycle_id: int, farm_ids: Sequence[UUID | str]) -> None:
    """Remove this transaction's done marks of ``farm_ids`` (farms that could not be decided stay pending)."""
    if farm_ids:
        conn.execute(
            "DELETE FROM credit_refresh_decisions WHERE cycle_id = %s AND farm_id = ANY(%s::uuid[])",
            (cycle_id, [str(f) for f in farm_ids]),
        )


_DECISION_COLUMNS = (
    "id, farm_id, as_of, window_days, policy_version, record_hash, record, output, output_hash, status, "
    "limit_amount, currency, score, verification_score, fraud_score, audit_seq, lender_organization_id"
)


def record_decisions(
    conn: psycopg.Connection, *, decisions: Sequence[DecisionToStore], policy: Policy, signer: EntrySigner
) -> list[AuditEntry]:
    """Store a batch of decisions with their frozen records: the audit entries in one statement, the rows by COPY.

    Each row is what :func:`store.credit_records.record_decision` stores for one decision, and each
    entry carries the same payload; the entries are returned in the order of ``decisions``.

    Raises:
        StoreError: a decision does not belong to its record or to ``policy``.
        store.credit_records.PolicyConflictError: the policy version is stored with another text.
    """
    if not decisions:
        return []
    for d in decisions:
        if d.decision.record_hash != d.record.record_hash() or d.decision.policy_sha256 != policy.sha256:
            raise StoreError(f"decision {d.decision_id} does not match the record or policy it is stored with")
    register_policy(conn, policy=policy, signer=signer)
    outputs = [canonical_json(d.decision) for d in decisions]
    hashes = [sha256_hex(text) for text in outputs]
    entries = append_entries(
        conn,
        [
            draft_entry(
                kind="credit.decision",
                payload=decision_audit_payload(decision=d.decision, record=d.record, policy=policy, output_hash=h),
            )
            for d, h in zip(decisions, hashes, strict=True)
        ],
        signer=signer,
    )
    with conn.cursor() as cur, cur.copy(f"COPY credit_decisions ({_DECISION_COLUMNS}) FROM STDIN") as copy:
        for d, output, digest, entry in zip(decisions, outputs, hashes, entries, strict=True):
            decision, record = d.decision, d.record
            copy.write_row(
                (
                    d.decision_id,
                    record.farm_id,
                    record.as_of,
                    record.window_days,
                    policy.version,
                    decision.record_hash,
                    record.canonical,
                    output,
                    digest,
                    decision.status,
                    decision.limit.number,
                    decision.limit.currency,
                    decision.score,
                    decision.verification_score,
                    decision.fraud_score,
                    entry.seq,
                    d.lender_id,
                )
            )
    log.info("recorded %d refresh decisions (audit %d..%d)", len(decisions), entries[0].seq, entries[-1].seq)
    return entries
