"""Daily rollups (issue #17): equal to the raw rows after random, late and duplicate messages, and under
concurrent writers; the credit record read from them equals the raw-row read it replaced.

Every row goes through the real writers: ingest's :class:`usecases.ingest.IngestWriter` (telemetry, frames,
edge counts) and the vision worker's :func:`usecases.frame_counts.count_pending_frames`. The expected
rollups are recomputed here from the raw rows (SQL for the sensors, a plain Python loop for the count
histograms and their interval ends); the expected record is the raw-row read as it was before the rollups,
with issue #16's count intervals (``tests/store/record_reference.py``). Count intervals come from the vision
worker (a race calibration: bounded; other profiles: unbounded above; some rounds none) and from random
rows through :func:`store.counts.write_counts` (bounded, unbounded, none, recycled, declared, quarantined frames).
"""

from __future__ import annotations

import hashlib
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from credit import D
from edge.protocol import MessageKind, encode_binary, reading_dict, sha256_hex
from store.counts import CountRow, write_counts
from store.credit_records import read_farm_record, read_farm_records
from store.rollups import rebuild_daily_rollups
from store.timescale import run_retention
from tests.edge.dbutil import cloned_db
from tests.store.record_reference import raw_farm_record
from tests.usecases.test_ingest import Device
from tests.vision.test_worker import SquareCounter, jpeg_with_squares
from usecases.frame_counts import count_pending_frames
from usecases.ingest import IngestWriter
from vision.intervals import IntervalCalibration, IntervalMethod, ProfileCalibration

NOW = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
RACE_ONLY = IntervalCalibration(0.9, {"race": ProfileCalibration(IntervalMethod(), 9, -1.0, 1.0)}, "d" * 64)
UNBOUNDED = 2**31 - 1  # the key of an unbounded upper end in high_frames (migration 0092)
METRICS = {
    "barn_temperature_c": (12.0, 30.0, 2),
    "water_flow_l_min": (0.0, 3.0, 3),
    "gps_lat_deg": (-0.3005, -0.2995, 6),
    "gps_lon_deg": (36.0995, 36.1005, 6),
}


@pytest.fixture
def db_url_fresh(admin_url, template_db):
    with cloned_db(admin_url, template_db) as url:
        yield url


def sensor_rollups(conn):
    rows = conn.execute(
        """SELECT farm_id, day, device_id, metric, readings, value_sum, value_sum_sq, value_min, value_max, last_time,
                  (SELECT array_agg(v ORDER BY v) FROM unnest(gps_values) v)
           FROM sensor_days"""
    ).fetchall()
    return {r[:4]: r[4:] for r in rows}


def sensor_recomputed(conn):
    rows = conn.execute(
        """SELECT farm_id, (time AT TIME ZONE 'UTC')::date, device_id, metric, count(*), sum(value::numeric),
                  sum(value::numeric * value::numeric), min(value), max(value), max(time),
                  array_agg(value ORDER BY value) FILTER (WHERE metric LIKE 'gps%%')
           FROM sensor_readings GROUP BY 1, 2, 3, 4"""
    ).fetchall()
    return {r[:4]: r[4:] for r in rows}


def count_rollups(conn):
    rows = conn.execute(
        "SELECT farm_id, day, device_id, camera_id, species, count_rows, counted_rows, last_time, head_frames, "
        "low_frames, high_frames FROM count_days"
    ).fetchall()
    return {r[:5]: (*r[5:8], *({int(k): v for k, v in h.items()} for h in r[8:11])) for r in rows}


def count_recomputed(conn):
    """Row by row in Python: every row counts, declared ones are not counted, evidence not recycled is the histogram.

    The interval histograms hold the evidence rows that carry an interval, an unbounded upper end as UNBOUNDED.
    """
    out: dict = {}
    for farm, t, device, camera, species, count, method, flags, low, high in conn.execute(
        "SELECT farm_id, time, device_id, camera_id, species, count, method, flags, count_low, count_high "
        "FROM livestock_counts WHERE device_id IS NOT NULL"
    ).fetchall():
        key = (farm, t.astimezone(UTC).date(), device, camera or "", species)
        rows, counted, last, heads, lows, highs = out.get(key, (0, 0, t, Counter(), Counter(), Counter()))
        if method in ("snapshot", "edge_snapshot") and "recycled_photo" not in flags:
            heads[count] += 1
            if low is not None:
                lows[low] += 1
                highs[UNBOUNDED if high is None else high] += 1
        out[key] = (rows + 1, counted + (method != "declared"), max(last, t), heads, lows, highs)
    return {k: (*v[:3], *({h: n for h, n in c.items() if n} for c in v[3:])) for k, v in out.items()}


def assert_rollups_exact(conn):
    assert sensor_rollups(conn) == sensor_recomputed(conn)
    assert count_rollups(conn) == count_recomputed(conn)


class Feed:
    """Random signed messages of a few devices over the ten days before NOW, with late and repeated ones."""

    def __init__(self, conn, rng: random.Random):
        self.rng = rng
        farms = [None, None]
        self.devices = []
        for i in range(4):
            dev = Device(conn, name=f"roll{i}", farm_id=farms[i % 2], now=NOW)
            farms[i % 2] = dev.farm_id
            self.devices.append(dev)
        self.seq = dict.fromkeys((d.device_id for d in self.devices), 0)
        self.sent: list = []
        self.withheld: list = []

    def _when(self):
        return NOW - timedelta(days=self.rng.randint(0, 9), seconds=self.rng.randint(1, 86_000))

    def _next(self, dev):
        seq = self.seq[dev.device_id]
        self.seq[dev.device_id] += 1
        return seq

    def telemetry(self, dev):
        rows = []
        for _ in range(self.rng.randint(1, 12)):
            metric = self.rng.choice(list(METRICS))
            low, high, places = METRICS[metric]
            value = round(self.rng.uniform(low, high), places)
            rows.append(reading_dict(metric=metric, value=value, time=self._when()))
        env = dev.envelope(MessageKind.TELEMETRY, self._next(dev), {"readings": rows})
        return dev.inbound(MessageKind.TELEMETRY, env)

    def frame(self, dev, jpeg):
        body = {
            "camera_id": self.rng.choice(["gate", "pen"]),
            "captured_at": self._when().isoformat(),
            "sha256": sha256_hex(jpeg),
            "bytes": len(jpeg),
        }
        env = dev.envelope(MessageKind.FRAME, self._next(dev), body)
        return dev.inbound(MessageKind.FRAME, encode_binary(env, jpeg))

    def count(self, dev, frame_sha256):
        thumb = b"\xff\xd8thumb" + self.rng.randbytes(8) + b"\xff\xd9"
        body = {
            "camera_id": self.rng.choice(["gate", "pen"]),
            "captured_at": self._when().isoformat(),
            "counts": {"sheep": self.rng.randint(8, 14), "goat": self.rng.randint(0, 3)},
            "model_sha256": hashlib.sha256(b"model").hexdigest(),
            "frame_sha256": frame_sha256,
            "phash": f"{self.rng.getrandbits(64):016x}",
            "sha256": sha256_hex(thumb),
            "bytes": len(thumb),
        }
        env = dev.envelope(MessageKind.COUNT, self._next(dev), body)
        return dev.inbound(MessageKind.COUNT, encode_binary(env, thumb))

    def batch(self):
        """New messages, some withheld for a later batch (late: a gap filled), some sent again (duplicates)."""
        fresh = []
        for dev in self.devices:
            for _ in range(self.rng.randint(1, 4)):
                fresh.append(self.telemetry(dev))
            if self.rng.random() < 0.7:
                # a decodable frame (the vision worker counts it), or bytes it cannot decode (quarantined),
                # and an edge count that cites the frame
                jpeg = (
                    jpeg_with_squares(self.rng.randint(1, 6), seed=self.rng.randint(0, 5))
                    if self.rng.random() < 0.8
                    else b"\xff\xd8\xff\xe0not-a-jpeg" + self.rng.randbytes(6) + b"\xff\xd9"
                )
                fresh.append(self.frame(dev, jpeg))
                fresh.append(self.count(dev, sha256_hex(jpeg)))
        self.rng.shuffle(fresh)
        late, self.withheld = self.withheld, [m for m in fresh if self.rng.random() < 0.2]
        out = [m for m in fresh if m not in self.withheld] + late
        out += self.rng.sample(self.sent, min(len(self.sent), 3))  # redeliveries of stored messages
        out += self.rng.sample(out, 2)  # the same message twice in one batch
        self.sent += out
        return out


def _vision_round(conn, tmp_path, *, intervals=RACE_ONLY):
    with conn.transaction():
        count_pending_frames(
            conn,
            model=SquareCounter(),
            frame_dir=tmp_path / "frames",
            evidence_dir=tmp_path / "ev",
            batch_size=64,
            intervals=intervals,
        )


def _random_counts(conn, feed, rng):
    """Count rows with random intervals through the store's writer, some citing quarantined or counted frames."""
    frames = [r[0] for r in conn.execute("SELECT sha256 FROM frames ORDER BY sha256").fetchall()] or [None]
    rows = []
    for _ in range(rng.randint(10, 30)):
        dev = rng.choice(feed.devices)
        count = rng.randint(0, 14)
        low = rng.choice([None, max(count - rng.randint(0, 3), 0)])
        rows.append(
            CountRow(
                time=feed._when(),
                farm_id=dev.farm_id,
                species=rng.choice(["sheep", "goat"]),
                count=count,
                method=rng.choice(["snapshot", "snapshot", "edge_snapshot", "declared", "window"]),
                device_id=dev.device_id,
                camera_id=rng.choice(["gate", "pen", None]),
                frame_sha256=rng.choice(frames),
                flags=("recycled_photo",) if rng.random() < 0.1 else (),
                count_low=low,
                count_high=None if low is None or rng.random() < 0.2 else count + rng.randint(0, 4),
            )
        )
    with conn.transaction():
        write_counts(conn=conn, rows=rows)


def _reprofile(conn, feed, rng):
    """Give each device a random camera profile (the record reads the device's current one)."""
    for dev in feed.devices:
        profile = rng.choice(["race", "race", "pen", "wide"])
        conn.execute("UPDATE devices SET camera_profile = %s WHERE id = %s", (profile, dev.device_id))


def test_rollups_equal_the_raw_rows_after_random_late_and_duplicate_messages(db_url_fresh, tmp_path):
    writer = IngestWriter(frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence", clock=lambda: NOW)
    with psycopg.connect(db_url_fresh, autocommit=True) as conn:
        feed = Feed(conn, random.Random(17))
        rng = random.Random(16)
        for _ in range(8):
            _reprofile(conn, feed, rng)
            result = writer.write_batch(conn, feed.batch())
            assert result.duplicate >= 2 and result.stored > 0
            _vision_round(conn, tmp_path, intervals=RACE_ONLY if rng.random() < 0.8 else None)
            _random_counts(conn, feed, rng)
            assert_rollups_exact(conn)
        writer.write_batch(conn, feed.withheld)  # the last late messages
        _vision_round(conn, tmp_path)
        assert_rollups_exact(conn)
        statuses = dict(conn.execute("SELECT status, count(*) FROM frames GROUP BY 1").fetchall())
        assert statuses.keys() == {"counted", "quarantined"}  # both paths were taken
        farms = sorted({d.farm_id for d in feed.devices})

        # the credit record from the rollups is the raw-row read, for a window ending mid-day and at midnight
        midnight = NOW.replace(hour=0, minute=0)
        for as_of, days in ((NOW, 60), (NOW, 5), (midnight, 7), (midnight - timedelta(hours=3), 3)):
            batch = read_farm_records(conn, farm_ids=farms, as_of=as_of, window_days=days)
            for farm in farms:
                expected = raw_farm_record(conn, farm_id=farm, as_of=as_of, window_days=days)
                assert batch[str(farm)] == expected
                assert batch[str(farm)].record_hash() == expected.record_hash()
                assert read_farm_record(conn, farm_id=farm, as_of=as_of, window_days=days) == expected
        record = batch[str(farms[0])]
        assert record.sensor_days and record.herd_days and any(d.lat_deg is not None for d in record.devices)
        # every interval case was read: bounded and unbounded days, and days without an interval
        records = read_farm_records(conn, farm_ids=farms, as_of=NOW, window_days=60).values()
        herd = [d for r in records for d in r.herd_days]
        ends = {(d.head_low is None, d.head_high is None) for d in herd}
        assert ends == {(True, True), (False, True), (False, False)}
        cameras = [c for r in records for c in r.camera_intervals or ()]
        assert any(c.unbounded_days for c in cameras) and any(c.width_total for c in cameras)
        assert {c.profile for c in cameras} > {"race"}

        # a rebuild from the raw rows gives the same rollups
        before = (sensor_rollups(conn), count_rollups(conn))
        rebuild_daily_rollups(conn, farm_ids=farms)
        assert (sensor_rollups(conn), count_rollups(conn)) == before


def test_migration_0092_backfills_the_interval_histograms_from_the_raw_rows(db_url_fresh, tmp_path):
    """Rollups written before 0092 had no interval histograms: its backfill gives what the writers keep."""
    from store.migrations import load_migrations

    (backfill,) = [m for m in load_migrations() if m.version == 92]
    writer = IngestWriter(frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence", clock=lambda: NOW)
    with psycopg.connect(db_url_fresh, autocommit=True) as conn:
        feed, rng = Feed(conn, random.Random(5)), random.Random(6)
        for _ in range(3):
            _reprofile(conn, feed, rng)
            writer.write_batch(conn, feed.batch())
            _vision_round(conn, tmp_path)
            _random_counts(conn, feed, rng)
        kept = count_rollups(conn)
        assert any(lows for *_, lows, _highs in kept.values())
        conn.execute("UPDATE count_days SET low_frames = '{}', high_frames = '{}'")
        assert count_rollups(conn) != kept
        conn.execute(backfill.sql)  # its column additions are IF NOT EXISTS: the file runs again as it is
        assert count_rollups(conn) == kept == count_recomputed(conn)


def test_concurrent_ingest_and_vision_writers_keep_exact_rollups(db_url_fresh, tmp_path):
    """Two ingest writers and two vision workers at once on the same farms and days."""
    with psycopg.connect(db_url_fresh, autocommit=True) as setup:
        feed = Feed(setup, random.Random(29))
        batches = [feed.batch() for _ in range(12)] + [feed.withheld]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def ingest(mine):
        writer = IngestWriter(frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence", clock=lambda: NOW)
        with psycopg.connect(db_url_fresh, autocommit=True) as conn:
            start.wait()
            for batch in mine:
                writer.write_batch(conn, batch)

    def vision():
        with psycopg.connect(db_url_fresh, autocommit=True) as conn:
            start.wait()
            for _ in range(25):
                _vision_round(conn, tmp_path)

    def run(target, *args):
        try:
            target(*args)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(ingest, batches[0::2])),
        threading.Thread(target=run, args=(ingest, batches[1::2])),
        threading.Thread(target=run, args=(vision,)),
        threading.Thread(target=run, args=(vision,)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(db_url_fresh, autocommit=True) as conn:
        _vision_round(conn, tmp_path)  # frames announced after the workers' last round
        assert conn.execute("SELECT count(*) FROM frames WHERE status = 'pending'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sensor_days").fetchone()[0] > 20
        assert_rollups_exact(conn)


def test_retention_drops_raw_rows_and_keeps_the_rollups(db_url_fresh, tmp_path):
    """The rollups outlive the raw rows: a record over days whose raw rows are gone keeps its daily figures."""
    now = datetime.now(UTC)
    writer = IngestWriter(frame_dir=tmp_path / "frames", evidence_dir=tmp_path / "evidence")
    with psycopg.connect(db_url_fresh, autocommit=True) as conn:
        dev = Device(conn, name="ret", now=now)
        batch = [
            dev.telemetry(seq, values=(20.25, 21.5), at=now - timedelta(days=age))
            for seq, age in enumerate((100, 40, 1))
        ]
        assert writer.write_batch(conn, batch).readings == 6
        as_of = (now - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
        before = read_farm_record(conn, farm_id=dev.farm_id, as_of=as_of)
        rollups = sensor_rollups(conn)
        with conn.transaction():
            run_retention(conn, days=30)
        assert conn.execute("SELECT count(*) FROM sensor_readings").fetchone()[0] == 2  # the day-old readings
        assert sensor_rollups(conn) == rollups
        after = read_farm_record(conn, farm_id=dev.farm_id, as_of=as_of)
        assert after == before
        assert [(s.readings, s.mean, s.stdev) for s in after.sensor_days] == [(2, D("20.8750"), D("0.6250"))]


@pytest.mark.parametrize(
    ("values", "mean", "stdev"),
    [
        ((0.0001, 0.0002), "0.0002", "0.0001"),  # mean 0.00015 and deviation 0.00005: ties go away from zero
        ((-0.0001, -0.0002), "-0.0002", "0.0001"),
        ((1.0, 2.0, 3.0, 4.0), "2.5000", "1.1180"),  # sqrt(1.25) = 1.11803...
        ((2.0, 2.0, 2.0), "2.0000", "0.0000"),
        ((-0.00001, 0.0), "0.0000", "0.0000"),  # never a negative zero
        ((21.3, 21.4, 21.35, 21.31), "21.3400", "0.0394"),  # squares 0.0016+0.0036+0.0001+0.0009; sqrt(0.00155)=0.03937
    ],
)
def test_daily_figures_are_rounded_once_from_the_exact_sums(conn, values, mean, stdev):
    farm = uuid.uuid4()
    day = datetime(2026, 4, 2, tzinfo=UTC)
    conn.execute("INSERT INTO farms (id, name, region) VALUES (%s, 'rounding', 'nakuru')", (farm,))
    for i, v in enumerate(values):
        conn.execute(
            "INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) "
            "VALUES (%s, %s, 'd1', 'barn_temperature_c', %s, 'C', %s)",
            (day + timedelta(hours=i), farm, v, uuid.uuid4()),
        )
    rebuild_daily_rollups(conn, farm_ids=[farm])
    (row,) = read_farm_record(conn, farm_id=farm, as_of=day + timedelta(days=1), window_days=1).sensor_days
    assert (row.readings, str(row.mean), str(row.stdev)) == (len(values), mean, stdev)
