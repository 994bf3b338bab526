"""Issue #12 item 8 end to end: a count naming an unknown species is quarantined at ingest, not stored.

Through a real Mosquitto, the ingest worker and PostgreSQL, like ``test_ingest_worker.py``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from edge.protocol import TOPIC_ROOT, MessageKind, encode_binary, sha256_hex
from farmtrust.services import start_broker
from tests.edge.dbutil import cloned_db
from tests.farmtrust.test_ingest_worker import Running, connected_publisher, wait_for
from tests.usecases.test_ingest import Device
from usecases.farm_records import load_farm_record


@pytest.fixture
def db(admin_url, template_db):
    with cloned_db(admin_url, template_db) as url:
        yield url


def count_message(dev: Device, seq: int, counts: dict[str, int]):
    thumb = b"\xff\xd8thumbnail %d\xff\xd9" % seq
    body = {
        "camera_id": "pen",
        "captured_at": (dev.now - timedelta(seconds=10)).isoformat().replace("+00:00", "Z"),
        "counts": counts,
        "model_sha256": hashlib.sha256(b"model").hexdigest(),
        "frame_sha256": hashlib.sha256(b"frame %d" % seq).hexdigest(),
        "phash": "ffd8a0c0e0f0f8fc",
        "sha256": sha256_hex(thumb),
        "bytes": len(thumb),
    }
    return dev.inbound(MessageKind.COUNT, encode_binary(dev.envelope(MessageKind.COUNT, seq, body), thumb))


def test_a_count_of_an_unknown_species_is_quarantined_and_the_farm_stays_decidable(tmp_path, db):
    with psycopg.connect(db) as conn:
        dev = Device(conn, name="cam", now=datetime.now(UTC))
        conn.commit()
    messages = [count_message(dev, 0, {"sheep": 7, "llama": 2}), count_message(dev, 1, {"sheep": 8})]
    url, protocol, _kind, proc = start_broker(tmp_path / "broker", prefer="mosquitto")
    worker = Running(db, url, protocol, tmp_path, root=TOPIC_ROOT)  # its own broker: the default root
    try:
        client = connected_publisher(url)
        for item in messages:
            client.publish(item.topic, item.payload, qos=1).wait_for_publish(10)
        client.disconnect()
        client.loop_stop()
        assert wait_for(db, "SELECT count(*) FROM ingest_quarantine", 1) == 1
        assert wait_for(db, "SELECT count(*) FROM livestock_counts", 1) == 1
    finally:
        worker.stop()
        proc.terminate()
        proc.wait(5)
    with psycopg.connect(db) as conn:
        reason, detail, device = conn.execute("SELECT reason, detail, device_id FROM ingest_quarantine").fetchone()
        stored = conn.execute("SELECT species, count FROM livestock_counts").fetchall()
        record = load_farm_record(conn, farm_id=dev.farm_id, as_of=dev.now + timedelta(minutes=1))
    assert (reason, device) == ("unknown_species", dev.device_id)
    assert "llama" in detail
    assert stored == [("sheep", 8)]  # the whole quarantined message is kept out, the good one is stored
    assert [(d.species, d.head) for d in record.herd_days] == [("sheep", 8)]
    assert dict(worker.worker.counters.quarantined) == {"unknown_species": 1}
