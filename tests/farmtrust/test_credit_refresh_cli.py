"""``farmtrust credit refresh`` as an operator runs it: two partitions at once, a killed worker, bad input."""

import json
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit

import psycopg

from credit import load_policy
from credit.policy import DEFAULT_POLICY_PATH
from store.audit import verify_log
from store.credit_refresh import start_cycle
from tests.credit.farms_db import AS_OF
from tests.credit.refresh_db import decisions_per_pair, make_book
from tests.signers import TEST_SIGNER
from tests.usecases.test_credit_refresh import _reference_partition

CLI = [sys.executable, "-m", "farmtrust.cli", "credit", "refresh", "--as-of", AS_OF.date().isoformat()]
POLICY = load_policy(DEFAULT_POLICY_PATH)


def _start(db_url: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "--db-url", db_url, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def test_two_partitions_at_once_decide_every_consenting_farm_exactly_once(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farms, lenders = make_book(conn, farms=14, lenders=2)
        conn.commit()
    workers = [_start(fresh_db_url, "--partition", f"{i}/2", "--batch-size", "3", "--json") for i in (1, 2)]
    first, second = (_finish(p) for p in workers)
    sizes = [sum(1 for f in farms if _reference_partition(uuid.UUID(f), 2) == i) for i in (0, 1)]
    assert [first["farms_decided"], second["farms_decided"]] == sizes
    assert first["decisions"] + second["decisions"] == 28
    assert (first["partition"], second["partition"]) == ("1/2", "2/2")
    with psycopg.connect(fresh_db_url) as conn:
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in farms for lender in lenders}
        assert verify_log(conn, public_key=None).ok


def _others(conn: psycopg.Connection, db: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (db,)
    ).fetchone()
    return row[0]


def test_a_killed_refresh_then_a_rerun_decides_the_rest_and_none_twice(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        farms, (lender,) = make_book(conn, farms=9)
        cycle = start_cycle(conn, signer=TEST_SIGNER, as_of=AS_OF, policy=POLICY)
        conn.commit()
    db = urlsplit(fresh_db_url).path.lstrip("/")
    # a competing worker holds the 7th farm (the third batch of three) in a transaction left open, so the
    # refresh commits two batches and then waits on it: the moment to kill it, mid-run
    blocker = psycopg.connect(fresh_db_url)
    blocker.execute(
        "INSERT INTO credit_refresh_decisions (cycle_id, farm_id, lender_organization_id, decision_id) "
        "VALUES (%s, %s, %s, %s)",
        (cycle.id, sorted(farms)[6], lender, uuid.uuid4()),
    )
    proc = _start(fresh_db_url, "--batch-size", "3", "--json")
    with psycopg.connect(fresh_db_url, autocommit=True) as watch:
        for _ in range(600):
            waiting = watch.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", (db,)
            ).fetchone()[0]
            if waiting:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        assert waiting, "the refresh never reached the held farm"
        proc.kill()
        proc.wait(10)
        blocker.rollback()
        blocker.close()
        for _ in range(100):  # the killed worker's server process ends once it notices its client is gone
            if _others(watch, db) == 0:
                break
            time.sleep(0.1)
        done = watch.execute("SELECT farm_id::text FROM credit_refresh_decisions ORDER BY farm_id").fetchall()
        assert [r[0] for r in done] == sorted(farms)[:6]
    summary = _finish(_start(fresh_db_url, "--batch-size", "3", "--json"))
    assert (summary["farms_decided"], summary["already_decided"]) == (3, 6)
    with psycopg.connect(fresh_db_url) as conn:
        assert decisions_per_pair(conn) == {(f, str(lender)): 1 for f in farms}
        assert verify_log(conn, public_key=None).ok


def test_bad_input_is_one_line_naming_the_option(db_url):
    for args, message in [
        (["--partition", "0/2"], "--partition 0/2"),
        (["--partition", "3/2"], "--partition 3/2"),
        (["--partition", "half"], "--partition 'half'"),
    ]:
        out = subprocess.run([*CLI, "--db-url", db_url, *args], capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr, out.stderr
    future = subprocess.run(
        [sys.executable, "-m", "farmtrust.cli", "credit", "refresh", "--as-of", "2999-01-04", "--db-url", db_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert future.returncode == 1 and "--as-of 2999-01-04 is in the future" in future.stderr
    assert "Traceback" not in future.stderr


def test_the_summary_line_counts_each_status(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        make_book(conn, farms=2)
        conn.commit()
    out = subprocess.run([*CLI, "--db-url", fresh_db_url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    with psycopg.connect(fresh_db_url) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM credit_decisions GROUP BY 1").fetchall())
    counts = ", ".join(
        f"{statuses.get(s, 0)} {s.replace('_', ' ')}" for s in ("approved", "referred", "declined", "insufficient_data")
    )
    assert f"refresh as of {AS_OF:%Y-%m-%d} 00:00 UTC" in out.stdout
    assert f"partition 1/1: 2 farms decided (2 decisions: {counts})" in out.stdout
