"""Decision writes: one round trip each (the baseline) against pipelined, under the audit log's single lock.

Run ``python -m bench.decision_writes [--quick] [--db-url URL]``. It seeds consenting farms (as
``bench.api`` does, smaller), then runs ``--threads`` threads in one process that each decide a farm's
limit and record it with an idempotency key, for ``--seconds`` per run, alternating the two ways of
writing: the decision row, the idempotency key and the commit one round trip each after the audit
append (the baseline), or sent together in pipeline mode (what the API does). From the append to the
commit a decision holds the log's lock, so the round trips in it bound the decisions per second of the
whole deployment. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from bench.api import seed
from bench.scratch_db import scratch_database


def _run(db_url: str, *, farms: list[str], org: uuid.UUID, threads: int, seconds: float, pipelined: bool) -> float:
    """Decisions recorded per second by ``threads`` threads in ``seconds``."""
    from credit import generate_signing_key, load_policy
    from credit.entry_signing import Ed25519EntrySigner
    from credit.policy import DEFAULT_POLICY_PATH
    from usecases import idempotency
    from usecases.credit_limits import decide_credit_limit, record_credit_limit

    policy = load_policy(DEFAULT_POLICY_PATH)
    signer = Ed25519EntrySigner(generate_signing_key())
    counts: list[int] = []
    stop = time.perf_counter() + seconds

    def write(conn: psycopg.Connection, limit: object) -> None:
        limit = record_credit_limit(conn, limit=limit, policy=policy, signer=signer, lender_organization_id=org)  # type: ignore[arg-type]
        key, seq = uuid.uuid4().hex, limit.audit_entry.seq  # type: ignore[union-attr]
        idempotency.remember(conn, organization_id=org, key=key, request_hash="bench", response={"seq": seq})
        conn.commit()

    def worker(index: int) -> None:
        done = 0
        with psycopg.connect(db_url) as conn:
            while time.perf_counter() < stop:
                farm = farms[(index * 7 + done) % len(farms)]
                limit = decide_credit_limit(conn, farm_id=farm, as_of=datetime.now(UTC), policy=policy, record=False)
                if pipelined:
                    with conn.pipeline():
                        write(conn, limit)
                else:
                    write(conn, limit)
                done += 1
        counts.append(done)

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(counts) / seconds


def main() -> None:
    """Seed, alternate the two ways of writing, print a table and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 10 s (default: 5 of 20 s)")
    parser.add_argument("--db-url", default=os.environ.get("FARMTRUST_DB__URL"), help="admin URL of a PostgreSQL")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    rounds, seconds = (3, 10.0) if args.quick else (5, 20.0)

    from farmtrust.services import start_embedded_postgres
    from store.tenants import authenticate

    server_handle = None
    admin = args.db_url
    if not admin:
        admin, server_handle = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="farmtrust-bench-dw-")) / "pg")
    try:
        with scratch_database(admin, prefix="ft_bench_dw") as db_url:
            farms, key, _ = seed(db_url, farms=20, readings=100_000)
            with psycopg.connect(db_url) as conn:
                principal = authenticate(conn, token=key)
                assert principal is not None
            plain, pipelined = [], []
            for _ in range(rounds):  # alternated, so a change in the machine's load hits both alike
                common = {"farms": farms, "org": principal.organization_id, "threads": args.threads, "seconds": seconds}
                plain.append(_run(db_url, pipelined=False, **common))
                pipelined.append(_run(db_url, pipelined=True, **common))
    finally:
        if server_handle is not None:
            server_handle.cleanup()  # type: ignore[attr-defined]
    figures = {
        "threads": args.threads,
        "rounds": rounds,
        "seconds": seconds,
        "baseline_decisions_per_s": [round(x, 1) for x in plain],
        "pipelined_decisions_per_s": [round(x, 1) for x in pipelined],
        "ratio": round(statistics.mean(pipelined) / statistics.mean(plain), 3),
    }
    print(f"{'writes after the append':<34}{'decisions/s (each round)':<40}")
    print(f"{'one round trip each (baseline)':<34}{figures['baseline_decisions_per_s']}")
    print(f"{'pipelined (the API)':<34}{figures['pipelined_decisions_per_s']}  x{figures['ratio']}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
