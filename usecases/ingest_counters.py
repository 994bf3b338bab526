"""The running totals of one ingest worker, saved for the API's ``/metrics``."""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from store.ingest_writer import LATENCY_BUCKETS_MS
from usecases.ingest import BatchResult

__all__ = ["IngestCounters"]


@dataclass
class IngestCounters:
    """Running totals of one ingest worker, saved with :func:`store.ingest_writer.save_counters` for /metrics."""

    received: int = 0
    stored: int = 0
    duplicate: int = 0
    readings_stored: int = 0
    frames_stored: int = 0
    batches: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    latency_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum_ms: float = 0.0

    def add(self, result: BatchResult) -> None:
        """Fold one batch into the totals."""
        self.received += result.received
        self.stored += result.stored
        self.duplicate += result.duplicate
        self.readings_stored += result.readings
        self.frames_stored += len(result.frames)
        self.batches += 1
        self.quarantined.update(result.quarantined)
        ms = result.seconds * 1000
        self.latency_buckets[bisect.bisect_left(LATENCY_BUCKETS_MS, ms)] += 1
        self.latency_sum_ms += ms

    def snapshot(self) -> dict[str, Any]:
        """The totals as JSON-ready values (what :func:`store.ingest_writer.read_counters` sums)."""
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicate": self.duplicate,
            "readings_stored": self.readings_stored,
            "frames_stored": self.frames_stored,
            "batches": self.batches,
            "quarantined": dict(self.quarantined),
            "batch_latency_ms": {
                "buckets": [*LATENCY_BUCKETS_MS, "+Inf"],
                "counts": list(self.latency_buckets),
                "sum": round(self.latency_sum_ms, 3),
                "count": self.batches,
            },
        }
