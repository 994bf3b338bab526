"""`farmtrust edge register` against the real database: a registered key, and one line for each user mistake."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg

KEY = "ab" * 32


def _register(db_url, *args):
    return subprocess.run(
        [sys.executable, "-m", "farmtrust.cli", "edge", "register", "--db-url", db_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_register_a_device_of_an_existing_farm(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farm = conn.execute("INSERT INTO farms (name) VALUES ('cli farm') RETURNING id").fetchone()[0]
    done = _register(fresh_db_url, "--device-id", "cli-cam-1", "--farm-id", str(farm), "--public-key", KEY)
    assert done.returncode == 0, done.stderr
    assert f"registered device cli-cam-1 of farm {farm}" in done.stdout
    with psycopg.connect(fresh_db_url) as conn:
        row = conn.execute("SELECT farm_id, public_key, status FROM devices WHERE id = 'cli-cam-1'").fetchone()
    assert row == (farm, bytes.fromhex(KEY), "active")


def test_unknown_farm_is_one_line_and_stores_nothing(fresh_db_url):
    missing = uuid.uuid4()
    done = _register(fresh_db_url, "--device-id", "cli-cam-2", "--farm-id", str(missing), "--public-key", KEY)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"Farm {missing} does not exist" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    with psycopg.connect(fresh_db_url) as conn:
        assert conn.execute("SELECT count(*) FROM devices WHERE id = 'cli-cam-2'").fetchone()[0] == 0
