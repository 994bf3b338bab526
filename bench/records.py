"""Credit-record read benchmark: the record from the daily rollups against the raw-row read it replaced.

Run ``python -m bench.records [--quick] [--db-url URL]``. It seeds farms with 60 days of device data
(per farm and hour: barn temperature, water flow, GPS latitude and longitude, 5,760 sensor rows; three
camera counts a day, each with a count interval, one in 20 unbounded above), rolls them up, and times in
the same process, per farm:

- the baseline: the raw-row read as it was before issue #17, with issue #16's count intervals
  (``tests/store/record_reference.py``, aggregating the farm's 60 days of raw rows per call);
- ``read_farm_record``: one farm from the rollups;
- ``read_farm_records``: batches of ``--batch`` farms from the rollups (one query per table), the weekly
  refresh's read.

Each as-of is mid-day, so the partial first and last day are read from raw rows as well. Every record is
checked equal to the baseline's. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from bench.scratch_db import scratch_database

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from credit.record import FarmRecord

log = logging.getLogger("bench.records")

METRICS = (("barn_temperature_c", "C", 18.0, 8.0), ("water_flow_l_min", "L/min", 0.4, 0.2))


def seed(conn: psycopg.Connection, *, farms: int, days: int, as_of: datetime) -> list[str]:
    """``farms`` farms, each with a device, hourly readings of four metrics and three counts a day; rolled up."""
    from store.rollups import rebuild_daily_rollups

    rng = random.Random(17)
    farm_ids = []
    with conn.cursor() as cur:
        for f in range(farms):
            farm = cur.execute(
                "INSERT INTO farms (name, region, declared_herd) VALUES (%s, 'nakuru', %s) RETURNING id",
                (f"Farm {f}", json.dumps({"cattle": 12})),
            ).fetchone()[0]
            device = f"bench-{f}"
            cur.execute("INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)", (device, farm, bytes(32)))
            with cur.copy(
                "COPY sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) FROM STDIN"
            ) as copy:
                for h in range(days * 24):
                    t = as_of - timedelta(hours=h, minutes=rng.randrange(60))
                    message = uuid.uuid4()
                    for metric, unit, base, spread in METRICS:
                        copy.write_row((t, farm, device, metric, round(base + rng.random() * spread, 3), unit, message))
                    copy.write_row(
                        (t, farm, device, "gps_lat_deg", round(-0.3 + rng.random() / 1e4, 6), "deg", message)
                    )
                    copy.write_row(
                        (t, farm, device, "gps_lon_deg", round(36.1 + rng.random() / 1e4, 6), "deg", message)
                    )
            with cur.copy(
                "COPY livestock_counts (time, farm_id, device_id, camera_id, species, count, method, phash, "
                "count_low, count_high) FROM STDIN"
            ) as copy:
                for d in range(days):
                    for k in range(3):
                        t = as_of - timedelta(days=d, hours=3 + k)
                        head = 11 + rng.randrange(3)
                        # a 90 % interval around the count; one frame in 20 unbounded above (vision.intervals)
                        high = None if rng.random() < 0.05 else head + rng.randrange(1, 4)
                        copy.write_row(
                            (
                                t,
                                farm,
                                device,
                                "cam",
                                "cattle",
                                head,
                                "snapshot",
                                f"{rng.getrandbits(64):016x}",
                                max(head - rng.randrange(1, 4), 0),
                                high,
                            )
                        )
            farm_ids.append(str(farm))
    rebuild_daily_rollups(conn, farm_ids=farm_ids)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    return farm_ids


def _backend_cpu_s(conn: psycopg.Connection) -> float | None:
    """CPU seconds the connection's server process has used (None when the server is not on this machine)."""
    try:
        fields = Path(f"/proc/{conn.info.backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _time(
    label: str, call: Callable[[], Iterator[tuple[int, dict[str, FarmRecord]]]], conn: psycopg.Connection, farms: int
) -> tuple[float, float | None, dict[str, FarmRecord]]:
    """Wall and CPU (this process and the server's) milliseconds per farm of ``call``, and its records."""
    from rich.progress import Progress

    out: dict[str, FarmRecord] = {}
    server = _backend_cpu_s(conn)
    cpu = time.process_time()
    started = time.perf_counter()
    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=farms)
        for done, records in call():
            out.update(records)
            progress.update(task, advance=done)
    wall_ms = (time.perf_counter() - started) * 1000 / farms
    server_after = _backend_cpu_s(conn)
    cpu_ms = None
    if server is not None and server_after is not None:
        cpu_ms = (time.process_time() - cpu + server_after - server) * 1000 / farms
    log.info("%s: this process's CPU %.2f ms per farm", label, (time.process_time() - cpu) * 1000 / farms)
    return wall_ms, cpu_ms, out


def main() -> None:
    """Seed, time the three reads, check they agree; print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 farms instead of 500")
    parser.add_argument("--db-url", default=os.environ.get("FARMTRUST_DB__URL"), help="admin URL of a PostgreSQL")
    parser.add_argument("--farms", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500, help="farms per read_farm_records call")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    farms = args.farms or (100 if args.quick else 500)
    days = 60
    as_of = datetime.now(UTC).replace(microsecond=0)

    from farmtrust.services import start_embedded_postgres
    from store.credit_records import read_farm_record, read_farm_records
    from tests.store.record_reference import raw_farm_record

    server_handle = None
    admin = args.db_url
    if not admin:
        admin, server_handle = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="farmtrust-bench-rec-")) / "pg")
    try:
        with scratch_database(admin, prefix="ft_bench_records") as url, psycopg.connect(url) as conn:
            t0 = time.perf_counter()
            farm_ids = seed(conn, farms=farms, days=days, as_of=as_of)
            rows = conn.execute("SELECT count(*) FROM sensor_readings").fetchone()[0]
            log.info("seeded %d farms, %d sensor rows in %.1f s", farms, rows, time.perf_counter() - t0)

            def raw() -> Iterator[tuple[int, dict[str, FarmRecord]]]:
                for farm in farm_ids:
                    yield 1, {farm: raw_farm_record(conn, farm_id=farm, as_of=as_of)}

            def one() -> Iterator[tuple[int, dict[str, FarmRecord]]]:
                for farm in farm_ids:
                    yield 1, {farm: read_farm_record(conn, farm_id=farm, as_of=as_of)}

            def batch() -> Iterator[tuple[int, dict[str, FarmRecord]]]:
                for i in range(0, len(farm_ids), args.batch):
                    part = farm_ids[i : i + args.batch]
                    yield len(part), read_farm_records(conn, farm_ids=part, as_of=as_of)

            raw_ms, raw_cpu, expected = _time("raw-row read (before)", raw, conn, farms)
            one_ms, one_cpu, single = _time("read_farm_record (rollups)", one, conn, farms)
            batch_ms, batch_cpu, batched = _time("read_farm_records (rollups, batch)", batch, conn, farms)
            conn.rollback()
        if single != expected or batched != expected:
            raise SystemExit("the records read from the rollups differ from the raw-row read")
    finally:
        if server_handle is not None:
            server_handle.cleanup()  # type: ignore[attr-defined]

    figures = {
        "farms": farms,
        "sensor_rows": rows,
        "window_days": days,
        "batch": args.batch,
        "raw_read_ms_per_farm": round(raw_ms, 3),
        "rollup_read_ms_per_farm": round(one_ms, 3),
        "rollup_batch_read_ms_per_farm": round(batch_ms, 3),
        "ratio_single": round(raw_ms / one_ms, 2),
        "ratio_batch": round(raw_ms / batch_ms, 2),
        # CPU of this process and of its database server process: what the load on the machine does not inflate
        "raw_read_cpu_ms_per_farm": raw_cpu and round(raw_cpu, 3),
        "rollup_read_cpu_ms_per_farm": one_cpu and round(one_cpu, 3),
        "rollup_batch_read_cpu_ms_per_farm": batch_cpu and round(batch_cpu, 3),
        "records_equal": True,
    }
    if not args.json:
        print(f"{'read (per farm, 60 days)':<36}{'wall ms':>10}{'vs. raw':>10}{'CPU ms':>10}")
        for label, ms, cpu_ms in (
            ("raw rows (before, baseline)", raw_ms, raw_cpu),
            ("read_farm_record (rollups)", one_ms, one_cpu),
            (f"read_farm_records, batch {args.batch}", batch_ms, batch_cpu),
        ):
            print(f"{label:<36}{ms:>10.2f}{raw_ms / ms:>10.2f}{cpu_ms or float('nan'):>10.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main()
