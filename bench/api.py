"""API benchmark: 50 concurrent lenders' clients requesting credit limits, against a trivial endpoint.

Run ``python -m bench.api [--quick] [--db-url URL]``. It seeds farms that consented to one lender (a million
sensor rows and thousands of livestock counts over 60 days; ``--quick``: a quarter), serves the real API with
uvicorn in a child process, and drives it with ``--clients`` concurrent httpx clients: first ``GET /healthz``
(the baseline: the same server, framework and network path, no work), then ``POST
/v1/farms/{id}/credit-limit`` (record read from the daily rollups, decision, audit entry, each with a
fresh Idempotency-Key). It also times the cooperative dashboard's herd query (``GET
/v1/farms/{id}/herd?days=90``, one viewer) on 100 more farms holding as many livestock count rows as
there are sensor rows (a million without ``--quick``). Then the same credit-limit requests arrive
open-loop, as a Poisson stream at ``--rate`` (50/s) for ``--open-seconds`` (60 s; ``--quick``: 20 s),
each latency measured from its scheduled arrival (:mod:`bench.open_loop`). The API's processes' and the
database backends' CPU time over the closed-loop credit run, divided by its decisions, is the CPU cost
of one decision (:mod:`bench.server_cpu`). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql

from bench.open_loop import drive_open_loop
from bench.server_cpu import ServerCpu

log = logging.getLogger("bench.api")


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def seed(db_url: str, *, farms: int, readings: int, days: int = 60) -> tuple[list[str], str, str]:
    """Create a lender, a cooperative and ``farms`` consenting farms with ``readings`` sensor rows in all.

    Returns the farm ids, the lender's key and the cooperative's key.
    """
    from store.rollups import rebuild_daily_rollups
    from store.tenants import create_api_key, create_organization, grant_consent

    rng = random.Random(7)
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        coop = create_organization(conn, kind="cooperative", name="Bench coop")
        lender = create_organization(conn, kind="lender", name="Bench lender")
        key = create_api_key(conn, organization_id=lender)[1]
        coop_key = create_api_key(conn, organization_id=coop)[1]
        farm_ids = []
        per_farm = readings // farms
        with conn.cursor() as cur:
            for f in range(farms):
                farm = cur.execute(
                    "INSERT INTO farms (cooperative_id, name, region, declared_herd) VALUES (%s, %s, 'nakuru', %s) "
                    "RETURNING id",
                    (coop, f"Farm {f}", json.dumps({"cattle": 10 + f % 7})),
                ).fetchone()[0]
                device = f"bench-{f}"
                cur.execute(
                    "INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)", (device, farm, bytes(32))
                )
                grant_consent(
                    conn, farm_id=farm, lender_id=lender, granted_by=coop, expires_at=now + timedelta(days=30)
                )
                step = days * 86400 / per_farm
                with cur.copy(
                    "COPY sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) FROM STDIN"
                ) as copy:
                    for i in range(per_farm):
                        t = now - timedelta(seconds=i * step)
                        copy.write_row(
                            (t, farm, device, "water_flow_l_min", 0.4 + rng.random() / 5, "L/min", uuid.uuid4())
                        )
                with cur.copy(
                    "COPY livestock_counts (time, farm_id, device_id, camera_id, species, count, method, phash) "
                    "FROM STDIN"
                ) as copy:
                    for d in range(days):
                        copy.write_row(
                            (
                                now - timedelta(days=d, hours=3),
                                farm,
                                device,
                                "cam",
                                "cattle",
                                10 + f % 7,
                                "snapshot",
                                f"{rng.getrandbits(64):016x}",
                            )
                        )
                farm_ids.append(str(farm))
        rebuild_daily_rollups(conn, farm_ids=farm_ids)  # COPYed around the store's writers: roll them up
        conn.commit()
        conn.execute("ANALYZE sensor_readings")
        conn.execute("ANALYZE livestock_counts")
        conn.commit()
    return farm_ids, key, coop_key


def seed_herd_history(db_url: str, *, rows: int, farms: int = 100, days: int = 90) -> list[str]:
    """Add ``farms`` member farms whose cameras wrote ``rows`` livestock counts in all over ``days`` days.

    They are the cooperative dashboard's load (its herd query), kept apart from the credit farms so the
    credit workload stays as specified.
    """
    rng = random.Random(11)
    now = datetime.now(UTC)
    per_farm = rows // farms
    step = days * 86400 / per_farm
    farm_ids = []
    with psycopg.connect(db_url) as conn, conn.cursor() as cur:
        coop = cur.execute("SELECT id FROM organizations WHERE kind = 'cooperative' LIMIT 1").fetchone()[0]
        for f in range(farms):
            farm = cur.execute(
                "INSERT INTO farms (cooperative_id, name, region) VALUES (%s, %s, 'nakuru') RETURNING id",
                (coop, f"Herd {f}"),
            ).fetchone()[0]
            with cur.copy(
                "COPY livestock_counts (time, farm_id, device_id, camera_id, species, count, method, frame_sha256) "
                "FROM STDIN"
            ) as copy:
                for i in range(per_farm):
                    copy.write_row(
                        (
                            now - timedelta(seconds=i * step),
                            farm,
                            f"herd-{f}",
                            "pen",
                            "cattle" if i % 3 else "goat",
                            20 + rng.randrange(5),
                            "snapshot",
                            f"{rng.getrandbits(128):032x}",
                        )
                    )
            farm_ids.append(str(farm))
        conn.commit()
        conn.execute("ANALYZE livestock_counts")
        conn.commit()
    return farm_ids


async def _drive(base: str, *, clients: int, seconds: float, make_request) -> list[float]:  # noqa: ANN001
    latencies: list[float] = []
    shed: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=300) as http:
            while time.perf_counter() < deadline:
                method, path, headers = make_request()
                start = time.perf_counter()
                response = await http.request(method, path, headers=headers)
                if response.status_code == 503:  # shed under overload (pool busy): counted, not a success
                    shed.append(time.perf_counter() - start)
                    await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                if response.status_code >= 300:
                    raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
                latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(clients)))
    _drive.shed = len(shed)  # type: ignore[attr-defined]
    return latencies


def _quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values (the nearest rank at or above it)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(_quantile(ordered, 0.99) * 1000, 1),
        "requests": len(latencies),
    }


def main() -> None:
    """Seed, serve, drive the baseline and the credit-limit endpoint; print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="250k readings, 10 s per run")
    parser.add_argument("--db-url", default=os.environ.get("FARMTRUST_DB__URL"), help="admin URL of a PostgreSQL")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--farms", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rate", type=float, default=50.0, help="open-loop arrivals per second (Poisson)")
    parser.add_argument("--open-seconds", type=float, default=None, help="open-loop run (default 60 s, quick 20 s)")
    parser.add_argument(
        "--workers", type=int, default=None, help="API server processes (default: farmtrust api's, one per core)"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    readings = 250_000 if args.quick else 1_000_000
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    open_seconds = args.open_seconds or (20.0 if args.quick else 60.0)
    from farmtrust.commands.api import cores_available

    workers = args.workers or cores_available()  # what `farmtrust api` runs without --workers

    from farmtrust.services import free_port, start_embedded_postgres
    from store.migrations import migrate

    server_handle = None
    admin = args.db_url
    if not admin:
        admin, server_handle = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="farmtrust-bench-api-")) / "pg")
    name = f"ft_bench_api_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = _with_db(admin, name)
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            migrate(conn)
        t0 = time.perf_counter()
        farm_ids, key, coop_key = seed(db_url, farms=args.farms, readings=readings)
        herd_farms = seed_herd_history(db_url, rows=readings)
        log.info(
            "seeded %d farms, %d readings and %d herd counts in %.1f s",
            len(farm_ids),
            readings,
            readings,
            time.perf_counter() - t0,
        )
        port = free_port()
        server_log = tempfile.TemporaryFile()
        env = {
            **os.environ,
            "FARMTRUST_DB__URL": db_url,
            "FARMTRUST_DB__POOL_MAX_SIZE": "20",
            "FARMTRUST_API__WORKERS": str(workers),
            "FARMTRUST_MQTT__URL": "mqtt://127.0.0.1:1883",
            # its own audit key and checkpoints: another database's checkpoints would not be this log's
            "FARMTRUST_DATA_DIR": tempfile.mkdtemp(prefix="farmtrust-bench-api-data-"),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "farmtrust.cli", "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=server_log,  # a pipe nobody reads would stall the server once its 64 KiB buffer filled
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            auth = {"Authorization": f"Bearer {key}"}
            baseline = _summary(
                asyncio.run(
                    _drive(base, clients=args.clients, seconds=seconds, make_request=lambda: ("GET", "/healthz", {}))
                ),
                seconds,
            )

            def credit_request() -> tuple[str, str, dict[str, str]]:
                farm = random.choice(farm_ids)
                return "POST", f"/v1/farms/{farm}/credit-limit", {**auth, "Idempotency-Key": uuid.uuid4().hex}

            coop_auth = {"Authorization": f"Bearer {coop_key}"}
            herd_seconds = min(seconds, 5.0)
            herd = _summary(  # the cooperative dashboard: a herd's 90 days of daily counts, one viewer
                asyncio.run(
                    _drive(
                        base,
                        clients=1,
                        seconds=herd_seconds,
                        make_request=lambda: ("GET", f"/v1/farms/{random.choice(herd_farms)}/herd?days=90", coop_auth),
                    )
                ),
                herd_seconds,
            )
            cpu = ServerCpu(api_pid=server.pid, db_name=name)
            try:
                cpu_before = cpu.sample()
                credit = _summary(
                    asyncio.run(_drive(base, clients=args.clients, seconds=seconds, make_request=credit_request)),
                    seconds,
                )
                credit_cpu = cpu.sample() - cpu_before
                credit_shed = _drive.shed  # type: ignore[attr-defined]
                open_loop = asyncio.run(
                    drive_open_loop(base, rate_per_s=args.rate, seconds=open_seconds, make_request=credit_request)
                )
            except RuntimeError:
                server_log.seek(0)
                log.error("server log:\n%s", server_log.read().decode(errors="replace")[-3000:])
                raise
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if server_handle is not None:
            server_handle.cleanup()  # type: ignore[attr-defined]

    decisions = credit["requests"]
    open_ordered = sorted(open_loop.latencies_s)
    figures = {
        "clients": args.clients,
        "workers": workers,
        "farms": len(farm_ids),
        "sensor_rows": readings,
        "credit_limit_rps": credit["rps"],
        "p50_ms": credit["p50_ms"],
        "p99_ms": credit["p99_ms"],
        "baseline_rps": baseline["rps"],
        "baseline_p99_ms": baseline["p99_ms"],
        "ratio": round(credit["rps"] / baseline["rps"], 3) if baseline["rps"] else None,
        "shed_503": credit_shed,
        "cpu_ms_per_decision": round((credit_cpu.api_s + credit_cpu.db_s) * 1000 / decisions, 2),
        "api_cpu_ms_per_decision": round(credit_cpu.api_s * 1000 / decisions, 2),
        "db_cpu_ms_per_decision": round(credit_cpu.db_s * 1000 / decisions, 2),
        "open_loop_rate": args.rate,
        "open_loop_s": open_seconds,
        "open_loop_scheduled": open_loop.scheduled,
        "open_loop_rps": round(open_loop.achieved_rps, 1),
        "open_loop_p50_ms": round(statistics.median(open_ordered) * 1000, 1),
        "open_loop_p99_ms": round(_quantile(open_ordered, 0.99) * 1000, 1),
        "open_loop_max_ms": round(open_ordered[-1] * 1000, 1),
        "open_loop_shed_503": open_loop.shed,
        "open_loop_failed": open_loop.failed,
        "herd_counts_rows": readings,
        "herd_90d_p50_ms": herd["p50_ms"],
        "herd_90d_p99_ms": herd["p99_ms"],
    }
    if not args.json:
        print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'vs. baseline':>14}")
        print(
            f"{'GET /healthz (baseline)':<28}{baseline['rps']:>10}{baseline['p50_ms']:>10}"
            f"{baseline['p99_ms']:>10}{'1.00':>14}"
        )
        print(
            f"{'POST credit-limit':<28}{credit['rps']:>10}{credit['p50_ms']:>10}{credit['p99_ms']:>10}"
            f"{figures['ratio']:>14}"
        )
        print(
            f"{'POST credit-limit, open':<28}{figures['open_loop_rps']:>10}{figures['open_loop_p50_ms']:>10}"
            f"{figures['open_loop_p99_ms']:>10}{'':>14}  Poisson {args.rate:g}/s for {open_seconds:g} s"
        )
        print(f"{'GET herd 90 days (1 viewer)':<28}{herd['rps']:>10}{herd['p50_ms']:>10}{herd['p99_ms']:>10}")
        print(
            f"CPU per decision: {figures['cpu_ms_per_decision']} ms "
            f"(API {figures['api_cpu_ms_per_decision']} ms, PostgreSQL {figures['db_cpu_ms_per_decision']} ms)"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    main()
