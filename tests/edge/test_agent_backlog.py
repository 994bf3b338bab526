"""The agent process killed with SIGKILL while offline keeps its backlog and delivers it, in order, exactly once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import psycopg

from farmtrust.services import free_port
from farmtrust.settings import MqttProtocol, MqttSettings
from farmtrust.workers.ingest import IngestOptions, IngestWorker
from store.ingest_devices import ensure_farm, register_device
from tests.edge.dbutil import cloned_db
from tests.edge.services import Mosquitto

CLI = [sys.executable, "-m", "farmtrust.cli"]


def spool_state(path):
    with sqlite3.connect(path) as db:
        depth = db.execute("SELECT count(*) FROM spool WHERE kind = 'telemetry'").fetchone()[0]
        row = db.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    return depth, (row[0] if row else 0) - 1


def test_sigkill_while_offline_then_restart_delivers_backlog_in_order_exactly_once(tmp_path, admin_url, template_db):
    key = tmp_path / "device.key"
    out = subprocess.run([*CLI, "edge", "keygen", "--out", str(key)], capture_output=True, text=True, check=True)
    public_hex = next(line.split()[-1] for line in out.stdout.splitlines() if line.startswith("public key"))
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    farm_id, device_id, port = uuid.uuid4(), f"barn-{uuid.uuid4().hex[:6]}", free_port()
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[device]\nfarm_id = "{farm_id}"\ndevice_id = "{device_id}"\nkey_file = "device.key"\n'
        'spool_path = "spool.sqlite"\n\n'
        f'[mqtt]\nurl = "mqtt://127.0.0.1:{port}"\nprotocol = "5"\n\n'
        "[telemetry]\ninterval_s = 0.05\nflush_s = 0.2\nmax_readings = 50\n\n"
        '[[sensors]]\ndriver = "simulated"\nseed = 3\n\n[status]\ninterval_s = 60\n'
    )
    with cloned_db(admin_url, template_db) as db_url:
        with psycopg.connect(db_url) as conn:
            ensure_farm(conn, farm_id=farm_id, name="backlog farm")
            register_device(conn, device_id=device_id, farm_id=farm_id, public_key=bytes.fromhex(public_hex))
        # 1. Offline: no broker on the port. The agent spools, then dies without any chance to clean up.
        agent = subprocess.Popen(
            [*CLI, "edge", "run", "--config", str(config)], env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        spool = tmp_path / "spool.sqlite"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not spool.exists() or spool_state(spool)[0] < 8):
            time.sleep(0.2)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        backlog_depth, backlog_last_seq = spool_state(spool)
        assert backlog_depth >= 8 and backlog_last_seq == backlog_depth - 1
        # 2. The broker and ingest come up; the agent restarts and delivers backlog and live data.
        broker = Mosquitto(tmp_path / "broker", port=port).start()
        worker = IngestWorker(
            db_url=db_url,
            mqtt_settings=MqttSettings(url=broker.url, protocol=MqttProtocol.V5),
            frame_dir=tmp_path / "frames",
            evidence_dir=tmp_path / "evidence",
            options=IngestOptions(worker_id="w-backlog", max_wait_s=0.02),
        )
        worker.connect()
        assert worker.wait_subscribed(10)
        thread = threading.Thread(target=worker.run, daemon=True)
        thread.start()
        try:
            subprocess.run([*CLI, "edge", "run", "--config", str(config), "--duration", "3"], check=True, timeout=120)
            depth, last_seq = spool_state(spool)
            assert depth == 0 and last_seq > backlog_last_seq
            deadline = time.monotonic() + 30
            with psycopg.connect(db_url, autocommit=True) as conn:
                while time.monotonic() < deadline:
                    n = conn.execute("SELECT count(*) FROM ingest_messages WHERE kind = 'telemetry'").fetchone()[0]
                    if n >= last_seq + 1:
                        break
                    time.sleep(0.1)
                time.sleep(0.5)
                rows = conn.execute(
                    "SELECT seq, readings FROM ingest_messages WHERE kind = 'telemetry' ORDER BY received_at, stored_at"
                ).fetchall()
                seqs = [r[0] for r in rows]
                assert sorted(seqs) == list(range(last_seq + 1))  # every message once, none missing
                backlog_order = [s for s in seqs if s <= backlog_last_seq]
                assert backlog_order == sorted(backlog_order)  # the backlog arrived in sequence order
                readings, distinct = conn.execute(
                    "SELECT count(*), count(DISTINCT (metric, time)) FROM sensor_readings WHERE device_id = %s",
                    (device_id,),
                ).fetchone()
                assert readings == distinct == sum(r[1] for r in rows)
                assert conn.execute("SELECT count(*) FROM device_gaps WHERE closed_at IS NULL").fetchone()[0] == 0
                assert conn.execute("SELECT count(*) FROM ingest_quarantine").fetchone()[0] == 0
        finally:
            worker.stop()
            thread.join(20)
            broker.stop()
