"""``farmtrust api --workers 2``: two server processes share the work, and their concurrent credit
decisions still append to one unbroken audit chain (the append lock lives in the database)."""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from farmtrust.services import free_port
from store.audit import verify_log
from store.tenants import grant_consent
from tests.api.factories import farm_with_data, org_with_key


def _start_api(db_url: str, data_dir, *args: str) -> tuple[subprocess.Popen, str]:
    """``farmtrust api ARGS`` in a child process with its own data folder; returns it once /healthz answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARMTRUST_")}
    env["FARMTRUST_DATA_DIR"] = str(data_dir)  # its own audit key and checkpoints, not the user's
    server = subprocess.Popen(
        [sys.executable, "-m", "farmtrust.cli", "api", *args, "--port", str(port), "--db-url", db_url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError(f"the server did not answer within 60 s: {server.stderr.read()[-2000:]}")
        time.sleep(0.2)


def test_two_worker_processes_decide_concurrently_on_one_audit_chain(fresh_db_url, tmp_path):
    with psycopg.connect(fresh_db_url) as conn:
        coop, _ = org_with_key(conn, "cooperative")
        lender, key = org_with_key(conn, "lender")
        farms = [farm_with_data(conn, cooperative_id=coop, cattle=8 + i) for i in range(3)]
        for farm in farms:
            grant_consent(
                conn, farm_id=farm, lender_id=lender, granted_by=coop, expires_at=datetime.now(UTC) + timedelta(days=5)
            )
        conn.commit()
    server, base = _start_api(fresh_db_url, tmp_path, "--workers", "2")
    try:

        def decide(i: int) -> tuple[int, dict]:
            r = httpx.post(
                f"{base}/v1/farms/{farms[i % len(farms)]}/credit-limit",
                headers={"Authorization": f"Bearer {key}", "Idempotency-Key": uuid.uuid4().hex},
                timeout=60,
            )
            return r.status_code, r.json()

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(decide, range(24)))
        # keep-alive requests are not held back by Nagle's algorithm (uvicorn's worker socket lacks
        # TCP_NODELAY unless marked as TCP: each response would then wait ~40 ms for a delayed ACK)
        with httpx.Client(base_url=base) as client:
            waits = []
            for _ in range(15):
                start = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                waits.append(time.perf_counter() - start)
        assert sorted(waits)[len(waits) // 2] < 0.025, waits
    finally:
        server.terminate()
        server.wait(30)
    log = server.stderr.read() if server.stderr else ""
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2, log[-2000:]
    assert [status for status, _ in results] == [201] * 24, results[:3]
    seqs = sorted(body["audit_entry_seq"] for _, body in results)
    assert len(set(seqs)) == 24  # every decision has its own entry
    with psycopg.connect(fresh_db_url) as conn:
        assert verify_log(conn, public_key=None).ok
        decisions = conn.execute("SELECT count(*) FROM credit_decisions").fetchone()[0]
    assert decisions == 24


def test_a_forged_forwarded_for_does_not_get_round_the_sign_in_throttle(fresh_db_url, tmp_path):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default; ``farmtrust api`` only behind a declared proxy."""
    server, base = _start_api(fresh_db_url, tmp_path)
    try:
        statuses = []
        with httpx.Client(base_url=base) as client:
            for i in range(6):  # the default allows 5 failures per client in 5 minutes
                token = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/login").text).group(1)
                r = client.post(
                    "/ui/login",
                    data={"key": f"wrong-key-{i}", "csrf": token},
                    headers={"X-Forwarded-For": f"203.0.113.{i + 1}"},
                )
                statuses.append(r.status_code)
    finally:
        server.terminate()
        server.wait(30)
    assert statuses[-1] == 429, statuses
