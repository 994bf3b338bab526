"""The SQL of the ingest write path, on its own: counter snapshots saved and summed across workers."""

from __future__ import annotations

import psycopg

from store.ingest_writer import read_counters, save_counters

BOUNDS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, "+Inf"]


def test_no_worker_reads_as_zero_with_the_histogram_bounds(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        assert read_counters(conn) == {
            "workers": 0,
            "received": 0,
            "stored": 0,
            "duplicate": 0,
            "readings_stored": 0,
            "frames_stored": 0,
            "batches": 0,
            "quarantined": {},
            "batch_latency_ms": {"buckets": BOUNDS, "counts": [0] * 14, "sum": 0.0, "count": 0},
        }


def test_the_latest_snapshot_of_each_worker_is_summed(fresh_db_url):
    a_old = {"received": 100, "batches": 9, "quarantined": {"replay": 50}}
    a = {
        "received": 3,
        "stored": 2,
        "duplicate": 1,
        "readings_stored": 10,
        "frames_stored": 1,
        "batches": 2,
        "quarantined": {"replay": 1},
        "batch_latency_ms": {"buckets": BOUNDS, "counts": [1, 1] + [0] * 12, "sum": 2.5, "count": 2},
    }
    b = {  # an older worker's snapshot with keys missing counts them as zero
        "received": 4,
        "batches": 1,
        "quarantined": {"replay": 2, "malformed": 1},
        "batch_latency_ms": {"counts": [0] * 13 + [1], "sum": 20000.25},
    }
    with psycopg.connect(fresh_db_url) as conn:
        save_counters(conn, worker_id="a", snapshot=a_old)
        save_counters(conn, worker_id="a", snapshot=a)  # replaces a_old
        save_counters(conn, worker_id="b", snapshot=b)
        conn.commit()
        total = read_counters(conn)
    assert total == {
        "workers": 2,
        "received": 7,
        "stored": 2,
        "duplicate": 1,
        "readings_stored": 10,
        "frames_stored": 1,
        "batches": 3,
        "quarantined": {"replay": 3, "malformed": 1},
        "batch_latency_ms": {"buckets": BOUNDS, "counts": [1, 1] + [0] * 11 + [1], "sum": 20002.75, "count": 3},
    }
