"""`farmtrust edge ...` and `farmtrust ingest`: the demo flow end to end, and one-line errors for user mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest

from farmtrust.services import start_broker
from tests.conftest import TEST_SHARE_GROUP, TEST_TOPIC_ROOT
from tests.edge.dbutil import cloned_db

CLI = [sys.executable, "-m", "farmtrust.cli"]


def farmtrust(*args, env=None, timeout=120):
    base = {k: v for k, v in os.environ.items() if k not in {"FARMTRUST_DB__URL", "FARMTRUST_MQTT__URL"}}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env={**base, **(env or {})})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["edge", "run", "--config", "/nonexistent/edge.toml"], "does not exist"),
        (
            [
                "edge",
                "register",
                "--device-id",
                "d",
                "--farm-id",
                "x",
                "--public-key",
                "zz",
                "--db-url",
                "postgresql://u@127.0.0.1:1/db",
            ],
            "--public-key must be 64 hex digits",
        ),
        (["edge", "simulate", "--register"], "--register needs --db-url"),
    ],
)
def test_user_mistakes_print_one_line_without_traceback(args, message, tmp_path):
    env = {"FARMTRUST_DATA_DIR": str(tmp_path)}
    done = farmtrust(*args, env=env)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr


def test_keygen_refuses_to_overwrite(tmp_path):
    key = tmp_path / "k.pem"
    assert farmtrust("edge", "keygen", "--out", str(key)).returncode == 0
    again = farmtrust("edge", "keygen", "--out", str(key))
    assert again.returncode == 1 and "--force" in again.stderr


def test_simulate_register_and_ingest_commands_store_the_stream(tmp_path, admin_url, template_db):
    url, _protocol, _kind, broker = start_broker(tmp_path / "broker", prefer="mosquitto")
    env = {
        "FARMTRUST_DATA_DIR": str(tmp_path / "data"),
        "FARMTRUST_MQTT__TOPIC_ROOT": TEST_TOPIC_ROOT,
        "FARMTRUST_MQTT__SHARE_GROUP": TEST_SHARE_GROUP,
    }
    try:
        with cloned_db(admin_url, template_db) as db_url:
            ingest = subprocess.Popen(
                [*CLI, "ingest", "--db-url", db_url, "--mqtt-url", url, "--duration", "12", "--worker-id", "cli-1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **env},
            )
            time.sleep(3)  # subscribed before the fleet starts
            sim = farmtrust(
                "edge",
                "simulate",
                "--farms",
                "1",
                "--devices",
                "2",
                "--duration",
                "2",
                "--rate",
                "5",
                "--readings-per-message",
                "6",
                "--register",
                "--db-url",
                db_url,
                "--mqtt-url",
                url,
                env=env,
            )
            assert sim.returncode == 0, sim.stderr
            assert "0 left in spools" in sim.stdout
            out, err = ingest.communicate(timeout=60)
            assert ingest.returncode == 0, err
            with psycopg.connect(db_url) as conn:
                messages = conn.execute("SELECT count(*) FROM ingest_messages WHERE kind = 'telemetry'").fetchone()[0]
                readings = conn.execute("SELECT count(*) FROM sensor_readings").fetchone()[0]
                devices = conn.execute("SELECT count(*) FROM devices WHERE last_seen_at IS NOT NULL").fetchone()[0]
                quarantined = conn.execute("SELECT count(*) FROM ingest_quarantine").fetchone()[0]
            assert quarantined == 0  # simulator and worker agree on the session's topic root
            assert messages >= 16 and readings == messages * 6 and devices == 2
            assert f"{readings} readings" in out
    finally:
        broker.terminate()
        broker.wait(5)
