"""Writes a batch of inbound MQTT messages in one transaction: exactly-once, with gaps and quarantine.

Per batch: parse and check every message (:mod:`store.ingest_validate`), drop duplicates (message id
already in ``ingest_messages`` or twice in the batch), lock each device's ``device_seq`` row, record
missing sequence ranges in ``device_gaps`` (and fill them when late messages arrive), quarantine
replays, then insert the ledger rows and COPY the readings, frames, counts and status, and quarantine
rows, and commit once. ``NOTIFY farmtrust_frames`` is transactional, so the vision worker hears of a
frame only after its row is committed. The caller acknowledges the MQTT messages after this returns.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from edge.protocol import (
    TOPIC_ROOT,
    CountMessage,
    Decoded,
    FrameMessage,
    MessageKind,
    QuarantineReason,
    StatusMessage,
    TelemetryMessage,
)
from store.db_failures import is_transient
from store.frames import put_blob
from store.ingest_copy import READINGS_COPY_SQL, encode_readings
from store.ingest_devices import DeviceRegistry
from store.ingest_validate import Accepted, Inbound, Rejected, check, parse

log = logging.getLogger(__name__)

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
"""Upper bounds (ms) of the batch-latency histogram kept in the counters."""
READINGS_TYPES = ["timestamptz", "uuid", "text", "text", "float8", "text", "uuid"]
"""Column types of the binary COPY of readings (what ``write_row`` callers such as the benchmark baseline set)."""


@dataclass
class BatchResult:
    """What one batch did."""

    received: int = 0
    stored: int = 0
    duplicate: int = 0
    readings: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    frames: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class IngestCounters:
    """Running totals of one ingest worker, persisted to ``ingest_counters`` for the API's /metrics."""

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
        """The totals as JSON-ready values."""
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


def save_counters(conn: psycopg.Connection, *, worker_id: str, counters: IngestCounters) -> None:
    """Upsert this worker's counter snapshot (commit is the caller's)."""
    conn.execute(
        """
        INSERT INTO ingest_counters (worker_id, updated_at, counters) VALUES (%s, now(), %s)
        ON CONFLICT (worker_id) DO UPDATE SET updated_at = now(), counters = EXCLUDED.counters
        """,
        (worker_id, Jsonb(counters.snapshot())),
    )


def read_counters(conn: psycopg.Connection) -> dict[str, Any]:
    """Sum every worker's latest counter snapshot (what the API's /metrics exposes).

    Returns:
        ``{"workers": n, "received", "stored", "duplicate", "readings_stored", "frames_stored", "batches",
        "quarantined": {reason: n}, "batch_latency_ms": {"buckets", "counts", "sum", "count"}}``.
    """
    total = IngestCounters()
    workers = 0
    for (snap,) in conn.execute("SELECT counters FROM ingest_counters").fetchall():
        workers += 1
        for key in ("received", "stored", "duplicate", "readings_stored", "frames_stored", "batches"):
            setattr(total, key, getattr(total, key) + int(snap.get(key, 0)))
        total.quarantined.update({k: int(v) for k, v in snap.get("quarantined", {}).items()})
        lat = snap.get("batch_latency_ms", {})
        for i, n in enumerate(lat.get("counts", [])[: len(total.latency_buckets)]):
            total.latency_buckets[i] += int(n)
        total.latency_sum_ms += float(lat.get("sum", 0.0))
    return {"workers": workers, **total.snapshot()}


class IngestWriter:
    """Validates and stores batches; one instance per worker (it caches device keys).

    Args:
        frame_dir: ``Settings.frame_dir``, the content-addressed frame store.
        evidence_dir: ``Settings.evidence_dir``; edge count thumbnails go under ``edge/``.
        registry: the device cache (a new one by default).
        clock: the server's UTC clock (tests pass a fixed one).
        redelivery_window: a message id seen again within this time is a redelivery (counted as duplicate);
            later it is a replay (quarantined).
        topic_root: the topic root devices publish under (``Settings.mqtt.topic_root``).
    """

    def __init__(
        self,
        *,
        frame_dir: Path,
        evidence_dir: Path,
        registry: DeviceRegistry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        redelivery_window: timedelta = timedelta(minutes=10),
        topic_root: str = TOPIC_ROOT,
    ) -> None:
        """Keep the paths and collaborators."""
        self.redelivery_window = redelivery_window
        self.frame_dir, self.evidence_dir = frame_dir, evidence_dir
        self.registry = registry or DeviceRegistry()
        self.clock = clock
        self.topic_root = topic_root

    def write_batch(self, conn: psycopg.Connection, batch: list[Inbound]) -> BatchResult:
        """Validate and store ``batch`` in one transaction; every message ends stored, duplicate or quarantined.

        Raises:
            psycopg.Error: the database failed; nothing of the batch is committed, so retry it whole.
        """
        started = time.perf_counter()
        result = BatchResult(received=len(batch))
        parsed = [parse(item, topic_root=self.topic_root) for item in batch]
        with conn.transaction():
            ids = {p.message.device_id for p in parsed if isinstance(p, Decoded)}
            devices = self.registry.lookup(conn, ids) if ids else {}
            now = self.clock()
            accepted: list[Accepted] = []
            rejected: list[Rejected] = []
            for item, p in zip(batch, parsed, strict=True):
                outcome = p if isinstance(p, Rejected) else check(item, p, devices, now=now)
                (rejected if isinstance(outcome, Rejected) else accepted).append(outcome)  # type: ignore[arg-type]
            fresh = self._drop_duplicates(conn, accepted, rejected, result)
            fresh = self._check_sequences(conn, fresh, rejected)
            self._store(conn, fresh, result)
            self._quarantine(conn, rejected, result)
        result.seconds = time.perf_counter() - started
        log.info(
            "ingest batch: %d received, %d stored (%d readings), %d duplicate, %d quarantined in %.1f ms",
            result.received,
            result.stored,
            result.readings,
            result.duplicate,
            sum(result.quarantined.values()),
            result.seconds * 1000,
        )
        return result

    def write_batch_isolating(self, conn: psycopg.Connection, batch: list[Inbound]) -> BatchResult:
        """Like :meth:`write_batch`, but a message the database refuses cannot block its batch forever.

        When the batch fails with anything but a connection-level or transient error (see
        :func:`store.db_failures.is_transient`): a data error, a program limit such as ``index row size``,
        ``out of shared memory``..., it is written again one message at a time, and a message that still
        fails alone is quarantined as ``store_rejected`` with the database's SQLSTATE and message.

        Raises:
            psycopg.Error: the database is unreachable or the failure is transient; retry the batch whole.
        """
        try:
            return self.write_batch(conn, batch)
        except psycopg.Error as exc:
            if is_transient(exc, conn):
                raise
            if len(batch) == 1:
                return self._reject_alone(conn, batch[0], exc)
        total = BatchResult()
        for item in batch:
            one = self.write_batch_isolating(conn, [item])
            total.received += one.received
            total.stored += one.stored
            total.duplicate += one.duplicate
            total.readings += one.readings
            total.quarantined.update(one.quarantined)
            total.frames.extend(one.frames)
            total.seconds += one.seconds
        return total

    def _reject_alone(self, conn: psycopg.Connection, item: Inbound, exc: psycopg.Error) -> BatchResult:
        """Quarantine one message the database refused, naming the database's reason."""
        log.error("ingest: database refused the message on %s: %s", item.topic, exc)
        parsed = parse(item, topic_root=self.topic_root)
        farm_id, device_id = (
            (str(parsed.message.farm_id), parsed.message.device_id) if isinstance(parsed, Decoded) else (None, None)
        )
        detail = f"database refused the message (SQLSTATE {exc.sqlstate or 'none'}): {str(exc).strip()}"
        result = BatchResult(received=1)
        with conn.transaction():
            self._quarantine(
                conn, [Rejected(item, QuarantineReason.STORE_REJECTED.value, detail, farm_id, device_id)], result
            )
        return result

    def _drop_duplicates(
        self, conn: psycopg.Connection, accepted: list[Accepted], rejected: list[Rejected], result: BatchResult
    ) -> list[Accepted]:
        if not accepted:
            return []
        ids = [a.decoded.message.message_id for a in accepted]
        known: dict[uuid.UUID, datetime | None] = dict(
            conn.execute(
                "SELECT message_id, stored_at FROM ingest_messages WHERE message_id = ANY(%s)", (ids,)
            ).fetchall()
        )
        now = self.clock()
        out = []
        for a in accepted:
            mid = a.decoded.message.message_id
            first = known.get(mid)
            if mid in known and first is not None and now - first > self.redelivery_window:
                rejected.append(
                    Rejected(
                        a.inbound,
                        QuarantineReason.REPLAY.value,
                        f"message {mid} was first stored at {first.isoformat()}, longer ago than a broker redelivery",
                        a.device.farm_id,
                        a.device.device_id,
                    )
                )
                continue
            if mid in known:
                result.duplicate += 1  # an at-least-once redelivery: stored once already
                continue
            known[mid] = None
            out.append(a)
        return out

    def _check_sequences(
        self, conn: psycopg.Connection, fresh: list[Accepted], rejected: list[Rejected]
    ) -> list[Accepted]:
        """Record gaps and quarantine replays; sequences are per (device, key epoch)."""
        data = [a for a in fresh if a.decoded.message.kind != MessageKind.STATUS]
        if not data:
            return fresh
        farm_of = {(a.device.device_id, a.device.key_epoch): a.device.farm_id for a in data}
        keys = sorted(farm_of)
        devices, epochs = [k[0] for k in keys], [k[1] for k in keys]
        conn.execute(
            "INSERT INTO device_seq (device_id, key_epoch, farm_id) "
            "SELECT * FROM unnest(%s::text[], %s::int[], %s::uuid[]) ON CONFLICT (device_id, key_epoch) DO NOTHING",
            (devices, epochs, [farm_of[k] for k in keys]),
        )
        rows = conn.execute(
            "SELECT s.device_id, s.key_epoch, s.last_seq FROM device_seq s "
            "JOIN unnest(%s::text[], %s::int[]) AS k(device_id, key_epoch) USING (device_id, key_epoch) "
            "ORDER BY s.device_id, s.key_epoch FOR UPDATE OF s",
            (devices, epochs),
        ).fetchall()
        last = {(r[0], int(r[1])): int(r[2]) for r in rows}
        start = dict(last)
        keep: set[int] = set()
        for a in sorted(data, key=lambda a: (a.device.device_id, a.device.key_epoch, a.decoded.message.seq)):
            key, seq = (a.device.device_id, a.device.key_epoch), a.decoded.message.seq
            if seq > last[key]:
                if seq > last[key] + 1:
                    conn.execute(
                        "INSERT INTO device_gaps (device_id, key_epoch, farm_id, seq_from, seq_to) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (device_id, key_epoch, seq_from) DO NOTHING",
                        (*key, farm_of[key], last[key] + 1, seq - 1),
                    )
                last[key] = seq
                keep.add(id(a))
            elif self._fill_gap(conn, key, seq):
                keep.add(id(a))
            else:
                rejected.append(
                    Rejected(
                        a.inbound,
                        QuarantineReason.REPLAY.value,
                        f"seq {seq} of device {key[0]!r} (key epoch {key[1]}) was already stored "
                        f"(last seq {last[key]}) under another message id",
                        a.device.farm_id,
                        key[0],
                    )
                )
        changed = [k for k in keys if last[k] != start[k]]
        if changed:
            first = {
                k: min(a.decoded.message.seq for a in data if (a.device.device_id, a.device.key_epoch) == k)
                for k in changed
            }
            conn.execute(
                "UPDATE device_seq AS s SET last_seq = v.last_seq, first_seq = coalesce(s.first_seq, v.first_seq), "
                "updated_at = now() "
                "FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[]) "
                "AS v(device_id, key_epoch, last_seq, first_seq) "
                "WHERE s.device_id = v.device_id AND s.key_epoch = v.key_epoch",
                (
                    [k[0] for k in changed],
                    [k[1] for k in changed],
                    [last[k] for k in changed],
                    [first[k] for k in changed],
                ),
            )
        return [a for a in fresh if a.decoded.message.kind == MessageKind.STATUS or id(a) in keep]

    @staticmethod
    def _fill_gap(conn: psycopg.Connection, key: tuple[str, int], seq: int) -> bool:
        row = conn.execute(
            "SELECT seq_from, seq_to FROM device_gaps WHERE device_id = %s AND key_epoch = %s AND closed_at IS NULL "
            "AND seq_from <= %s AND seq_to >= %s FOR UPDATE",
            (*key, seq, seq),
        ).fetchone()
        if row is None:
            return False
        low, high = int(row[0]), int(row[1])
        where = "WHERE device_id = %s AND key_epoch = %s AND seq_from = %s"
        gap = (*key, low)
        if low == high:
            conn.execute("UPDATE device_gaps SET closed_at = now() " + where, gap)
        elif seq == low:
            conn.execute("UPDATE device_gaps SET seq_from = seq_from + 1 " + where, gap)
        elif seq == high:
            conn.execute("UPDATE device_gaps SET seq_to = seq_to - 1 " + where, gap)
        else:
            conn.execute("UPDATE device_gaps SET seq_to = %s " + where, (seq - 1, *gap))
            conn.execute(
                "INSERT INTO device_gaps (device_id, key_epoch, farm_id, seq_from, seq_to, detected_at) "
                "SELECT device_id, key_epoch, farm_id, %s, %s, detected_at FROM device_gaps " + where,
                (seq + 1, high, *gap),
            )
        return True

    def _store(self, conn: psycopg.Connection, fresh: list[Accepted], result: BatchResult) -> None:
        if not fresh:
            return
        msgs = [a.decoded.message for a in fresh]
        rows = conn.execute(
            "INSERT INTO ingest_messages "
            "(message_id, farm_id, device_id, kind, seq, device_time, received_at, readings, key_epoch) "
            "SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[], "
            "%s::timestamptz[], %s::int[], %s::int[]) ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            (
                [m.message_id for m in msgs],
                [m.farm_id for m in msgs],
                [m.device_id for m in msgs],
                [m.kind.value for m in msgs],
                [m.seq for m in msgs],
                [m.device_time for m in msgs],
                [a.inbound.received_at for a in fresh],
                [len(m.body.readings) if isinstance(m, TelemetryMessage) else 0 for m in msgs],
                [a.device.key_epoch for a in fresh],
            ),
        ).fetchall()
        new_ids = {r[0] for r in rows}
        result.duplicate += len(msgs) - len(new_ids)  # lost a race with another worker
        stored = [a for a in fresh if a.decoded.message.message_id in new_ids]
        result.stored += len(stored)
        telemetry = [a.decoded.message for a in stored if isinstance(a.decoded.message, TelemetryMessage)]
        if telemetry:
            data, n_rows = encode_readings(telemetry)
            with conn.cursor().copy(READINGS_COPY_SQL) as copy:
                copy.write(data)
            result.readings += n_rows
        for a in stored:
            m = a.decoded.message
            if isinstance(m, FrameMessage):
                self._store_frame(conn, a, m, result)
            elif isinstance(m, CountMessage):
                self._store_count(conn, a, m)
            elif isinstance(m, StatusMessage):
                self._store_status(conn, a, m)
        conn.execute(
            "UPDATE devices SET last_seen_at = now() WHERE id = ANY(%s)",
            (sorted({a.device.device_id for a in stored}),),
        )

    def _store_frame(self, conn: psycopg.Connection, a: Accepted, m: FrameMessage, result: BatchResult) -> None:
        """Store the blob once by content, and a ``frames`` row per frame message.

        When the first frame ever stored with these bytes is another farm's, the row is flagged as a recycled
        photo: ``recycled_of`` names that frame message. A farm's own repeated bytes are not flagged.
        """
        assert a.decoded.blob is not None
        sha, rel = put_blob(self.frame_dir, data=a.decoded.blob, sha256=m.body.sha256)
        row = conn.execute(
            "INSERT INTO frames "
            "(sha256, farm_id, device_id, camera_id, captured_at, received_at, path, bytes, message_id, recycled_of) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
            "(SELECT CASE WHEN f.farm_id <> %s THEN f.message_id END FROM frames f WHERE f.sha256 = %s "
            "ORDER BY f.received_at, f.message_id LIMIT 1)) ON CONFLICT (message_id) DO NOTHING RETURNING recycled_of",
            (
                sha,
                m.farm_id,
                m.device_id,
                m.body.camera_id,
                m.body.captured_at,
                a.inbound.received_at,
                rel,
                m.body.bytes,
                m.message_id,
                m.farm_id,
                sha,
            ),
        ).fetchone()
        if row is not None:
            if row[0] is not None:
                log.warning(
                    "frame %s of farm %s has the bytes of frame %s of another farm: flagged as recycled",
                    m.message_id,
                    m.farm_id,
                    row[0],
                )
            conn.execute("SELECT pg_notify('farmtrust_frames', %s)", (sha,))
            result.frames.append(sha)

    def _store_count(self, conn: psycopg.Connection, a: Accepted, m: CountMessage) -> None:
        assert a.decoded.blob is not None
        _sha, rel = put_blob(self.evidence_dir / "edge", data=a.decoded.blob, sha256=m.body.sha256)
        with conn.cursor().copy(
            "COPY livestock_counts (time, farm_id, device_id, camera_id, species, count, method, model_sha256, "
            "frame_sha256, phash, evidence_path) FROM STDIN"
        ) as copy:
            for species, count in sorted(m.body.counts.items()):
                copy.write_row(
                    (
                        m.body.captured_at,
                        m.farm_id,
                        m.device_id,
                        m.body.camera_id,
                        species,
                        count,
                        "edge_snapshot",
                        m.body.model_sha256,
                        m.body.frame_sha256,
                        m.body.phash,
                        f"edge/{rel}",
                    )
                )

    @staticmethod
    def _store_status(conn: psycopg.Connection, a: Accepted, m: StatusMessage) -> None:
        skew = (a.inbound.received_at - m.device_time).total_seconds()
        body = json.loads(m.body.model_dump_json())
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
                m.device_id,
                m.farm_id,
                m.body.online,
                m.body.spool_depth,
                m.body.last_seq,
                skew,
                Jsonb(m.body.dropped),
                Jsonb(body),
                m.device_time,
                a.inbound.received_at,
            ),
        )

    @staticmethod
    def _quarantine(conn: psycopg.Connection, rejected: list[Rejected], result: BatchResult) -> None:
        if not rejected:
            return
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ingest_quarantine (received_at, topic, payload, reason, detail, farm_id, device_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        r.inbound.received_at,
                        r.inbound.topic,
                        r.inbound.payload,
                        r.reason,
                        r.detail,
                        r.farm_id,
                        r.device_id,
                    )
                    for r in rejected
                ],
            )
        result.quarantined.update(r.reason for r in rejected)
        for r in rejected:
            log.warning("quarantined message on %s: %s (%s)", r.inbound.topic, r.reason, r.detail)
