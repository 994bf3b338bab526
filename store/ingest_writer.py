"""What ingest writes, one named function per statement: the message ledger, frames, status, quarantine, counters.

The decisions (what is a duplicate, a replay or a gap, what is quarantined and why) are
:mod:`usecases.ingest`'s; sequences and gaps are in :mod:`store.ingest_sequences`, readings are
COPYed by :func:`store.ingest_copy.copy_readings` and edge counts written by
:func:`store.counts.write_counts`. None of these functions commits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from store.counts import FRAMES_CHANNEL

__all__ = [
    "LATENCY_BUCKETS_MS",
    "FrameRow",
    "LedgerRow",
    "QuarantineRow",
    "StatusRow",
    "StoredFrame",
    "announce_frame",
    "insert_frame",
    "insert_ledger_rows",
    "insert_quarantine",
    "mark_devices_seen",
    "read_counters",
    "save_counters",
    "stored_at_of",
    "upsert_status",
]

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
"""Upper bounds (ms) of the batch-latency histogram in the stored counter snapshots (then ``"+Inf"``)."""
_TOTALS = ("received", "stored", "duplicate", "readings_stored", "frames_stored", "batches")


@dataclass(frozen=True)
class LedgerRow:
    """One row of ``ingest_messages``: a message stored exactly once."""

    message_id: UUID
    farm_id: UUID
    device_id: str
    kind: str
    seq: int
    device_time: datetime
    received_at: datetime
    readings: int
    key_epoch: int


@dataclass(frozen=True)
class FrameRow:
    """One row of ``frames``: a frame message and where its bytes are."""

    sha256: str
    farm_id: UUID
    device_id: str
    camera_id: str
    captured_at: datetime
    received_at: datetime
    path: str
    bytes: int
    message_id: UUID


@dataclass(frozen=True)
class StoredFrame:
    """A ``frames`` row just inserted; ``recycled_of`` names another farm's frame message with the same bytes."""

    recycled_of: UUID | None


@dataclass(frozen=True)
class StatusRow:
    """One row of ``device_status``: a device's latest status message."""

    device_id: str
    farm_id: UUID
    online: bool
    spool_depth: int
    last_seq: int
    clock_skew_s: float
    dropped: Mapping[str, int]
    body: Mapping[str, Any]
    device_time: datetime
    received_at: datetime


@dataclass(frozen=True)
class QuarantineRow:
    """One row of ``ingest_quarantine``: a message kept as received, with the reason it was not stored."""

    received_at: datetime
    topic: str
    payload: bytes
    reason: str
    detail: str
    farm_id: str | None
    device_id: str | None


def stored_at_of(conn: psycopg.Connection, message_ids: Sequence[UUID]) -> dict[UUID, datetime]:
    """When each of ``message_ids`` that is already in the ledger was stored."""
    rows = conn.execute(
        "SELECT message_id, stored_at FROM ingest_messages WHERE message_id = ANY(%s)", (list(message_ids),)
    ).fetchall()
    return dict(rows)


def insert_ledger_rows(conn: psycopg.Connection, rows: Sequence[LedgerRow]) -> set[UUID]:
    """Insert ledger rows, skipping message ids already there; return the ids this call inserted."""
    inserted = conn.execute(
        "INSERT INTO ingest_messages "
        "(message_id, farm_id, device_id, kind, seq, device_time, received_at, readings, key_epoch) "
        "SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[], "
        "%s::timestamptz[], %s::int[], %s::int[]) ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
        (
            [r.message_id for r in rows],
            [r.farm_id for r in rows],
            [r.device_id for r in rows],
            [r.kind for r in rows],
            [r.seq for r in rows],
            [r.device_time for r in rows],
            [r.received_at for r in rows],
            [r.readings for r in rows],
            [r.key_epoch for r in rows],
        ),
    ).fetchall()
    return {r[0] for r in inserted}


def insert_frame(conn: psycopg.Connection, row: FrameRow) -> StoredFrame | None:
    """Insert a ``frames`` row, flagged when another farm's frame had these bytes first; None if already there."""
    with conn.cursor(row_factory=class_row(StoredFrame)) as cur:
        return cur.execute(
            "INSERT INTO frames "
            "(sha256, farm_id, device_id, camera_id, captured_at, received_at, path, bytes, message_id, recycled_of) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "(SELECT CASE WHEN f.farm_id <> %s THEN f.message_id END FROM frames f WHERE f.sha256 = %s "
            "ORDER BY f.received_at, f.message_id LIMIT 1)) ON CONFLICT (message_id) DO NOTHING RETURNING recycled_of",
            (
                row.sha256,
                row.farm_id,
                row.device_id,
                row.camera_id,
                row.captured_at,
                row.received_at,
                row.path,
                row.bytes,
                row.message_id,
                row.farm_id,
                row.sha256,
            ),
        ).fetchone()


def announce_frame(conn: psycopg.Connection, sha256: str) -> None:
    """``NOTIFY farmtrust_frames`` with the frame's hash; listeners hear it when the transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (FRAMES_CHANNEL, sha256))


def upsert_status(conn: psycopg.Connection, row: StatusRow) -> None:
    """Keep a device's status row, unless the stored one has a later device time."""
    conn.execute(
        """
        INSERT INTO device_status (device_id, farm_id, online, spool_depth, last_seq, clock_skew_s, dropped, body,
                                   device_time, received_at)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (device_id) DO UPDATE SET farm_id = EXCLUDED.farm_id, online = EXCLUDED.online,
            spool_depth = EXCLUDED.spool_depth, last_seq = EXCLUDED.last_seq, clock_skew_s = EXCLUDED.clock_skew_s,
            dropped = EXCLUDED.dropped, body = EXCLUDED.body, device_time = EXCLUDED.device_time,
            received_at = EXCLUDED.received_at
        WHERE device_status.device_time <= EXCLUDED.device_time
        """,
        (
            row.device_id,
            row.farm_id,
            row.online,
            row.spool_depth,
            row.last_seq,
            row.clock_skew_s,
            Jsonb(row.dropped),
            Jsonb(row.body),
            row.device_time,
            row.received_at,
        ),
    )


def mark_devices_seen(conn: psycopg.Connection, device_ids: Iterable[str]) -> None:
    """Set ``devices.last_seen_at`` to now for ``device_ids``."""
    conn.execute("UPDATE devices SET last_seen_at = now() WHERE id = ANY(%s)", (sorted(set(device_ids)),))


def insert_quarantine(conn: psycopg.Connection, rows: Sequence[QuarantineRow]) -> None:
    """Keep each refused message as received, with its reason and detail."""
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ingest_quarantine (received_at, topic, payload, reason, detail, farm_id, device_id) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(r.received_at, r.topic, r.payload, r.reason, r.detail, r.farm_id, r.device_id) for r in rows],
        )


def save_counters(conn: psycopg.Connection, *, worker_id: str, snapshot: Mapping[str, Any]) -> None:
    """Upsert one worker's counter snapshot (the JSON ``usecases.ingest.IngestCounters.snapshot`` returns)."""
    conn.execute(
        """
        INSERT INTO ingest_counters (worker_id, updated_at, counters) VALUES (%s, now(), %s)
        ON CONFLICT (worker_id) DO UPDATE SET updated_at = now(), counters = EXCLUDED.counters
        """,
        (worker_id, Jsonb(dict(snapshot))),
    )


def read_counters(conn: psycopg.Connection) -> dict[str, Any]:
    """Sum every worker's latest counter snapshot (what the API's /metrics exposes).

    Returns:
        ``{"workers": n, "received", "stored", "duplicate", "readings_stored", "frames_stored", "batches",
        "quarantined": {reason: n}, "batch_latency_ms": {"buckets", "counts", "sum", "count"}}``.
    """
    snapshots = [snap for (snap,) in conn.execute("SELECT counters FROM ingest_counters").fetchall()]
    totals = {key: sum(int(snap.get(key, 0)) for snap in snapshots) for key in _TOTALS}
    quarantined: Counter[str] = Counter()
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    latency_sum_ms = 0.0
    for snap in snapshots:
        quarantined.update({k: int(v) for k, v in snap.get("quarantined", {}).items()})
        latency = snap.get("batch_latency_ms", {})
        for i, n in enumerate(latency.get("counts", [])[: len(counts)]):
            counts[i] += int(n)
        latency_sum_ms += float(latency.get("sum", 0.0))
    return {
        "workers": len(snapshots),
        **totals,
        "quarantined": dict(quarantined),
        "batch_latency_ms": {
            "buckets": [*LATENCY_BUCKETS_MS, "+Inf"],
            "counts": counts,
            "sum": round(latency_sum_ms, 3),
            "count": totals["batches"],
        },
    }
