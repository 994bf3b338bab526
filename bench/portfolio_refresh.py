"""Credit refresh benchmark: every consenting farm of a book decided again, against the SQL aggregation alone.

Run ``python -m bench.portfolio_refresh [--quick] [--db-url URL] [--farms N]``. In a database of its
own (created from the URL, dropped at the end) it generates, in SQL, a book of 20,000 farms
(``--quick``: 2,000) consenting to one lender, each with a registered camera-and-sensor device and 60
days of data: 3 counted frames a day (random perceptual hashes), a water-flow reading every 4 hours,
a signed telemetry message a day, one maize field and a cooperative delivery; its inserts bypass the
raw rows' writers, so the daily rollups are then rebuilt (:func:`store.rollups.rebuild_daily_rollups`,
timed apart as ``rollup_s``). Then, in this process:

- **baseline**: per batch of 200 farms, only the queries the record's read runs, set-based in SQL (the
  window's sensor and count rollups, as :mod:`store.rollup_reads` queries them, the counted frames, each
  device's message coverage), every row fetched; no record built, nothing decided or written;
- **refresh**: :func:`farmtrust.credit_refresh.run_refresh` over the whole book (records read, each farm
  decided, decisions and audit entries appended in batches, one transaction per batch); with
  ``--workers N``, N partitions at once (``--partition i/N``), a process each, timed from the first
  start to the last end.

It prints a line of figures and, last, one JSON object (``refresh_farms``, ``refresh_farms_per_s``,
``baseline_farms_per_s``, ``ratio``, the generation and rollup times).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from bench.scratch_db import scratch_database
from credit.audit import generate_signing_key
from credit.entry_signing import Ed25519EntrySigner

log = logging.getLogger("bench.portfolio_refresh")

_SIGNER = Ed25519EntrySigner(generate_signing_key())
"""The audit signer of the benchmark's own log (a fresh key: the book is dropped at the end)."""

AS_OF = datetime(2026, 11, 30, tzinfo=UTC)
"""The cycle's decision time (a Monday, 00:00 UTC); the data fills the 60 days before it."""
BATCH = 200
DAYS = 60

_GENERATE = [
    """INSERT INTO organizations (kind, name) VALUES ('cooperative', 'Bench coop'), ('lender', 'Bench lender')""",
    """INSERT INTO farms (cooperative_id, name, region, declared_herd)
       SELECT (SELECT id FROM organizations WHERE kind = 'cooperative'), 'Farm ' || i, 'nakuru',
              jsonb_build_object('cattle', 10 + i %% 7)
       FROM generate_series(1, %(farms)s) i""",
    """CREATE TEMP TABLE bench_farms AS
       SELECT id, row_number() OVER (ORDER BY id) AS n, (declared_herd ->> 'cattle')::int AS head FROM farms""",
    """INSERT INTO devices (id, farm_id, public_key)
       SELECT 'bench-' || n, id, decode(repeat('00', 32), 'hex') FROM bench_farms""",
    """INSERT INTO consents (farm_id, lender_id, granted_by, expires_at)
       SELECT f.id, (SELECT id FROM organizations WHERE kind = 'lender'),
              (SELECT id FROM organizations WHERE kind = 'cooperative'), now() + interval '30 days'
       FROM bench_farms f""",
    # 3 counted frames a day: the herd, one fewer, one more now and then; random 64-bit perceptual hashes
    """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method, phash)
       SELECT %(as_of)s - make_interval(days => d) + make_interval(hours => 7 + 4 * k), f.id, 'bench-' || f.n, 'cam',
              'cattle', greatest(0, f.head - (k %% 2) + ((d + f.n) %% 11 = 0)::int), 'snapshot',
              lpad(to_hex((random() * 4294967295)::bigint), 8, '0')
              || lpad(to_hex((random() * 4294967295)::bigint), 8, '0')
       FROM bench_farms f, generate_series(1, %(days)s) d, generate_series(0, 2) k""",
    # a water-flow reading every 4 hours, scaled to the herd
    """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
       SELECT %(as_of)s - make_interval(days => d) + make_interval(hours => 4 * h), f.id, 'bench-' || f.n,
              'water_flow_l_min', round((0.05 * f.head + random() * 0.2)::numeric, 3)::float8, 'L/min',
              gen_random_uuid()
       FROM bench_farms f, generate_series(1, %(days)s) d, generate_series(0, 5) h""",
    # one signed telemetry message a day, in sequence (the coverage the record reports)
    """INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time, readings)
       SELECT gen_random_uuid(), f.id, 'bench-' || f.n, 'telemetry', %(days)s - d,
              %(as_of)s - make_interval(days => d) + interval '23 hours', 6
       FROM bench_farms f, generate_series(1, %(days)s) d""",
    """INSERT INTO fields (farm_id, external_id, geometry, declared_crop, declared_area_ha)
       SELECT id, 'F1', '{"type": "Polygon", "coordinates": [[[36.0, -0.3], [36.01, -0.3], [36.01, -0.29],
              [36.0, -0.3]]]}'::jsonb, 'maize', 1.5 FROM bench_farms""",
    """INSERT INTO coop_deliveries (farm_id, delivered_on, product, quantity, unit, amount, currency)
       SELECT id, (%(as_of)s - interval '5 days')::date, 'milk', 300, 'L', 15000, 'KES' FROM bench_farms""",
]

_BASELINE = [
    """SELECT farm_id, time, device_id, phash, frame_sha256 FROM livestock_counts
       WHERE farm_id = ANY(%(farms)s::uuid[]) AND time >= %(start)s AND time < %(end)s AND phash IS NOT NULL""",
    """SELECT farm_id, device_id, key_epoch, count(*), min(seq), max(seq) FROM ingest_messages
       WHERE farm_id = ANY(%(farms)s::uuid[]) AND device_time >= %(start)s AND device_time < %(end)s
       GROUP BY 1, 2, 3""",
]


def generate(conn: psycopg.Connection, *, farms: int) -> None:
    """Fill a migrated database with the book (see the module docstring), in SQL, and analyse it."""
    for statement in _GENERATE:
        conn.execute(statement, {"farms": farms, "days": DAYS, "as_of": AS_OF})
    conn.commit()
    for table in ("farms", "consents", "devices", "livestock_counts", "sensor_readings", "ingest_messages"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    conn.commit()


def roll_up(conn: psycopg.Connection) -> None:
    """Rebuild the daily rollups of the generated book (its SQL inserts bypassed the writers), and analyse them."""
    from store.rollups import rebuild_daily_rollups

    farm_ids = [r[0] for r in conn.execute("SELECT id FROM farms ORDER BY id").fetchall()]
    for first in range(0, len(farm_ids), 5_000):
        rebuild_daily_rollups(conn, farm_ids=farm_ids[first : first + 5_000])
    conn.commit()
    for table in ("sensor_days", "count_days"):
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    conn.commit()


def baseline(conn: psycopg.Connection) -> tuple[int, float]:
    """Run only the record's queries, batch by batch over every farm; return (farms, seconds)."""
    from store.rollup_reads import count_window_query, sensor_window_query

    farm_ids = [r[0] for r in conn.execute("SELECT id FROM farms ORDER BY id").fetchall()]
    started = time.perf_counter()
    for first in range(0, len(farm_ids), BATCH):
        window = {"farm_ids": farm_ids[first : first + BATCH], "start": AS_OF - timedelta(days=DAYS), "end": AS_OF}
        params = {"farms": window["farm_ids"], "start": window["start"], "end": window["end"]}
        for query, bound in (sensor_window_query(**window), count_window_query(**window)):
            conn.execute(query, bound).fetchall()
        for statement in _BASELINE:
            conn.execute(statement, params).fetchall()
    conn.rollback()
    return len(farm_ids), time.perf_counter() - started


def _refresh_partition(url: str, number: int, count: int) -> dict[str, Any]:
    """Run partition ``number`` of ``count`` in this (child) process; its summary with wall-clock start and end."""
    from credit.policy import DEFAULT_POLICY_PATH, load_policy
    from farmtrust.credit_refresh import run_refresh
    from usecases.credit_refresh import Partition

    policy = load_policy(DEFAULT_POLICY_PATH)
    with psycopg.connect(url) as conn:
        started = time.time()
        summary = run_refresh(
            conn, as_of=AS_OF, policy=policy, signer=_SIGNER, partition=Partition(number, count), batch_size=BATCH
        )
        ended = time.time()
    return {
        "farms": summary.farms,
        "decisions": summary.decisions,
        "statuses": summary.statuses,
        "failed": len(summary.failed),
        "started": started,
        "ended": ended,
    }


def refresh(url: str, *, workers: int) -> dict[str, Any]:
    """The whole book refreshed by ``workers`` partitions at once (one process each; 1: in this process)."""
    if workers == 1:
        return _refresh_partition(url, 1, 1)
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        parts = list(pool.map(_refresh_partition, [url] * workers, range(1, workers + 1), [workers] * workers))
    statuses: dict[str, int] = {}
    for p in parts:
        for status, n in p["statuses"].items():
            statuses[status] = statuses.get(status, 0) + n
    return {
        "farms": sum(p["farms"] for p in parts),
        "decisions": sum(p["decisions"] for p in parts),
        "statuses": statuses,
        "failed": sum(p["failed"] for p in parts),
        "started": min(p["started"] for p in parts),
        "ended": max(p["ended"] for p in parts),
    }


def run(db_url: str, *, quick: bool, farms: int | None = None, workers: int = 1) -> dict[str, Any]:
    """Generate the book in a database of its own, time the baseline and the refresh; return the figures.

    ``workers`` partitions refresh the book at once, each in a process of its own (``--partition i/n``).
    """
    count = farms or (2_000 if quick else 20_000)
    with scratch_database(db_url, prefix="ft_bench_refresh") as url:
        with psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            generate(conn, farms=count)
            generate_s = time.perf_counter() - t0
            log.info("generated %d farms in %.1f s", count, generate_s)
            t0 = time.perf_counter()
            roll_up(conn)
            rollup_s = time.perf_counter() - t0
            log.info("rolled up %d farms in %.1f s", count, rollup_s)
            base_farms, base_s = baseline(conn)
        done = refresh(url, workers=workers)
    if done["statuses"].get("insufficient_data") or done["farms"] != count:
        # every generated farm has 60 days of data: an empty record means the read missed it (e.g. rollups
        # that the SQL generation bypassed and nobody rebuilt), which would make the figure meaningless
        raise RuntimeError(
            f"decided {done['farms']} of {count} farms, statuses {done['statuses']}: the book was misread"
        )
    refresh_s = done["ended"] - done["started"]
    refresh_per_s = done["farms"] / refresh_s
    baseline_per_s = base_farms / base_s
    return {
        "refresh_farms": done["farms"],
        "refresh_decisions": done["decisions"],
        "refresh_s": round(refresh_s, 2),
        "workers": workers,
        "refresh_farms_per_s": round(refresh_per_s, 1),
        "baseline_farms_per_s": round(baseline_per_s, 1),
        "ratio": round(refresh_per_s / baseline_per_s, 3),
        "approved": done["statuses"].get("approved", 0),
        "failed": done["failed"],
        "batch_size": BATCH,
        "generate_s": round(generate_s, 1),
        "rollup_s": round(rollup_s, 1),
    }


def main() -> None:
    """Parse options, run, print a line of figures and the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 farms (well under 3 minutes)")
    parser.add_argument(
        "--db-url",
        default=os.environ.get("FARMTRUST_DB__URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        help="admin URL of a PostgreSQL (the benchmark creates and drops its own database)",
    )
    parser.add_argument("--farms", type=int, default=None, help="book size (default 20,000; quick 2,000)")
    parser.add_argument("--workers", type=int, default=1, help="partitions refreshing at once, a process each")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures = run(args.db_url, quick=args.quick, farms=args.farms, workers=args.workers)
    if not args.json:
        print(
            f"refresh ({figures['workers']} worker(s)): {figures['refresh_farms']:,} farms "
            f"in {figures['refresh_s']} s, "
            f"{figures['refresh_farms_per_s']} farms/s; the record's queries alone {figures['baseline_farms_per_s']} "
            f"farms/s (ratio {figures['ratio']}); book generated in {figures['generate_s']} s, "
            f"rolled up in {figures['rollup_s']} s"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
