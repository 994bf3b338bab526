"""Retention: old raw time series go, recent rows stay, on TimescaleDB (chunks) and plain PostgreSQL (rows)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from farmtrust.settings import MqttSettings
from farmtrust.workers.ingest import IngestOptions, IngestWorker
from store.timescale import RETENTION_LOCK_ID, hypertables, run_retention

AGES_DAYS = (100, 40, 1)  # with 30 days kept: the first two go, the last stays


def _fill(url: str) -> uuid.UUID:
    farm = uuid.uuid4()
    with psycopg.connect(url) as conn:
        for age in AGES_DAYS:
            conn.execute(
                "INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) "
                "VALUES (now() - make_interval(days => %s), %s, 'd1', 'temperature_c', 20, 'C', %s)",
                (age, farm, uuid.uuid4()),
            )
            conn.execute(
                "INSERT INTO livestock_counts (time, farm_id, species, count, method) "
                "VALUES (now() - make_interval(days => %s), %s, 'cattle', 5, 'snapshot')",
                (age, farm),
            )
    return farm


def _ages_left(url: str, table: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            f"SELECT round(extract(epoch FROM now() - time) / 86400)::int FROM {table} ORDER BY time"
        ).fetchall()
    return [r[0] for r in rows]


def _chunks(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        if not hypertables(conn):
            return {}
        rows = conn.execute(
            "SELECT hypertable_name, count(*) FROM timescaledb_information.chunks GROUP BY hypertable_name"
        ).fetchall()
    return dict(rows)


def test_retention_drops_what_is_older_than_the_period(fresh_db_url):
    _fill(fresh_db_url)
    chunks_before = _chunks(fresh_db_url)
    with psycopg.connect(fresh_db_url) as conn:
        removed = run_retention(conn, days=30)
        conn.commit()
    # two old readings and two old counts: rows on plain PostgreSQL; each in a chunk of its own under
    # TimescaleDB (1-day chunks for readings, 7-day for counts, 60 days apart)
    assert removed == {"sensor_readings": 2, "livestock_counts": 2}
    assert _ages_left(fresh_db_url, "sensor_readings") == [1]
    assert _ages_left(fresh_db_url, "livestock_counts") == [1]
    if chunks_before:
        assert _chunks(fresh_db_url) == {t: n - 2 for t, n in chunks_before.items()}


def test_a_second_run_while_one_holds_the_lock_does_nothing(fresh_db_url):
    _fill(fresh_db_url)
    with psycopg.connect(fresh_db_url) as holder, psycopg.connect(fresh_db_url) as conn:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (RETENTION_LOCK_ID,))
        assert run_retention(conn, days=30) is None
    assert len(_ages_left(fresh_db_url, "sensor_readings")) == 3


def test_retention_days_below_one_is_refused(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn, pytest.raises(ValueError, match="at least 1"):
        run_retention(conn, days=0)


def test_the_ingest_worker_runs_retention_when_retention_days_is_set(fresh_db_url, mqtt_url, tmp_path):
    _fill(fresh_db_url)
    worker = IngestWorker(
        db_url=fresh_db_url,
        mqtt_settings=MqttSettings(url=mqtt_url),
        frame_dir=tmp_path / "frames",
        evidence_dir=tmp_path / "evidence",
        options=IngestOptions(worker_id=f"w-retention-{uuid.uuid4().hex[:8]}", retention_days=30),
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not worker.retention_runs and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.stop()
    thread.join(20)
    assert worker.retention_runs == [{"sensor_readings": 2, "livestock_counts": 2}]
    assert _ages_left(fresh_db_url, "sensor_readings") == [1]
    assert _ages_left(fresh_db_url, "livestock_counts") == [1]
