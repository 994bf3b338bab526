"""The weekly credit refresh: decide again every farm with a valid credit consent, for each of its lenders.

A cycle is one decision time (``as_of``; by default the start of the ISO week, 00:00 UTC on Monday)
under one policy. Its farms are split into partitions by a stable hash of the farm id (the first 7
bytes of SHA-256 over the id's 16 bytes, big-endian, modulo the number of partitions:
``ft_farm_partition`` in migration 0085), so several workers share a book, and decided in batches:
:func:`refresh_batch` marks the batch's farm-lender pairs done, reads the records of its farms
together, decides each farm once, and appends the decisions and their audit entries in batches. The
caller commits each batch (one transaction per batch), so a rerun after a crash continues with the
pairs that have no done mark and never decides a pair twice in a cycle.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from credit.decision import decide_limit
from credit.entry_signing import EntrySigner
from credit.errors import CreditError
from credit.policy import Policy
from store.credit_refresh import (
    Claim,
    CycleRow,
    DecisionToStore,
    PendingFarm,
    claim_pairs,
    decided_pairs,
    pending_farms,
    record_decisions,
    release_claims,
    start_cycle,
)
from usecases.errors import RefreshInputError
from usecases.farm_records import load_farm_records

log = logging.getLogger(__name__)

__all__ = [
    "WHOLE_BOOK",
    "BatchOutcome",
    "Partition",
    "PendingFarm",
    "RefreshPlan",
    "cycle_as_of",
    "plan_refresh",
    "refresh_batch",
]


@dataclass(frozen=True)
class Partition:
    """Partition ``number`` (1-based) of ``count``: the farms whose hash modulo ``count`` is ``number - 1``."""

    number: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 4096 or not 1 <= self.number <= self.count:
            raise RefreshInputError(
                f"--partition {self.number}/{self.count}: write i/n with 1 <= i <= n <= 4096, e.g. 1/4 for the "
                "first of four workers"
            )

    @classmethod
    def parse(cls, text: str) -> Partition:
        """Read ``i/n`` (e.g. ``2/4``).

        Raises:
            RefreshInputError: ``text`` is not two whole numbers ``i/n`` with 1 <= i <= n.
        """
        number, sep, count = text.strip().partition("/")
        if not sep or not number.strip().isdigit() or not count.strip().isdigit():
            raise RefreshInputError(f"--partition {text!r}: write i/n, e.g. 1/4 for the first of four workers")
        return cls(int(number), int(count))

    def __str__(self) -> str:
        return f"{self.number}/{self.count}"


WHOLE_BOOK = Partition()
"""The one partition of one: every farm."""


def cycle_as_of(day: date | None = None, *, now: datetime | None = None) -> datetime:
    """The decision time of a cycle: 00:00 UTC of ``day``, or of the Monday of ``now``'s ISO week.

    Raises:
        RefreshInputError: ``day`` lies in the future.
    """
    current = (now or datetime.now(UTC)).astimezone(UTC)
    if day is None:
        day = current.date() - timedelta(days=current.weekday())
    as_of = datetime.combine(day, time(0), tzinfo=UTC)
    if as_of > current:
        raise RefreshInputError(f"--as-of {day.isoformat()} is in the future; a record cannot be read before it ends")
    return as_of


@dataclass(frozen=True, kw_only=True)
class RefreshPlan:
    """A cycle and what is left of it in one partition: the pending farms, and the pairs already done."""

    cycle: CycleRow
    partition: Partition
    farms: list[PendingFarm]
    already_decided: int

    @property
    def pairs(self) -> int:
        """Farm-lender pairs still to decide."""
        return sum(len(f.lender_ids) for f in self.farms)


def plan_refresh(
    conn: psycopg.Connection,
    *,
    as_of: datetime,
    policy: Policy,
    signer: EntrySigner,
    partition: Partition = WHOLE_BOOK,
) -> RefreshPlan:
    """Start (or continue) the cycle as of ``as_of`` and list the partition's farms still to decide.

    Raises:
        store.credit_refresh.CyclePolicyError: the cycle was started under another policy version.
    """
    cycle = start_cycle(conn, as_of=as_of, policy=policy, signer=signer)
    index, count = partition.number - 1, partition.count
    farms = pending_farms(conn, cycle_id=cycle.id, partition=index, partitions=count)
    done = decided_pairs(conn, cycle_id=cycle.id, partition=index, partitions=count)
    log.info(
        "refresh cycle %d as of %s, partition %s: %d farms to decide, %d pairs decided before",
        cycle.id,
        cycle.as_of.isoformat(),
        partition,
        len(farms),
        done,
    )
    return RefreshPlan(cycle=cycle, partition=partition, farms=farms, already_decided=done)


@dataclass(kw_only=True)
class BatchOutcome:
    """What one batch did: decisions by status, farms decided, pairs another worker held, farms that failed."""

    statuses: Counter[str] = field(default_factory=Counter)
    farms: int = 0
    taken_elsewhere: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def decisions(self) -> int:
        """Decisions stored (one per farm and lender)."""
        return sum(self.statuses.values())

    def add(self, other: BatchOutcome) -> None:
        """Add ``other``'s counts to this outcome."""
        self.statuses.update(other.statuses)
        self.farms += other.farms
        self.taken_elsewhere += other.taken_elsewhere
        self.failed.update(other.failed)


def refresh_batch(
    conn: psycopg.Connection, *, cycle: CycleRow, farms: list[PendingFarm], policy: Policy, signer: EntrySigner
) -> BatchOutcome:
    """Decide ``farms`` for each of their pending lenders: mark, read, decide once per farm, store (no commit).

    A farm whose record cannot be decided (:class:`credit.errors.CreditError`) keeps no done mark, so a
    rerun tries it again; it is reported in ``failed`` with the reason.

    Raises:
        store.credit_refresh.CyclePolicyError: ``policy`` is not the cycle's.
    """
    if policy.version != cycle.policy_version:
        from store.credit_refresh import CyclePolicyError

        raise CyclePolicyError(f"cycle {cycle.id} decides under {cycle.policy_version}, not {policy.version}")
    outcome = BatchOutcome()
    wanted = [Claim(f.farm_id, lender, uuid.uuid4()) for f in farms for lender in f.lender_ids]
    claims = claim_pairs(conn, cycle_id=cycle.id, claims=wanted)
    outcome.taken_elsewhere = len(wanted) - len(claims)
    by_farm: dict[str, list[Claim]] = {}
    for c in claims:
        by_farm.setdefault(str(c.farm_id), []).append(c)
    records = load_farm_records(
        conn, farm_ids=list(by_farm), as_of=cycle.as_of, window_days=policy.window_days, grace_days=policy.grace_days
    )
    to_store: list[DecisionToStore] = []
    for farm_id, farm_claims in by_farm.items():
        record = records[farm_id]
        try:
            decision = decide_limit(record, policy, as_of=cycle.as_of)
        except CreditError as exc:
            outcome.failed[farm_id] = str(exc)
            log.warning("refresh cycle %d: farm %s cannot be decided: %s", cycle.id, farm_id, exc)
            continue
        outcome.farms += 1
        for c in farm_claims:
            to_store.append(
                DecisionToStore(decision_id=c.decision_id, decision=decision, record=record, lender_id=c.lender_id)
            )
            outcome.statuses[decision.status] += 1
    release_claims(conn, cycle_id=cycle.id, farm_ids=list(outcome.failed))
    record_decisions(conn, decisions=to_store, policy=policy, signer=signer)
    return outcome
