from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

FARMTRUST = [sys.executable, "-m", "farmtrust.cli"]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*FARMTRUST, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def test_help_and_version():
    assert run_cli("--help").returncode == 0
    out = run_cli("version")
    assert out.returncode == 0
    assert re.match(r"\d+\.\d+", out.stdout.strip())


def test_db_migrate_twice_is_a_no_op_the_second_time(fresh_db_url):
    # fresh_db_url is already migrated from the template, so the first run applies nothing;
    # a second database shows the full apply path.
    first = run_cli("db", "migrate", "--db-url", fresh_db_url)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    status = run_cli("db", "status", "--db-url", fresh_db_url)
    assert status.returncode == 0
    assert "0001_core" in status.stdout and "pending" not in status.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://postgres@127.0.0.1:1/nope", "Cannot connect to the database"),
        ("mysql://root@localhost/x", "must start with postgresql://"),
    ],
)
def test_bad_database_url_is_one_line_without_traceback(url, expected):
    out = run_cli("db", "migrate", "--db-url", url)
    assert out.returncode == 1
    assert expected in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_edited_migration_is_a_one_line_error(fresh_db_url):
    import psycopg

    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    out = run_cli("db", "migrate", "--db-url", fresh_db_url)
    assert out.returncode == 1
    assert "0001_core.sql was edited after it was applied" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("broker", ["mosquitto", "amqtt"])
def test_services_up_starts_embedded_stack_and_stops_on_ctrl_c(tmp_path, broker):
    env = {**os.environ, "FARMTRUST_DATA_DIR": str(tmp_path)}
    env.pop("FARMTRUST_DB__URL", None)
    env.pop("FARMTRUST_MQTT__URL", None)
    os.chmod(tmp_path, 0o755)
    proc = subprocess.Popen(
        [*FARMTRUST, "services", "up", "--broker", broker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Running" in line:
            break
    text = "".join(lines)
    assert "PostgreSQL:" in text and "(embedded)" in text, text + (proc.stderr.read() if proc.poll() else "")
    mqtt_url = re.search(r"MQTT:\s+(mqtt://\S+)", text).group(1)
    port = int(mqtt_url.rsplit(":", 1)[1])
    import socket

    socket.create_connection(("127.0.0.1", port), timeout=5).close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(30) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_db_retention_command_drops_old_readings(fresh_db_url):
    import uuid

    import psycopg

    with psycopg.connect(fresh_db_url) as conn:
        for age in (90, 2):
            conn.execute(
                "INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) "
                "VALUES (now() - make_interval(days => %s), %s, 'd1', 'temperature_c', 20, 'C', %s)",
                (age, uuid.uuid4(), uuid.uuid4()),
            )
    out = run_cli("db", "retention", "--days", "30", "--db-url", fresh_db_url)
    assert out.returncode == 0, out.stderr
    assert "of sensor_readings" in out.stdout
    with psycopg.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM sensor_readings").fetchone()[0] == 1


def test_db_retention_without_a_period_names_the_setting(fresh_db_url):
    out = run_cli("db", "retention", "--db-url", fresh_db_url, env={"FARMTRUST_DB__RETENTION_DAYS": ""})
    assert out.returncode == 1
    assert "retention_days" in out.stderr and "Traceback" not in out.stderr + out.stdout
