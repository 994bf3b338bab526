"""Store a batch of inbound MQTT messages in one transaction: exactly-once, with gaps and quarantine.

Per batch: parse and check every message (:mod:`usecases.ingest_checks`), drop duplicates (message id
already in the ledger or twice in the batch), lock each device's sequence, record missing sequence
ranges as gaps (and fill them when late messages arrive), quarantine replays, then write the ledger
rows, the readings, frames, counts and status, and the quarantine rows, all through ``store/``. The
frame announcement (``NOTIFY``) is transactional, so the vision worker hears of a frame only after its
row is committed. The caller acknowledges the MQTT messages after this returns.

Unlike the other use cases, a batch is its own transaction (``conn.transaction()``: committed on return,
a savepoint when the caller has one open): a batch the database refuses is rolled back and written
again one message at a time, and the messages may only be acknowledged once their batch is committed.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import psycopg

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
from store.counts import CountRow, write_counts
from store.db_failures import is_transient
from store.frames import put_blob
from store.ingest_copy import copy_readings
from store.ingest_devices import DeviceRegistry
from store.ingest_sequences import (
    SequenceAdvance,
    SequenceKey,
    advance_sequences,
    close_gap,
    lock_open_gap,
    lock_sequences,
    record_gap,
    reshape_gap,
    split_gap,
)
from store.ingest_writer import (
    FrameRow,
    LedgerRow,
    QuarantineRow,
    StatusRow,
    announce_frame,
    insert_frame,
    insert_ledger_rows,
    insert_quarantine,
    mark_devices_seen,
    stored_at_of,
    upsert_status,
)
from usecases.ingest_checks import Accepted, Inbound, Rejected, check, parse

log = logging.getLogger(__name__)

__all__ = ["UNPROVEN_INTERVAL", "BatchResult", "IngestWriter"]

UNPROVEN_INTERVAL: tuple[int, None] = (0, None)
"""The ``(count_low, count_high)`` of a count no interval calibration vouches for: at least 0, no upper end."""


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


def _sequence_key(a: Accepted) -> SequenceKey:
    return (a.device.device_id, a.device.key_epoch)


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
            fresh = self._check_sequences(conn, fresh, rejected, result)
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
        """Count redeliveries as duplicates and quarantine a message id stored longer ago than a redelivery."""
        if not accepted:
            return []
        known: dict[UUID, datetime | None] = dict(stored_at_of(conn, [a.decoded.message.message_id for a in accepted]))
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
        self, conn: psycopg.Connection, fresh: list[Accepted], rejected: list[Rejected], result: BatchResult
    ) -> list[Accepted]:
        """Record gaps and quarantine replays; sequences are per (device, key epoch).

        A message at or below its device's last sequence that is now in the ledger is a duplicate, not a
        replay: the broker or the device sent it twice, another ingest worker stored the other copy, and
        this worker waited for that commit on the device's sequence lock (its own duplicate check ran
        before it).
        """
        data = [a for a in fresh if a.decoded.message.kind != MessageKind.STATUS]
        if not data:
            return fresh
        farm_of = {_sequence_key(a): a.device.farm_id for a in data}
        last = lock_sequences(conn, farm_of)
        start = dict(last)
        keep: set[int] = set()
        stored_meanwhile: set[UUID] | None = None  # read once, only when a message looks like a replay
        for a in sorted(data, key=lambda a: (*_sequence_key(a), a.decoded.message.seq)):
            key, seq = _sequence_key(a), a.decoded.message.seq
            if seq > last[key]:
                if seq > last[key] + 1:
                    record_gap(conn, key, farm_id=farm_of[key], seq_from=last[key] + 1, seq_to=seq - 1)
                last[key] = seq
                keep.add(id(a))
            elif _fill_gap(conn, key, seq):
                keep.add(id(a))
            else:
                if stored_meanwhile is None:
                    stored_meanwhile = set(stored_at_of(conn, [d.decoded.message.message_id for d in data]))
                if a.decoded.message.message_id in stored_meanwhile:
                    result.duplicate += 1
                    continue
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
        changed = [k for k in sorted(farm_of) if last[k] != start[k]]
        advance_sequences(
            conn,
            [
                SequenceAdvance(
                    *key,
                    last_seq=last[key],
                    first_seq=min(a.decoded.message.seq for a in data if _sequence_key(a) == key),
                )
                for key in changed
            ],
        )
        return [a for a in fresh if a.decoded.message.kind == MessageKind.STATUS or id(a) in keep]

    def _store(self, conn: psycopg.Connection, fresh: list[Accepted], result: BatchResult) -> None:
        """Write the ledger rows, then the readings, frames, counts and status of the messages new to it."""
        if not fresh:
            return
        new_ids = insert_ledger_rows(conn, [_ledger_row(a) for a in fresh])
        result.duplicate += len(fresh) - len(new_ids)  # lost a race with another worker
        stored = [a for a in fresh if a.decoded.message.message_id in new_ids]
        result.stored += len(stored)
        telemetry = [a.decoded.message for a in stored if isinstance(a.decoded.message, TelemetryMessage)]
        if telemetry:
            result.readings += copy_readings(conn, telemetry)
        counts: list[CountRow] = []
        for a in stored:
            m = a.decoded.message
            if isinstance(m, FrameMessage):
                self._store_frame(conn, a, m, result)
            elif isinstance(m, CountMessage):
                counts.extend(self._count_rows(a, m))
            elif isinstance(m, StatusMessage):
                upsert_status(conn, _status_row(a, m))
        # one write for the batch: its daily rollup rows are updated once each, in key order (no deadlock
        # with a vision worker rolling up the same days)
        write_counts(conn=conn, rows=counts)
        mark_devices_seen(conn, (a.device.device_id for a in stored))

    def _store_frame(self, conn: psycopg.Connection, a: Accepted, m: FrameMessage, result: BatchResult) -> None:
        """Store the blob once by content, and a ``frames`` row per frame message.

        When the first frame ever stored with these bytes is another farm's, the row is flagged as a recycled
        photo: ``recycled_of`` names that frame message. A farm's own repeated bytes are not flagged.
        """
        assert a.decoded.blob is not None
        sha, rel = put_blob(self.frame_dir, data=a.decoded.blob, sha256=m.body.sha256)
        row = FrameRow(
            sha256=sha,
            farm_id=m.farm_id,
            device_id=m.device_id,
            camera_id=m.body.camera_id,
            captured_at=m.body.captured_at,
            received_at=a.inbound.received_at,
            path=rel,
            bytes=m.body.bytes,
            message_id=m.message_id,
        )
        stored = insert_frame(conn, row)
        if stored is None:
            return
        if stored.recycled_of is not None:
            log.warning(
                "frame %s of farm %s has the bytes of frame %s of another farm: flagged as recycled",
                m.message_id,
                m.farm_id,
                stored.recycled_of,
            )
        announce_frame(conn, sha)
        result.frames.append(sha)

    def _count_rows(self, a: Accepted, m: CountMessage) -> list[CountRow]:
        """Store the thumbnail under ``evidence_dir/edge``; return the message's ``livestock_counts`` rows.

        An on-device count gets the interval ``[0, unbounded)`` (:data:`UNPROVEN_INTERVAL`): no calibration
        vouches for it. The interval calibration holds only for counts made as it records per camera profile
        (the PyTorch weights it names, pen threshold 0.6, wide at 640 px and aerial tiled with soft counts),
        while the device counts with its ONNX export at 416 px and ``<stem>.thresholds.json`` (pen 0.3). So
        credit lends nothing on the device's count beyond what the worker's calibrated counts prove, and
        flags the camera as unbounded, instead of valuing the farm's day at its point count.
        """
        assert a.decoded.blob is not None
        _sha, rel = put_blob(self.evidence_dir / "edge", data=a.decoded.blob, sha256=m.body.sha256)
        return [
            CountRow(
                time=m.body.captured_at,
                farm_id=m.farm_id,
                device_id=m.device_id,
                camera_id=m.body.camera_id,
                species=species,
                count=count,
                method="edge_snapshot",
                model_sha256=m.body.model_sha256,
                frame_sha256=m.body.frame_sha256,
                phash=m.body.phash,
                evidence_path=f"edge/{rel}",
                count_low=UNPROVEN_INTERVAL[0],
                count_high=UNPROVEN_INTERVAL[1],
            )
            for species, count in sorted(m.body.counts.items())
        ]

    @staticmethod
    def _quarantine(conn: psycopg.Connection, rejected: list[Rejected], result: BatchResult) -> None:
        """Keep every rejected message with its reason, and count it."""
        if not rejected:
            return
        insert_quarantine(
            conn,
            [
                QuarantineRow(
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


def _fill_gap(conn: psycopg.Connection, key: SequenceKey, seq: int) -> bool:
    """Take ``seq`` out of the open gap that contains it (closing, shrinking or splitting it); False if none does."""
    gap = lock_open_gap(conn, key, seq=seq)
    if gap is None:
        return False
    low, high = gap.seq_from, gap.seq_to
    if low == high:
        close_gap(conn, key, seq_from=low)
    elif seq == low:
        reshape_gap(conn, key, seq_from=low, new_from=low + 1, new_to=high)
    elif seq == high:
        reshape_gap(conn, key, seq_from=low, new_from=low, new_to=high - 1)
    else:
        reshape_gap(conn, key, seq_from=low, new_from=low, new_to=seq - 1)
        split_gap(conn, key, seq_from=low, new_from=seq + 1, new_to=high)
    return True


def _ledger_row(a: Accepted) -> LedgerRow:
    m = a.decoded.message
    return LedgerRow(
        message_id=m.message_id,
        farm_id=m.farm_id,
        device_id=m.device_id,
        kind=m.kind.value,
        seq=m.seq,
        device_time=m.device_time,
        received_at=a.inbound.received_at,
        readings=len(m.body.readings) if isinstance(m, TelemetryMessage) else 0,
        key_epoch=a.device.key_epoch,
    )


def _status_row(a: Accepted, m: StatusMessage) -> StatusRow:
    return StatusRow(
        device_id=m.device_id,
        farm_id=m.farm_id,
        online=m.body.online,
        spool_depth=m.body.spool_depth,
        last_seq=m.body.last_seq,
        clock_skew_s=(a.inbound.received_at - m.device_time).total_seconds(),
        dropped=m.body.dropped,
        body=json.loads(m.body.model_dump_json()),
        device_time=m.device_time,
        received_at=a.inbound.received_at,
    )
