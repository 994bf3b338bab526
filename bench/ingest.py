"""Ingest benchmark: simulated devices → real Mosquitto → ingest worker → PostgreSQL, against a raw COPY baseline.

Run ``python -m bench.ingest [--quick] [--db-url URL]``. The baseline COPYs the very same readings
straight into ``sensor_readings`` (one transaction per batch of the same size) in the same run. The
pipeline path signs and spools every message on the simulated devices, publishes QoS 1 through a
private Mosquitto, and one ingest worker process validates, deduplicates and COPYs them.
``readings_per_s`` is readings divided by the time from the first device timestamp to the last commit;
``p50_ms``/``p99_ms`` are per message, device timestamp to commit. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from edge.protocol import reading_dict
from edge.publisher import MqttOptions
from edge.sensors import SimulatedDriver
from edge.simulate import SimOptions, build_agents, fleet
from farmtrust.services import start_broker, start_embedded_postgres
from store.ingest_copy import READINGS_COPY_SQL, READINGS_TYPES
from store.ingest_devices import ensure_farm, register_device
from store.migrations import migrate

log = logging.getLogger("bench.ingest")


def _with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _worker(db_url: str, mqtt_url: str, protocol: str, folder: str, stop: Any, ready: Any, index: int) -> None:
    from farmtrust.settings import MqttProtocol, MqttSettings
    from farmtrust.workers.ingest import IngestOptions, IngestWorker

    worker = IngestWorker(
        db_url=db_url,
        mqtt_settings=MqttSettings(url=mqtt_url, protocol=MqttProtocol(protocol)),
        frame_dir=Path(folder) / "frames",
        evidence_dir=Path(folder) / "evidence",
        options=IngestOptions(
            worker_id=f"bench-ingest-{index}", max_messages=200, max_wait_s=0.02, counters_every_s=1.0
        ),
    )
    worker.connect()
    worker.wait_subscribed()
    ready.release()
    import threading

    threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True).start()
    worker.run()


def _messages(driver: SimulatedDriver, *, count: int, size: int, start: datetime) -> list[list[dict[str, Any]]]:
    """Pre-sample ``count`` messages of ``size`` readings (sensor sampling is not what is measured)."""
    out = []
    step = timedelta(milliseconds=10)
    at = start
    for _ in range(count):
        batch = []
        for i in range(size):
            metric = driver.metrics[i % len(driver.metrics)]
            batch.append(reading_dict(metric=metric, value=driver.value(metric, at), time=at))
            at += step
        out.append(batch)
    return out


def _baseline(db_url: str, rows: list[tuple[Any, ...]], *, batch_rows: int) -> float:
    """COPY ``rows`` into sensor_readings, one transaction per ``batch_rows``; return rows per second."""
    with psycopg.connect(db_url) as conn:
        started = time.perf_counter()
        for i in range(0, len(rows), batch_rows):
            with conn.transaction(), conn.cursor().copy(READINGS_COPY_SQL) as copy:
                copy.set_types(READINGS_TYPES)
                for row in rows[i : i + batch_rows]:
                    copy.write_row(row)
        seconds = time.perf_counter() - started
        conn.execute("TRUNCATE sensor_readings")
    return len(rows) / seconds


def run(
    *, db_admin_url: str, devices: int, rate: float, readings_per_message: int, duration_s: float, workers: int = 1
) -> dict[str, Any]:
    """Run the baseline and the pipeline; return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="ft-bench-ingest-"))
    name = f"ft_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = _with_db(db_admin_url, name)
    mqtt_url, protocol, _kind, broker = start_broker(folder / "broker", prefer="mosquitto")
    ctx = mp.get_context("spawn")
    stop, ready = ctx.Event(), ctx.Semaphore(0)
    procs: list[Any] = []
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            migrate(conn)
        sim = fleet(farms=max(1, devices // 4), devices=min(4, devices), seed=7)[:devices]
        with psycopg.connect(db_url) as conn:
            for dev in sim:
                ensure_farm(conn, farm_id=dev.farm_id, name="bench farm")
                register_device(conn, device_id=dev.device_id, farm_id=dev.farm_id, public_key=dev.key.public_raw)
        per_device = max(1, int(rate * duration_s))
        # Readings are 10 ms apart and all in the past (a future one would rightly be quarantined).
        start = datetime.now(UTC) - timedelta(milliseconds=10 * per_device * readings_per_message, minutes=1)
        payloads = {
            d.device_id: _messages(SimulatedDriver(seed=i), count=per_device, size=readings_per_message, start=start)
            for i, d in enumerate(sim)
        }
        rows = [
            (
                datetime.fromisoformat(r["time"]),
                d.farm_id,
                d.device_id,
                r["metric"],
                r["value"],
                r["unit"],
                uuid.uuid4(),
            )
            for d in sim
            for batch in payloads[d.device_id]
            for r in batch
        ]
        baseline = _baseline(db_url, rows, batch_rows=readings_per_message * 20)
        total_readings = len(rows)
        del rows

        for index in range(workers):
            procs.append(
                ctx.Process(target=_worker, args=(db_url, mqtt_url, protocol.value, str(folder), stop, ready, index))
            )
            procs[-1].start()
        for _ in range(workers):
            if not ready.acquire(timeout=60):
                raise RuntimeError("an ingest worker did not subscribe within 60 s")
        options = SimOptions(duration_s=duration_s, messages_per_s=rate, spool_dir=folder / "spool", max_inflight=200)
        agents = build_agents(sim, mqtt=MqttOptions.from_url(mqtt_url, protocol=protocol.value), options=options)
        sent = 0
        interval = 1.0 / rate
        t0 = time.monotonic()
        next_due = [t0 + i * interval / len(agents) for i in range(len(agents))]
        index = [0] * len(agents)
        while any(index[i] < per_device for i in range(len(agents))) or any(a.spool.depth for a in agents):
            now = time.monotonic()
            for i, agent in enumerate(agents):
                if index[i] < per_device and now >= next_due[i]:
                    next_due[i] += interval
                    agent.emit_telemetry(payloads[agent.device_id][index[i]])
                    index[i] += 1
                    sent += 1
                agent.publisher.step(timeout_s=0.0)
            if time.monotonic() - t0 > duration_s * 20 + 120:
                break
        expected_messages = sent
        publish_s = time.monotonic() - t0
        deadline = time.monotonic() + 120
        with psycopg.connect(db_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                stored = conn.execute("SELECT count(*) FROM ingest_messages WHERE kind = 'telemetry'").fetchone()
                if stored and stored[0] >= expected_messages:
                    break
                time.sleep(0.2)
            time.sleep(1.0)  # anything duplicated late would show now
            stats = conn.execute(
                """
                SELECT count(*), min(device_time), max(stored_at),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - device_time)),
                       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM stored_at - device_time))
                FROM ingest_messages WHERE kind = 'telemetry'
                """
            ).fetchone()
            assert stats is not None
            n_rows, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT (device_id, metric, time)) FROM sensor_readings"
            ).fetchone() or (0, 0)
            quarantined = conn.execute("SELECT count(*) FROM ingest_quarantine").fetchone()
        for agent in agents:
            agent.close()
        seconds = (stats[2] - stats[1]).total_seconds() if stats[0] else float("nan")
        pipeline = distinct / seconds if seconds else 0.0
        return {
            "devices": len(sim),
            "ingest_workers": workers,
            "readings_per_message": readings_per_message,
            "messages": expected_messages,
            "readings": total_readings,
            "readings_per_s": round(pipeline),
            "messages_per_s": round(stats[0] / seconds, 1) if seconds else 0.0,
            "p50_ms": round(float(stats[3]) * 1000, 1),
            "p99_ms": round(float(stats[4]) * 1000, 1),
            "copy_baseline_readings_per_s": round(baseline),
            "ratio": round(pipeline / baseline, 3),
            "lost": total_readings - distinct,
            "duplicated": n_rows - distinct,
            "quarantined": quarantined[0] if quarantined else 0,
            "publish_s": round(publish_s, 2),
            "pipeline_s": round(seconds, 2),
        }
    finally:
        stop.set()
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        broker.terminate()
        broker.wait(5)
        with psycopg.connect(db_admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def main() -> None:
    """Parse options, run, print a table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (well under 3 minutes)")
    parser.add_argument("--db-url", help="admin URL of a PostgreSQL (default: an embedded one)")
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--rate", type=float, default=40.0, help="telemetry messages per device per second")
    parser.add_argument("--readings-per-message", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=None, help="seconds of publishing (default 5, or 20)")
    parser.add_argument("--workers", type=int, default=2, help="ingest worker processes (shared subscription)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    duration = args.duration or (5.0 if args.quick else 20.0)
    server = None
    db_url = args.db_url
    if db_url is None:
        db_url, server = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="ft-bench-pg-")) / "data")
    try:
        figures = run(
            db_admin_url=db_url,
            devices=args.devices,
            rate=args.rate,
            readings_per_message=args.readings_per_message,
            duration_s=duration,
            workers=args.workers,
        )
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    if not args.json:
        print(f"{'path':<34}{'readings/s':>14}{'vs. COPY':>10}")
        print(f"{'raw COPY (baseline)':<34}{figures['copy_baseline_readings_per_s']:>14,}{1.0:>10.2f}")
        print(f"{'MQTT → ingest → PostgreSQL':<34}{figures['readings_per_s']:>14,}{figures['ratio']:>10.2f}")
        print(
            f"messages/s {figures['messages_per_s']}, p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
            f"lost {figures['lost']}, duplicated {figures['duplicated']}"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
