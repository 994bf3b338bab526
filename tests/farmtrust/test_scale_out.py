"""Scaling out: two ingest workers and two vision workers at once on one database and one broker.

The ingest workers share one MQTT 5 subscription (the broker hands each message to one of them, and
hands it again when a worker has not acknowledged it); the vision workers claim frames with
``FOR UPDATE SKIP LOCKED``. Every message must be stored once, and every frame counted once, with no
row lost and none written twice, even when devices publish some messages twice (a retry after a lost
acknowledgement) and the copies reach different workers.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from edge.protocol import MessageKind, encode_binary, sha256_hex
from farmtrust.settings import MqttProtocol
from farmtrust.workers.vision import VisionWorker
from tests.conftest import TEST_SHARE_GROUP, TEST_TOPIC_ROOT
from tests.edge.dbutil import cloned_db
from tests.farmtrust.test_ingest_worker import Running, connected_publisher, wait_for
from tests.usecases.test_ingest import Device
from tests.vision.test_worker import SquareCounter, jpeg_with_squares

DEVICES = 4
TELEMETRY_PER_DEVICE = 12
READINGS_PER_MESSAGE = 3
FRAMES_PER_DEVICE = 5
SPECIES = ("cattle", "pig")  # what SquareCounter reports per frame, zero counts included


@pytest.fixture
def db(admin_url, template_db):
    with cloned_db(admin_url, template_db) as url:
        yield url


class MeetingCounter(SquareCounter):
    """SquareCounter whose first batch waits until the other vision worker is counting a batch too.

    Each worker holds its claimed frames' row locks while it counts, so the meeting proves the two
    claimed different frames at the same time (SKIP LOCKED) rather than taking turns.
    """

    def __init__(self, meeting: threading.Barrier) -> None:
        super().__init__()
        self.meeting = meeting

    def detect(self, images):
        if not self.batches:
            self.meeting.wait()
        return super().detect(images)


def _frame_message(dev: Device, seq: int, jpeg: bytes, captured_at: datetime) -> tuple[str, bytes]:
    body = {"camera_id": "pen", "captured_at": captured_at.isoformat(), "sha256": sha256_hex(jpeg), "bytes": len(jpeg)}
    item = dev.inbound(MessageKind.FRAME, encode_binary(dev.envelope(MessageKind.FRAME, seq, body), jpeg))
    return item.topic, item.payload


def _traffic(devices: list[Device], now: datetime) -> tuple[list[tuple[str, bytes]], dict[str, int]]:
    """Each device's telemetry and frames, interleaved, every third message sent twice.

    Returns the messages in publishing order and, per frame sha256, the squares (cattle) drawn in it.
    """
    per_device: list[list[tuple[str, bytes]]] = []
    squares: dict[str, int] = {}
    for d, dev in enumerate(devices):
        items = []
        for k in range(TELEMETRY_PER_DEVICE):
            values = tuple(float(k) + i / 4 for i in range(READINGS_PER_MESSAGE))
            msg = dev.telemetry(k, values=values, at=now - timedelta(minutes=k))
            items.append((msg.topic, msg.payload))
        for f in range(FRAMES_PER_DEVICE):
            n = 1 + (d * FRAMES_PER_DEVICE + f) % 8
            jpeg = jpeg_with_squares(n, seed=100 * d + f)
            squares[sha256_hex(jpeg)] = n
            items.append(_frame_message(dev, TELEMETRY_PER_DEVICE + f, jpeg, now - timedelta(minutes=f)))
        per_device.append(items)
    order = [item for group in zip(*per_device, strict=True) for item in group]
    with_retries = [copy for i, item in enumerate(order) for copy in ([item, item] if i % 3 == 0 else [item])]
    return with_retries, squares


def test_two_ingest_and_two_vision_workers_handle_every_message_and_frame_once(tmp_path, db, mqtt_url):
    now = datetime.now(UTC)
    with psycopg.connect(db) as conn:
        devices = [Device(conn, name=f"scale{d}", now=now) for d in range(DEVICES)]
        conn.commit()
    messages, squares = _traffic(devices, now)
    assert len(squares) == DEVICES * FRAMES_PER_DEVICE  # every frame's bytes differ

    # its own topic root and share group: a stopped worker's session stays in its group on the shared broker
    # (and is dealt messages) until it expires, which must not take other tests' messages
    root, group = f"{TEST_TOPIC_ROOT}-scale", f"{TEST_SHARE_GROUP}-scale"
    suffix = uuid.uuid4().hex[:8]  # client ids are broker-wide: another run's workers must not take ours over
    ingest = [
        Running(db, mqtt_url, MqttProtocol.V5, tmp_path, worker_id=f"w-scale-{i}-{suffix}", root=root, group=group)
        for i in range(2)
    ]
    meeting = threading.Barrier(2, timeout=60)
    counters = [MeetingCounter(meeting) for _ in range(2)]
    stop = threading.Event()
    vision = [
        threading.Thread(
            target=VisionWorker(
                db_url=db, model=model, frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence", batch_size=2
            ).run,
            kwargs={"stop": stop, "idle_wait_s": 0.5},
        )
        for model in counters
    ]
    for thread in vision:
        thread.start()
    try:
        publisher = connected_publisher(mqtt_url)
        for topic, payload in messages:
            topic = root + topic.removeprefix("farmtrust/v1")
            publisher.publish(topic, payload, qos=1).wait_for_publish(10)
        publisher.disconnect()
        publisher.loop_stop()
        frames = DEVICES * FRAMES_PER_DEVICE
        counted = "SELECT count(*) FROM frames WHERE status = 'counted'"
        assert wait_for(db, counted, frames, timeout_s=180) == frames
        readings = DEVICES * TELEMETRY_PER_DEVICE * READINGS_PER_MESSAGE
        assert wait_for(db, "SELECT count(*) FROM sensor_readings", readings, timeout_s=60) == readings
        threading.Event().wait(1.0)  # a late duplicate row would show up now
    finally:
        stop.set()
        for thread in vision:
            thread.join(30)
        for worker in ingest:
            worker.stop()
    assert not any(thread.is_alive() for thread in vision)

    with psycopg.connect(db) as conn:
        per_device = conn.execute(
            "SELECT device_id, count(*), count(DISTINCT seq), min(seq), max(seq) FROM ingest_messages GROUP BY 1"
        ).fetchall()
        sent = TELEMETRY_PER_DEVICE + FRAMES_PER_DEVICE
        assert sorted(per_device) == sorted((dev.device_id, sent, sent, 0, sent - 1) for dev in devices)
        assert (
            conn.execute("SELECT count(*), count(DISTINCT (message_id, metric, time)) FROM sensor_readings").fetchone()
            == (DEVICES * TELEMETRY_PER_DEVICE * READINGS_PER_MESSAGE,) * 2
        )
        frame_rows = conn.execute("SELECT sha256, status FROM frames").fetchall()
        assert sorted(frame_rows) == sorted((sha, "counted") for sha in squares)
        counts = conn.execute("SELECT frame_sha256, species, count FROM livestock_counts").fetchall()
        expected = [(sha, "cattle", n) for sha, n in squares.items()] + [(sha, "pig", 0) for sha in squares]
        assert sorted(counts) == sorted(expected)  # one row per frame and species: none lost, none twice
        assert conn.execute("SELECT count(*) FROM ingest_quarantine").fetchone()[0] == 0
    assert all(w.worker.counters.stored > 0 for w in ingest), [w.worker.counters.stored for w in ingest]
    assert sum(w.worker.counters.stored for w in ingest) == DEVICES * sent
    copies = len(messages) - DEVICES * sent  # each one a duplicate, never a replay (the broker may add some)
    assert sum(w.worker.counters.duplicate for w in ingest) >= copies
    assert all(model.batches for model in counters)  # both vision workers counted (they met while counting)
    assert sum(sum(model.batches) for model in counters) == len(squares)
