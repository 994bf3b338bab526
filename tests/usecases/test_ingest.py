"""The ingest use case against a real PostgreSQL: exactly-once, gaps, quarantine, frames, counts, counters."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from edge.keys import DeviceKey
from edge.protocol import (
    MessageKind,
    build_envelope,
    decode,
    encode_binary,
    reading_dict,
    sha256_hex,
    topic_for,
)
from store.ingest_devices import ensure_farm, register_device, revoke_device
from store.ingest_writer import read_counters, save_counters
from tests.edge.dbutil import cloned_db
from usecases.ingest import IngestWriter
from usecases.ingest_checks import Inbound
from usecases.ingest_counters import IngestCounters

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Device:
    """A registered test device that builds signed payloads."""

    def __init__(self, conn, name="dev-1", farm_id=None, key=None, now=NOW):
        self.now = now
        self.farm_id = farm_id or uuid.uuid4()
        self.device_id = f"{name}-{uuid.uuid4().hex[:6]}"
        self.key = key or DeviceKey.generate()
        ensure_farm(conn, farm_id=self.farm_id, name="test farm")
        register_device(conn, device_id=self.device_id, farm_id=self.farm_id, public_key=self.key.public_raw)

    def envelope(self, kind, seq, body, **kw):
        return build_envelope(
            kind=kind,
            farm_id=self.farm_id,
            device_id=self.device_id,
            seq=seq,
            body=body,
            signer=self.key,
            device_time=kw.pop("device_time", self.now),
            **kw,
        )

    def telemetry(self, seq, values=(21.5, 22.0), metric="barn_temperature_c", at=None, **kw):
        at = at or self.now
        readings = [reading_dict(metric=metric, value=v, time=at - timedelta(seconds=i)) for i, v in enumerate(values)]
        env = self.envelope(MessageKind.TELEMETRY, seq, {"readings": readings}, **kw)
        return self.inbound(MessageKind.TELEMETRY, (env))

    def inbound(self, kind, payload, topic=None):
        return Inbound(topic or topic_for(farm_id=self.farm_id, device_id=self.device_id, kind=kind), payload, self.now)


@pytest.fixture
def fresh_url(admin_url, template_db):
    with cloned_db(admin_url, template_db) as url:
        yield url


@pytest.fixture
def db(fresh_url):
    with psycopg.connect(fresh_url) as conn:
        yield conn


@pytest.fixture
def writer(tmp_path):
    return IngestWriter(frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence", clock=lambda: NOW)


def readings(conn, device_id):
    return conn.execute("SELECT count(*) FROM sensor_readings WHERE device_id = %s", (device_id,)).fetchone()[0]


def gaps(conn, device_id, open_only=True):
    sql = "SELECT seq_from, seq_to FROM device_gaps WHERE device_id = %s"
    sql += " AND closed_at IS NULL" if open_only else ""
    return conn.execute(sql + " ORDER BY seq_from", (device_id,)).fetchall()


def test_batch_stores_readings_once_and_redelivery_is_a_duplicate(db, writer):
    dev = Device(db)
    db.commit()
    batch = [dev.telemetry(0), dev.telemetry(1, values=(1.0, 2.0, 3.0))]
    result = writer.write_batch(db, batch)
    assert (result.stored, result.readings, result.duplicate) == (2, 5, 0)
    again = writer.write_batch(db, [*batch, batch[0]])
    assert (again.stored, again.duplicate, again.readings) == (0, 3, 0)
    assert readings(db, dev.device_id) == 5
    assert db.execute("SELECT count(*) FROM ingest_messages").fetchone()[0] == 2


def test_gaps_are_recorded_and_filled_by_late_messages(db, writer):
    dev = Device(db)
    db.commit()
    writer.write_batch(db, [dev.telemetry(0), dev.telemetry(5), dev.telemetry(9)])
    assert gaps(db, dev.device_id) == [(1, 4), (6, 8)]
    writer.write_batch(db, [dev.telemetry(1), dev.telemetry(3), dev.telemetry(7)])
    assert gaps(db, dev.device_id) == [(2, 2), (4, 4), (6, 6), (8, 8)]
    writer.write_batch(db, [dev.telemetry(2), dev.telemetry(4), dev.telemetry(6), dev.telemetry(8)])
    assert gaps(db, dev.device_id) == []
    assert len(gaps(db, dev.device_id, open_only=False)) == 4  # closed, kept for history
    assert readings(db, dev.device_id) == 20


def test_copies_of_a_message_at_two_workers_at_once_are_one_stored_and_one_duplicate(db, writer, fresh_url):
    """Two ingest workers get copies of one message at once: both pass the duplicate check before either
    commits, then the second waits on the device's sequence lock. It must count a duplicate, not a replay."""
    dev = Device(db)
    db.commit()
    message = dev.telemetry(0)
    outcome = {}
    with psycopg.connect(fresh_url) as second:
        with db.transaction():  # the first worker's transaction, held open
            assert writer.write_batch(db, [message]).stored == 1
            pid = second.info.backend_pid
            other = threading.Thread(target=lambda: outcome.update(result=writer.write_batch(second, [message])))
            other.start()
            for _ in range(200):  # until the second worker waits for the first one's sequence lock
                waiting = db.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
                if waiting == ("Lock",):
                    break
                time.sleep(0.05)
            assert waiting == ("Lock",)
        other.join(30)
    result = outcome["result"]
    assert (result.stored, result.duplicate, result.quarantined) == (0, 1, {})
    assert readings(db, dev.device_id) == 2
    assert db.execute("SELECT count(*) FROM ingest_quarantine").fetchone()[0] == 0


def test_replayed_sequence_under_a_new_message_id_is_quarantined(db, writer):
    dev = Device(db)
    db.commit()
    writer.write_batch(db, [dev.telemetry(0), dev.telemetry(1)])
    result = writer.write_batch(db, [dev.telemetry(1, values=(30.0,))])
    assert result.quarantined == {"replay": 1}
    assert readings(db, dev.device_id) == 4


def test_same_message_long_after_it_was_stored_is_a_replay(db, tmp_path):
    dev = Device(db, now=datetime.now(UTC))
    db.commit()
    clock = [datetime.now(UTC)]
    writer = IngestWriter(frame_dir=tmp_path / "f", evidence_dir=tmp_path / "e", clock=lambda: clock[0])
    message = dev.telemetry(0)
    assert writer.write_batch(db, [message]).stored == 1
    assert writer.write_batch(db, [message]).duplicate == 1  # a broker redelivery
    clock[0] += timedelta(hours=1)
    assert writer.write_batch(db, [message]).quarantined == {"replay": 1}
    assert readings(db, dev.device_id) == 2


def _bad_cases(db, now=NOW):
    dev = Device(db, now=now)
    other_farm_dev = Device(db, name="other", now=now)
    revoked = Device(db, name="revoked", now=now)
    revoke_device(db, device_id=revoked.device_id)
    stranger_key = DeviceKey.generate()
    unknown = Device.__new__(Device)
    unknown.farm_id, unknown.device_id, unknown.key, unknown.now = dev.farm_id, "never-registered", stranger_key, now
    forged = Device.__new__(Device)
    forged.farm_id, forged.device_id, forged.key, forged.now = dev.farm_id, dev.device_id, stranger_key, now
    tel = lambda d, seq, **kw: d.telemetry(seq, **kw)  # noqa: E731
    good = json.loads(dev.telemetry(3).payload)
    wrong_type = dict(good, seq="three")
    other_body = {"readings": [reading_dict(metric="humidity_pct", value=50, time=now)]}
    cases = {
        "bad_signature": tel(forged, 10),
        "unknown_device": tel(unknown, 0),
        "revoked_device": tel(revoked, 0),
        "malformed": dev.inbound(MessageKind.TELEMETRY, b'{"schema_version": 1, "seq": '),
        "invalid_schema": dev.inbound(MessageKind.TELEMETRY, json.dumps(wrong_type).encode()),
        "oversize": dev.inbound(MessageKind.TELEMETRY, b" " * (1_048_576 + 1)),
        "future_timestamp": tel(dev, 11, device_time=now + timedelta(minutes=6)),
        "out_of_range": tel(dev, 12, metric="humidity_pct", values=(140.0,)),
        "unknown_metric": tel(dev, 13, metric="moon_phase"),
        "bad_topic": dev.inbound(
            MessageKind.TELEMETRY, dev.telemetry(14).payload, topic="farmtrust/v1/not-a-uuid/x/telemetry"
        ),
        # Device of another farm signs correctly but publishes under this farm's topic.
        "farm_mismatch": Inbound(
            topic_for(farm_id=dev.farm_id, device_id=other_farm_dev.device_id, kind=MessageKind.TELEMETRY),
            (
                build_envelope(
                    kind=MessageKind.TELEMETRY,
                    farm_id=dev.farm_id,
                    device_id=other_farm_dev.device_id,
                    seq=0,
                    body=other_body,
                    signer=other_farm_dev.key,
                    device_time=now,
                )
            ),
            now,
        ),
    }
    return dev, cases


def test_each_bad_input_is_quarantined_with_its_reason_and_nothing_is_stored(db, writer):
    _dev, cases = _bad_cases(db)
    db.commit()
    result = writer.write_batch(db, list(cases.values()))
    assert result.stored == 0
    assert dict(result.quarantined) == {reason: 1 for reason in cases}
    rows = db.execute("SELECT reason, topic, payload FROM ingest_quarantine").fetchall()
    assert sorted(r[0] for r in rows) == sorted(cases)
    by_reason = {r[0]: bytes(r[2]) for r in rows}
    for reason, item in cases.items():
        assert by_reason[reason] == item.payload
    assert db.execute("SELECT count(*) FROM sensor_readings").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM ingest_messages").fetchone()[0] == 0


def test_frame_is_content_addressed_announced_and_stored_once(db, writer, fresh_url, tmp_path):
    dev = Device(db)
    db.commit()
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"
    body = {
        "camera_id": "gate",
        "captured_at": "2026-05-01T11:59:00Z",
        "sha256": sha256_hex(jpeg),
        "bytes": len(jpeg),
        "width": 4,
        "height": 2,
    }
    payload = encode_binary(dev.envelope(MessageKind.FRAME, 0, body), jpeg)
    with psycopg.connect(fresh_url, autocommit=True) as listener:
        listener.execute("LISTEN farmtrust_frames")
        result = writer.write_batch(db, [dev.inbound(MessageKind.FRAME, payload)])
        assert result.frames == [sha256_hex(jpeg)]
        notes = list(listener.notifies(timeout=5, stop_after=1))
    assert notes[0].payload == sha256_hex(jpeg)
    row = db.execute("SELECT path, status, bytes FROM frames").fetchone()
    assert row == (f"{sha256_hex(jpeg)[:2]}/{sha256_hex(jpeg)}.jpg", "pending", len(jpeg))
    assert (tmp_path / "frames" / row[0]).read_bytes() == jpeg
    tampered = payload[:-3] + b"zz\xd9"
    bad = writer.write_batch(db, [dev.inbound(MessageKind.FRAME, tampered)])
    assert bad.quarantined == {"hash_mismatch": 1}


def test_count_message_writes_livestock_counts_and_evidence(db, writer, tmp_path):
    dev = Device(db)
    db.commit()
    thumb = b"\xff\xd8thumbnail\xff\xd9"
    body = {
        "camera_id": "pen",
        "captured_at": "2026-05-01T11:58:00Z",
        "counts": {"sheep": 14, "goat": 2},
        "model_sha256": hashlib.sha256(b"model").hexdigest(),
        "frame_sha256": hashlib.sha256(b"frame").hexdigest(),
        "phash": "ffd8a0c0e0f0f8fc",
        "sha256": sha256_hex(thumb),
        "bytes": len(thumb),
    }
    writer.write_batch(
        db, [dev.inbound(MessageKind.COUNT, encode_binary(dev.envelope(MessageKind.COUNT, 0, body), thumb))]
    )
    rows = db.execute("SELECT species, count, method, evidence_path FROM livestock_counts ORDER BY species").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("goat", 2, "edge_snapshot"), ("sheep", 14, "edge_snapshot")]
    assert (tmp_path / "evidence" / rows[0][3]).read_bytes() == thumb


def _edge_count(dev, seq, counts, captured_at="2026-05-01T11:58:00Z"):
    thumb = b"\xff\xd8thumbnail\xff\xd9"
    body = {
        "camera_id": "edge-cam",
        "captured_at": captured_at,
        "counts": counts,
        "model_sha256": hashlib.sha256(b"onnx model").hexdigest(),
        "frame_sha256": hashlib.sha256(f"frame {seq}".encode()).hexdigest(),
        "phash": "ffd8a0c0e0f0f8fc",
        "sha256": sha256_hex(thumb),
        "bytes": len(thumb),
    }
    return dev.inbound(MessageKind.COUNT, encode_binary(dev.envelope(MessageKind.COUNT, seq, body), thumb))


def test_an_on_device_count_is_stored_unbounded_and_lends_nothing_beyond_the_calibrated_counts(db, writer):
    from credit import decide_limit, load_policy, value_production
    from credit.policy import DEFAULT_POLICY_PATH
    from store.counts import CountRow, write_counts
    from store.credit_records import read_farm_record

    worker_dev = Device(db, name="pen-cam")  # its frames are counted by the vision worker, with intervals
    edge_dev = Device(db, name="edge", farm_id=worker_dev.farm_id)
    db.commit()
    writer.write_batch(db, [_edge_count(edge_dev, 0, {"cattle": 6})])
    rows = db.execute(
        "SELECT count, count_low, count_high FROM livestock_counts WHERE device_id = %s", (edge_dev.device_id,)
    ).fetchall()
    assert rows == [(6, 0, None)]  # no calibration vouches for an on-device count: at least 0, no upper end

    as_of = datetime(2026, 5, 2, tzinfo=UTC)
    before = read_farm_record(db, farm_id=worker_dev.farm_id, as_of=as_of, window_days=5)
    # the edge camera alone: head 6, lower end 0, unbounded above
    assert [(d.head, d.head_low, d.head_high) for d in before.herd_days] == [(6, 0, None)]

    write_counts(
        conn=db,
        rows=[
            CountRow(
                time=datetime(2026, 5, 1, 9, m, tzinfo=UTC),
                farm_id=worker_dev.farm_id,
                device_id=worker_dev.device_id,
                camera_id="pen",
                species="cattle",
                count=c,
                method="snapshot",
                count_low=low,
                count_high=high,
            )
            for m, (c, low, high) in enumerate([(10, 8, 12), (11, 9, 13), (9, 7, 11)])
        ],
    )
    record = read_farm_record(db, farm_id=worker_dev.farm_id, as_of=as_of, window_days=5)
    # worker camera: counts 9 10 11 -> 10, lower ends 7 8 9 -> 8, upper 11 12 13 -> 12;
    # edge camera: 6 in [0, unbounded). The farm's day: head 16, lower end 8 + 0 = 8, unbounded above
    assert [(d.head, d.head_low, d.head_high, d.cameras) for d in record.herd_days] == [(16, 8, None, 2)]
    policy = load_policy(DEFAULT_POLICY_PATH)
    (cattle,) = value_production(record, policy).herds
    # valued on the lower end: 8 head x 55,000 (ft-2025.1 cattle price) = 440,000, not 16 x 55,000 = 880,000
    assert (cattle.head, cattle.head_low, cattle.head_high, cattle.value.number) == (16, 8, None, Decimal("440000.00"))
    # the unproven 6 head add nothing: the worker camera's 10 head alone are valued the same
    db.execute("DELETE FROM livestock_counts WHERE device_id = %s", (edge_dev.device_id,))
    alone = read_farm_record(db, farm_id=worker_dev.farm_id, as_of=as_of, window_days=5)
    assert value_production(alone, policy).herds[0].value.number == Decimal("440000.00")
    # and the edge camera is named to the lender as unbounded
    flags = [r.message for r in decide_limit(record, policy).reasons if r.code == "wide_count_interval"]
    assert len(flags) == 1 and edge_dev.device_id in flags[0] and "unbounded" in flags[0]


def test_status_is_upserted_and_counters_are_summed_across_workers(db, writer):
    dev = Device(db)
    db.commit()
    body = {
        "online": True,
        "spool_depth": 7,
        "spool_bytes": 900,
        "last_seq": 41,
        "clock_skew_s": None,
        "dropped": {"frame": 2},
        "spool_policy": "x",
    }
    result = writer.write_batch(
        db,
        [
            dev.inbound(
                MessageKind.STATUS,
                (dev.envelope(MessageKind.STATUS, 41, body, device_time=NOW - timedelta(seconds=3))),
            )
        ],
    )
    assert result.stored == 1
    row = db.execute("SELECT spool_depth, last_seq, dropped, clock_skew_s FROM device_status").fetchone()
    assert row == (7, 41, {"frame": 2}, 3.0)
    counters = IngestCounters()
    counters.add(result)
    save_counters(db, worker_id="a", snapshot=counters.snapshot())
    save_counters(db, worker_id="b", snapshot=counters.snapshot())
    total = read_counters(db)
    assert (total["workers"], total["received"], total["stored"]) == (2, 2, 2)
    assert sum(total["batch_latency_ms"]["counts"]) == 2


def test_a_message_the_database_refuses_is_quarantined_without_blocking_its_batch(db, writer):
    dev = Device(db)
    db.commit()
    jpeg = b"\xff\xd8nul\xff\xd9"
    body = {
        "camera_id": "gate\u0000",
        "captured_at": "2026-05-01T11:59:00Z",
        "sha256": sha256_hex(jpeg),
        "bytes": len(jpeg),
    }
    poison = dev.inbound(MessageKind.FRAME, encode_binary(dev.envelope(MessageKind.FRAME, 1, body), jpeg))
    with pytest.raises(psycopg.DataError):
        writer.write_batch(db, [dev.telemetry(0), poison])
    result = writer.write_batch_isolating(db, [dev.telemetry(0), poison, dev.telemetry(2)])
    assert (result.stored, result.readings) == (2, 4)
    assert result.quarantined == {"store_rejected": 1}
    assert db.execute("SELECT reason FROM ingest_quarantine").fetchall() == [("store_rejected",)]


def test_times_before_2020_are_quarantined_as_past(db, writer):
    dev = Device(db)
    db.commit()
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    cases = [
        dev.telemetry(0, at=year_one + timedelta(days=1)),  # readings dated year 1, device time today
        dev.telemetry(1, device_time=datetime(2019, 12, 31, 23, 59, tzinfo=UTC)),
        dev.telemetry(2, at=datetime(2020, 1, 1, 0, 0, 1, tzinfo=UTC)),  # readings at 00:00:01 and 00:00:00
    ]
    result = writer.write_batch(db, cases)
    assert (result.stored, result.readings) == (1, 2)
    assert result.quarantined == {"past_timestamp": 2}
    details = [r[0] for r in db.execute("SELECT detail FROM ingest_quarantine ORDER BY id").fetchall()]
    assert "before 2020-01-01" in details[0] and "readings[0].time 0001-01-02" in details[0]
    assert "device_time 2019-12-31" in details[1]
    assert db.execute("SELECT min(time) FROM sensor_readings").fetchone()[0] == datetime(2020, 1, 1, tzinfo=UTC)


def _refuse_device(conn, device_id, sqlstate, message):
    """Make the real server refuse this device's ledger rows with ``sqlstate``, as it does for a poison message."""
    conn.execute(
        f"""
        CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.device_id = '{device_id}' THEN
                RAISE EXCEPTION '{message}' USING ERRCODE = '{sqlstate}';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER test_refuse BEFORE INSERT ON ingest_messages FOR EACH ROW EXECUTE FUNCTION test_refuse();
        """
    )
    conn.commit()


@pytest.mark.parametrize(
    ("sqlstate", "message"),
    [
        ("54000", "index row size 6424 exceeds btree version 4 maximum 2704"),  # program_limit_exceeded
        ("53200", "out of shared memory"),  # out_of_memory (lock table full)
    ],
)
def test_an_operational_data_error_quarantines_its_message_and_stores_the_others(db, writer, sqlstate, message):
    poison_dev, other = Device(db, name="poison"), Device(db, name="other")
    _refuse_device(db, poison_dev.device_id, sqlstate, message)
    batch = [other.telemetry(0), poison_dev.telemetry(0), other.telemetry(1, values=(1.0, 2.0, 3.0))]
    result = writer.write_batch_isolating(db, batch)
    assert (result.stored, result.readings, result.received) == (2, 5, 3)
    assert result.quarantined == {"store_rejected": 1}
    row = db.execute("SELECT reason, detail, device_id, payload FROM ingest_quarantine").fetchone()
    assert row[0] == "store_rejected" and row[2] == poison_dev.device_id and bytes(row[3]) == batch[1].payload
    assert f"SQLSTATE {sqlstate}" in row[1] and message in row[1]
    assert readings(db, other.device_id) == 5 and readings(db, poison_dev.device_id) == 0


def test_a_connection_level_error_is_raised_for_a_retry_and_nothing_is_quarantined(db, writer):
    dev = Device(db)
    _refuse_device(db, dev.device_id, "57P01", "terminating connection due to administrator command")
    with pytest.raises(psycopg.errors.AdminShutdown):
        writer.write_batch_isolating(db, [dev.telemetry(0)])
    assert db.execute("SELECT count(*) FROM ingest_quarantine").fetchone()[0] == 0


def test_failures_are_told_apart_on_real_errors(db, fresh_url):
    from store.db_failures import is_transient

    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect("postgresql://postgres@127.0.0.1:1/postgres", connect_timeout=2)
    assert is_transient(refused.value)
    with pytest.raises(psycopg.errors.ProgramLimitExceeded) as too_big:
        # A btree row over 2704 bytes of random (incompressible) text: the "index row size" of a huge species.
        db.execute("CREATE TEMP TABLE t (s text PRIMARY KEY)")
        db.execute("INSERT INTO t SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 200)")
    assert isinstance(too_big.value, psycopg.OperationalError) and not is_transient(too_big.value, db)
    db.rollback()
    with psycopg.connect(fresh_url) as victim:
        pid = victim.info.backend_pid
        db.execute("SELECT pg_terminate_backend(%s)", (pid,))
        db.commit()
        with pytest.raises(psycopg.OperationalError) as killed:
            victim.execute("SELECT 1")
        assert is_transient(killed.value, victim)


def _frame(dev, seq, jpeg, camera_id="gate"):
    body = {
        "camera_id": camera_id,
        "captured_at": "2026-05-01T11:59:00Z",
        "sha256": sha256_hex(jpeg),
        "bytes": len(jpeg),
    }
    return dev.inbound(MessageKind.FRAME, encode_binary(dev.envelope(MessageKind.FRAME, seq, body), jpeg))


def test_the_same_jpeg_bytes_get_a_frame_row_per_message_and_another_farms_copy_is_flagged(
    db, writer, fresh_url, tmp_path
):
    from farmtrust.workers.vision import VisionWorker
    from tests.vision.test_worker import SquareCounter, jpeg_with_squares

    jpeg = jpeg_with_squares(3, seed=5)
    first, copier = Device(db, name="first"), Device(db, name="copier")
    db.commit()
    original, later = _frame(first, 0, jpeg), _frame(first, 1, jpeg)  # the same camera sends it again
    writer.write_batch(db, [original])
    result = writer.write_batch(db, [_frame(copier, 0, jpeg), later])
    assert result.stored == 2 and result.frames == [sha256_hex(jpeg)] * 2
    rows = db.execute("SELECT device_id, message_id, recycled_of, path FROM frames ORDER BY received_at, device_id")
    by_device = {}
    for device_id, message_id, recycled_of, path in rows.fetchall():
        by_device.setdefault(device_id, []).append((message_id, recycled_of, path))
    first_id = str(decode(original.payload).message.message_id)
    assert [r[1] for r in by_device[first.device_id]] == [None, None]  # its own farm: not a recycled photo
    assert [(str(r[1])) for r in by_device[copier.device_id]] == [first_id]
    assert {r[2] for rs in by_device.values() for r in rs} == {f"{sha256_hex(jpeg)[:2]}/{sha256_hex(jpeg)}.jpg"}
    assert len(list((tmp_path / "frames").rglob("*.jpg"))) == 1  # the blob is stored once

    vision = VisionWorker(
        db_url=fresh_url, model=SquareCounter(), frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "ev"
    )
    assert vision.run_round(db).counted == 3
    counted = db.execute(
        "SELECT device_id, count, flags FROM livestock_counts WHERE species = 'cattle' ORDER BY device_id"
    ).fetchall()
    assert sorted(counted) == sorted(
        [(first.device_id, 3, []), (first.device_id, 3, []), (copier.device_id, 3, ["recycled_photo"])]
    )
    assert db.execute("SELECT count(*) FROM frames WHERE status = 'counted'").fetchone()[0] == 3


def test_a_rotated_key_starts_a_new_epoch_with_its_own_sequence(db, writer):
    from store.ingest_devices import device_key, rotate_device_key

    dev = Device(db)
    db.commit()
    old_key = dev.key
    assert writer.write_batch(db, [dev.telemetry(s) for s in range(3)]).stored == 3
    dev.key = DeviceKey.generate()
    row = rotate_device_key(db, device_id=dev.device_id, public_key=dev.key.public_raw)
    assert row is not None and row.public_key == dev.key.public_raw
    db.commit()
    writer.registry.forget()  # the 5 s cache would otherwise keep the old key for a moment
    restarted = writer.write_batch(db, [dev.telemetry(0), dev.telemetry(1)])
    assert (restarted.stored, restarted.quarantined) == (2, {})
    assert writer.write_batch(db, [dev.telemetry(1, values=(30.0,))]).quarantined == {"replay": 1}
    old = Device.__new__(Device)
    old.farm_id, old.device_id, old.key, old.now = dev.farm_id, dev.device_id, old_key, NOW
    assert writer.write_batch(db, [old.telemetry(3)]).quarantined == {"bad_signature": 1}
    assert readings(db, dev.device_id) == 10
    per_epoch = db.execute(
        "SELECT key_epoch, min(seq), max(seq), count(*) FROM ingest_messages WHERE device_id = %s GROUP BY 1 "
        "ORDER BY 1",
        (dev.device_id,),
    ).fetchall()
    assert per_epoch == [(0, 0, 2, 3), (1, 0, 1, 2)]
    assert db.execute("SELECT count(*) FROM device_gaps").fetchone()[0] == 0
    # both keys stay on record, so messages of either epoch can be verified again
    assert device_key(db, device_id=dev.device_id, key_epoch=0) == old_key.public_raw
    assert device_key(db, device_id=dev.device_id, key_epoch=1) == dev.key.public_raw


def test_re_registering_a_device_with_a_new_key_also_starts_an_epoch(db, writer):
    dev = Device(db)
    db.commit()
    writer.write_batch(db, [dev.telemetry(0), dev.telemetry(1)])
    dev.key = DeviceKey.generate()
    register_device(db, device_id=dev.device_id, farm_id=dev.farm_id, public_key=dev.key.public_raw)
    register_device(db, device_id=dev.device_id, farm_id=dev.farm_id, public_key=dev.key.public_raw)  # same key
    db.commit()
    writer.registry.forget()
    assert writer.write_batch(db, [dev.telemetry(0)]).stored == 1
    assert db.execute("SELECT key_epoch FROM devices WHERE id = %s", (dev.device_id,)).fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM device_keys WHERE device_id = %s", (dev.device_id,)).fetchone()[0] == 2


def test_credit_coverage_counts_each_key_epoch_on_its_own(db, writer):
    from store.credit_records import read_farm_record
    from store.ingest_devices import rotate_device_key

    dev = Device(db)
    db.commit()
    old_days = NOW - timedelta(days=90)  # seq 0-9: before the 60-day window
    writer.write_batch(db, [dev.telemetry(s, device_time=old_days, at=old_days) for s in range(10)])
    writer.write_batch(db, [dev.telemetry(s) for s in range(10, 20)])
    dev.key = DeviceKey.generate()
    rotate_device_key(db, device_id=dev.device_id, public_key=dev.key.public_raw)
    db.commit()
    writer.registry.forget()
    writer.write_batch(db, [dev.telemetry(s) for s in range(5)])
    writer.write_batch(db, [dev.telemetry(7)])  # 5 and 6 of the new epoch are missing
    (cover,) = read_farm_record(db, farm_id=dev.farm_id, as_of=NOW + timedelta(hours=1)).devices
    # in the window: epoch 0 sent 10-19 (10 expected), epoch 1 sent 0-4 and 7 of 0-7 (8 expected)
    assert (cover.messages, cover.expected_messages, cover.missing_messages) == (16, 18, 2)
