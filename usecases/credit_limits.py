"""Decide a farm's credit limit from its verified record, and raise early warnings after the decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from credit.alerts import early_warnings
from credit.audit import AuditEntry
from credit.canonical import canonical_json
from credit.decision import Decision, decide_limit, upgrade_stored_output
from credit.entry_signing import EntrySigner
from credit.errors import AuditError
from credit.policy import Policy, load_policy
from credit.record import FarmRecord
from store.credit_records import load_decision, record_decision
from store.loans import raise_alerts
from usecases.farm_records import load_farm_record

__all__ = ["CreditLimit", "decide_credit_limit", "raise_early_warnings", "record_credit_limit", "replay_decision"]


@dataclass(frozen=True, kw_only=True)
class CreditLimit:
    """A decision, the record it was made from and, when it was recorded, its id and audit-chain entry."""

    decision: Decision
    record: FarmRecord
    decision_id: UUID | None = None
    audit_entry: AuditEntry | None = None


def decide_credit_limit(
    conn: psycopg.Connection,
    *,
    farm_id: UUID | str,
    as_of: datetime,
    policy: Policy,
    signer: EntrySigner | None = None,
    window_days: int | None = None,
    record: bool = True,
    lender_organization_id: UUID | None = None,
) -> CreditLimit:
    """Load the farm's record over ``window_days`` (default: the policy's) before ``as_of`` and decide its limit.

    With ``record`` the decision is stored with its frozen record and an audit entry, owned by
    ``lender_organization_id`` (None: visible to administrators only).

    Raises:
        store.credit_records.FarmNotFoundError: no farm has ``farm_id``.
        credit.errors.CreditError: the record cannot be decided on.
    """
    farm_record = load_farm_record(
        conn,
        farm_id=farm_id,
        as_of=as_of,
        window_days=window_days or policy.window_days,
        grace_days=policy.grace_days,
    )
    limit = CreditLimit(decision=decide_limit(farm_record, policy, as_of=as_of), record=farm_record)
    if not record:
        return limit
    return record_credit_limit(
        conn, limit=limit, policy=policy, signer=signer, lender_organization_id=lender_organization_id
    )


def record_credit_limit(
    conn: psycopg.Connection,
    *,
    limit: CreditLimit,
    policy: Policy,
    signer: EntrySigner | None,
    lender_organization_id: UUID | None = None,
) -> CreditLimit:
    """Store an unrecorded decision with its frozen record and an audit entry signed by ``signer``.

    The decision is owned by ``lender_organization_id``. The append takes the audit log's lock until the
    caller commits: run it last in the transaction, and under :meth:`psycopg.Connection.pipeline` so the
    decision row, the caller's next writes and the commit go to the server in one round trip (see
    :func:`store.credit_records.record_decision`).

    Raises:
        credit.errors.AuditError: no ``signer`` (only the server's key may append to the audit log).
        store.errors.StoreError: the decision does not belong to its record or ``policy``.
    """
    if signer is None:
        raise AuditError("recording a decision needs the server's audit signer (signer=)")
    decision_id, entry = record_decision(
        conn,
        decision=limit.decision,
        record=limit.record,
        policy=policy,
        signer=signer,
        lender_organization_id=lender_organization_id,
    )
    return CreditLimit(decision=limit.decision, record=limit.record, decision_id=decision_id, audit_entry=entry)


def raise_early_warnings(
    conn: psycopg.Connection,
    *,
    farm_id: UUID | str,
    as_of: datetime,
    policy: Policy,
    baseline_herd: dict[str, int],
    window_days: int | None = None,
) -> list[int]:
    """Compare the farm's current record with ``baseline_herd`` (head per species at the decision) and store alerts.

    Returns the ids of the alerts newly raised (one already open for the farm is not raised twice).
    """
    farm_record = load_farm_record(
        conn,
        farm_id=farm_id,
        as_of=as_of,
        window_days=window_days or policy.window_days,
        grace_days=policy.grace_days,
    )
    alerts = early_warnings(record=farm_record, policy=policy, baseline_herd=baseline_herd)
    return raise_alerts(conn, farm_id=farm_id, alerts=alerts) if alerts else []


def replay_decision(conn: psycopg.Connection, *, decision_id: UUID | str) -> tuple[str, str]:
    """Recompute a stored decision from its frozen record and policy; return ``(stored, recomputed)`` JSON texts.

    The stored text comes back with keys renamed since it was stored given their current names
    (:func:`credit.decision.upgrade_stored_output`); its values are as stored.

    Raises:
        store.credit_records.DecisionNotFoundError: no decision has ``decision_id``.
    """
    stored = load_decision(conn, decision_id=decision_id)
    recomputed = decide_limit(stored.record, load_policy(stored.policy_text))
    return upgrade_stored_output(stored.output), canonical_json(recomputed)
