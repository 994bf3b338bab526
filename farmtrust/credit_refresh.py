"""Run a credit refresh cycle: plan it, then one transaction per batch, committed as each batch ends.

The use cases (:mod:`usecases.credit_refresh`) never commit; this runner owns the transactions, so a
crash loses at most the batch in flight, and a rerun continues with the pairs not decided yet. The CLI
(``farmtrust credit refresh``), the benchmark and the tests call :func:`run_refresh`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from credit.entry_signing import EntrySigner
from credit.policy import Policy
from usecases.credit_refresh import WHOLE_BOOK, BatchOutcome, Partition, plan_refresh, refresh_batch
from vocabulary.lending import DECISION_STATUSES

log = logging.getLogger(__name__)

STATUSES = DECISION_STATUSES
"""The decision statuses the summary counts, in their vocabulary's order."""


@dataclass(frozen=True, kw_only=True)
class RefreshSummary:
    """What one run of a refresh cycle did in its partition."""

    cycle_id: int
    as_of: datetime
    partition: Partition
    farms: int
    decisions: int
    statuses: dict[str, int]
    already_decided: int
    taken_elsewhere: int
    failed: dict[str, str]
    seconds: float

    def to_plain(self) -> dict[str, Any]:
        """The summary as JSON-ready values."""
        return {
            "cycle_id": self.cycle_id,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "partition": str(self.partition),
            "farms_decided": self.farms,
            "decisions": self.decisions,
            **{s: self.statuses.get(s, 0) for s in STATUSES},
            "already_decided": self.already_decided,
            "taken_by_other_workers": self.taken_elsewhere,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
        }

    def line(self) -> str:
        """One line for people: farms decided, each status, what was skipped, and the time taken."""
        counts = ", ".join(f"{self.statuses.get(s, 0):,} {s.replace('_', ' ')}" for s in STATUSES)
        rate = self.farms / self.seconds if self.seconds > 0 else 0.0
        skipped = f"; {self.already_decided:,} pairs decided before" if self.already_decided else ""
        elsewhere = f"; {self.taken_elsewhere:,} held by another worker" if self.taken_elsewhere else ""
        failed = f"; {len(self.failed):,} farms failed" if self.failed else ""
        return (
            f"refresh as of {self.as_of:%Y-%m-%d %H:%M} UTC (cycle {self.cycle_id}), partition {self.partition}: "
            f"{self.farms:,} farms decided ({self.decisions:,} decisions: {counts}){skipped}{elsewhere}{failed}; "
            f"{self.seconds:.1f} s ({rate:,.0f} farms/s)"
        )


def run_refresh(
    conn: psycopg.Connection,
    *,
    as_of: datetime,
    policy: Policy,
    signer: EntrySigner,
    partition: Partition = WHOLE_BOOK,
    batch_size: int = 200,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RefreshSummary:
    """Decide every pending farm of ``partition`` in the cycle as of ``as_of``, ``batch_size`` farms per transaction.

    ``conn`` must not be in autocommit mode and have no transaction open. ``on_start(farms)`` is called
    once the plan is known, ``on_batch(farms)`` after each committed batch.

    Raises:
        ValueError: ``batch_size`` is below 1.
        store.credit_refresh.CyclePolicyError: the cycle was started under another policy version.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}; use at least 1")
    started = time.perf_counter()
    plan = plan_refresh(conn, as_of=as_of, policy=policy, signer=signer, partition=partition)
    conn.commit()
    if on_start:
        on_start(len(plan.farms))
    total = BatchOutcome()
    for first in range(0, len(plan.farms), batch_size):
        batch = plan.farms[first : first + batch_size]
        with conn.transaction():
            outcome = refresh_batch(conn, cycle=plan.cycle, farms=batch, policy=policy, signer=signer)
        total.add(outcome)
        log.info(
            "refresh cycle %d: batch of %d farms committed (%d decisions)", plan.cycle.id, len(batch), outcome.decisions
        )
        if on_batch:
            on_batch(len(batch))
    return RefreshSummary(
        cycle_id=plan.cycle.id,
        as_of=plan.cycle.as_of,
        partition=partition,
        farms=total.farms,
        decisions=total.decisions,
        statuses=dict(total.statuses),
        already_decided=plan.already_decided,
        taken_elsewhere=total.taken_elsewhere,
        failed=total.failed,
        seconds=time.perf_counter() - started,
    )
