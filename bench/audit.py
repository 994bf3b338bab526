"""Audit transparency-log benchmark: appends, proofs and full verification at a million entries.

Run ``python -m bench.audit [--quick] [--db-url URL]`` (``--quick``: 100,000 entries). The log is first
filled in bulk (COPY of chained entries and of their Merkle nodes, computed with :mod:`credit.merkle`);
then measured on the real paths, at that size:

- ``append_per_s``: entries appended one transaction each through ``store.audit.append_entry``
  (``ft_audit_head``, the entry signed with the server's key, ``ft_audit_append_signed`` and the Merkle
  trigger of migration 0070), as a credit decision appends them;
- ``append_unsigned_per_s``: as many appends through the one-round-trip, unsigned ``ft_audit_append``
  (the path before entries were signed); ``entry_sign_us``: one Ed25519 entry signature, in Python;
- ``inclusion_proof_p50_ms`` / ``_p99_ms`` and ``consistency_proof_p99_ms``: proofs for random leaves and
  sizes from the stored nodes (``usecases.audit``: one query, the nodes and the log's size), each checked
  afterwards against the root; ``inclusion_proof_two_reads_p50_ms`` / ``_p99_ms``: the same proofs read as
  before (the size, then the nodes), alternating with them;
- ``verify_all_s``: ``usecases.audit.verify_extends`` against a signed checkpoint: every entry loaded,
  its chain hash, Merkle leaf and signature checked, the root compared and the stored tree's consistency
  proved (``verify_signatures_s``: the signatures' share, measured alone);
- ``append_chain_only_per_s``: as many appends with the Merkle trigger off (the log before 0070),
  alternating with the former in blocks so that both see the same load;
- baseline ``hashlib_s``: plain ``hashlib.sha256`` over the same entries' bytes, once each;
  ``ratio`` = ``hashlib_s / verify_all_s`` (the share of full verification that is bare hashing).

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from credit.audit import GENESIS_HASH, entry_hash, generate_signing_key
from credit.canonical import to_plain
from credit.entry_signing import Ed25519EntrySigner, entry_signature_problems, entry_signing_message
from credit.merkle import hash_children, hash_leaf, inclusion_proof_plan, verify_consistency, verify_inclusion
from credit.signed_note import parse_vkey, public_vkey, skey_from_seed
from store.audit import append_entry, load_entries
from store.audit_tree import load_nodes, tree_size
from store.migrations import migrate
from usecases.audit import consistency_proof, inclusion_proof, root_at, sign_tree_head, verify_extends

log = logging.getLogger("bench.audit")

START = datetime(2025, 1, 1, tzinfo=UTC)
ORIGIN = "bench.local/audit"


def _with_db(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _bulk_fill(conn: psycopg.Connection, n: int, signer: Ed25519EntrySigner) -> float:
    """COPY ``n`` chained, signed entries and every complete subtree's hash (the trigger is off meanwhile).

    Returns the seconds spent signing.
    """
    prev = GENESIS_HASH
    last: dict[int, bytes] = {}
    signing = 0.0
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_merkle_tree")
    columns = "seq, kind, created_at, payload, prev_hash, entry_hash, signature"
    with conn.cursor() as cur:
        nodes: list[tuple[int, int, bytes]] = []
        with cur.copy(f"COPY audit_log ({columns}) FROM STDIN") as copy:
            for i in range(n):
                seq, when, payload = i + 1, START + timedelta(seconds=i), f'{{"amount":"{i % 9973}.00","i":{i}}}'
                digest = entry_hash(seq=seq, kind="bench.entry", created_at=when, payload_json=payload, prev_hash=prev)
                started = time.perf_counter()
                signature = signer.sign(entry_signing_message(seq=seq, entry_hash=digest))
                signing += time.perf_counter() - started
                copy.write_row((seq, "bench.entry", when, payload, prev, digest, signature))
                prev = digest
                idx, level, h = i, 0, hash_leaf(bytes.fromhex(digest))
                while True:
                    nodes.append((level, idx, h))
                    if not idx & 1:
                        last[level] = h
                        break
                    h = hash_children(last[level], h)
                    idx, level = idx >> 1, level + 1
        with cur.copy("COPY audit_tree_nodes (level, idx, hash) FROM STDIN") as copy:
            for row in nodes:
                copy.write_row(row)
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_merkle_tree")
    conn.commit()
    return signing


def vacuum(conn: psycopg.Connection) -> None:
    """VACUUM the log's tables (outside a transaction, on a connection of its own)."""
    with psycopg.connect(conn.info.dsn, autocommit=True) as maint:
        maint.execute("VACUUM ANALYZE audit_log")
        maint.execute("VACUUM ANALYZE audit_tree_nodes")


def _unsigned_append(conn: psycopg.Connection, i: int) -> None:
    when = datetime.now(UTC)
    conn.execute("SELECT ft_audit_append('bench.append', %s, %s, %s)", (when, to_plain(when), f'{{"i":{i}}}'))


def _appends(conn: psycopg.Connection, appends: int, signer: Ed25519EntrySigner, rounds: int = 4) -> dict[str, float]:
    """Seconds for ``appends`` signed appends with the Merkle trigger, and for as many unsigned and tree-less.

    The three alternate in ``rounds`` blocks, so all see the same load; the unsigned appends and those made
    without the tree are deleted again after each block (with the append-only triggers off: this is a
    throwaway database).
    """
    took = {"signed": 0.0, "unsigned": 0.0, "chain_only": 0.0}
    block = max(1, appends // rounds)

    def timed(name: str, append: Any) -> None:
        started = time.perf_counter()
        for i in range(block):
            append(i)
            conn.commit()
        took[name] += time.perf_counter() - started

    def drop_after(last: int) -> None:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        conn.execute("ALTER TABLE audit_tree_nodes DISABLE TRIGGER audit_tree_nodes_append_only")
        conn.execute("DELETE FROM audit_log WHERE seq > %s", (last,))
        # every node whose leaves reach past ``last`` (node (level, idx) has [idx * 2^level, (idx + 1) * 2^level))
        conn.execute("DELETE FROM audit_tree_nodes WHERE (idx + 1) * (1::bigint << level) > %s", (last,))
        conn.execute("ALTER TABLE audit_tree_nodes ENABLE TRIGGER audit_tree_nodes_append_only")
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
        conn.commit()
        vacuum(conn)  # the deleted rows' dead index entries would otherwise slow the next block

    for _ in range(rounds):
        timed("signed", lambda i: append_entry(conn, signer=signer, kind="bench.append", payload={"i": i}))
        row = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        last = int(row[0]) if row and row[0] is not None else 0
        timed("unsigned", lambda i: _unsigned_append(conn, i))
        drop_after(last)
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_merkle_tree")
        conn.commit()
        timed("chain_only", lambda i: append_entry(conn, signer=signer, kind="bench.append", payload={"i": i}))
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_merkle_tree")
        drop_after(last)
    return {name: seconds * appends / (block * rounds) for name, seconds in took.items()}


def _hashlib_baseline(conn: psycopg.Connection) -> float:
    """Seconds to sha256 every entry's bytes once (rows already in memory)."""
    rows = conn.execute("SELECT prev_hash, kind, payload FROM audit_log ORDER BY seq").fetchall()
    started = time.perf_counter()
    for prev, kind, payload in rows:
        hashlib.sha256(f"{prev}\n{kind}\n{payload}".encode()).digest()
    return time.perf_counter() - started


def _two_read_proof_s(conn: psycopg.Connection, index: int, size: int) -> float:
    """Seconds for an inclusion proof as it was read before (the log's size, then the nodes: two queries)."""
    started = time.perf_counter()
    assert size <= tree_size(conn)
    plan = inclusion_proof_plan(index, size)
    plan.proof(load_nodes(conn, plan.nodes()))
    return time.perf_counter() - started


def _ms(samples: list[float], q: float) -> float:
    return round(statistics.quantiles(samples, n=100)[int(q) - 1] * 1000, 3)


def run(*, db_admin_url: str, entries: int, appends: int, proofs: int) -> dict[str, Any]:
    """Fill, measure, drop the database; return the figures."""
    name = f"ft_bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(db_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    db_url = _with_db(db_admin_url, name)
    rng = random.Random(15)
    signer = Ed25519EntrySigner(generate_signing_key())
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            migrate(conn)
        with psycopg.connect(db_url) as conn:
            started = time.perf_counter()
            sign_s = _bulk_fill(conn, entries, signer)
            fill_s = time.perf_counter() - started
            vacuum(conn)
            with psycopg.connect(db_url, autocommit=True) as maint:
                maint.execute("CHECKPOINT")
            took = _appends(conn, appends, signer)
            n = entries + appends
            root = root_at(conn, n)
            inclusion: list[float] = []
            two_reads: list[float] = []
            for i in range(proofs):
                index = rng.randrange(n)
                if i % 2:  # the former path first every other time: both see the same load
                    two_reads.append(_two_read_proof_s(conn, index, n))
                started = time.perf_counter()
                proof = inclusion_proof(conn, index, n)
                inclusion.append(time.perf_counter() - started)
                if not i % 2:
                    two_reads.append(_two_read_proof_s(conn, index, n))
                leaf = conn.execute(
                    "SELECT hash FROM audit_tree_nodes WHERE level = 0 AND idx = %s", (index,)
                ).fetchone()
                assert leaf is not None and verify_inclusion(index, n, bytes(leaf[0]), proof, root)
            consistency: list[float] = []
            for _ in range(proofs):
                old = rng.randrange(1, n)
                started = time.perf_counter()
                cproof = consistency_proof(conn, old, n)
                consistency.append(time.perf_counter() - started)
                assert verify_consistency(old, n, root_at(conn, old), root, cproof)
            conn.rollback()
            skey = skey_from_seed(ORIGIN, signer.seed)
            _head, note = sign_tree_head(conn, origin=ORIGIN, skey=skey)
            started = time.perf_counter()
            report = verify_extends(conn, checkpoint=note, keys=[parse_vkey(public_vkey(skey))])
            verify_s = time.perf_counter() - started
            assert report.ok, report.problems[:3]
            entries_loaded = load_entries(conn)
            started = time.perf_counter()
            assert not entry_signature_problems(entries_loaded, [signer.public_key])
            verify_signatures_s = time.perf_counter() - started
            hashlib_s = _hashlib_baseline(conn)
    finally:
        with psycopg.connect(db_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    return {
        "entries": n,
        "append_per_s": round(appends / took["signed"], 1),
        "inclusion_proof_p50_ms": _ms(inclusion, 50),
        "inclusion_proof_p99_ms": _ms(inclusion, 99),
        "inclusion_proof_two_reads_p50_ms": _ms(two_reads, 50),
        "inclusion_proof_two_reads_p99_ms": _ms(two_reads, 99),
        "consistency_proof_p99_ms": _ms(consistency, 99),
        "verify_all_s": round(verify_s, 2),
        "hashlib_s": round(hashlib_s, 3),
        "ratio": round(hashlib_s / verify_s, 3),
        "append_unsigned_per_s": round(appends / took["unsigned"], 1),
        "append_chain_only_per_s": round(appends / took["chain_only"], 1),
        "entry_sign_us": round(sign_s / entries * 1e6, 1),
        "verify_signatures_s": round(verify_signatures_s, 2),
        "bulk_fill_s": round(fill_s, 1),
        "appends_measured": appends,
        "proofs_measured": proofs,
    }


def main() -> None:
    """Parse options, run, print a summary and the JSON line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 entries (well under 3 minutes)")
    parser.add_argument("--db-url", help="admin URL of a PostgreSQL (default: an embedded one)")
    parser.add_argument("--entries", type=int, default=None, help="log size (default 1,000,000; quick 100,000)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    entries = args.entries or (100_000 if args.quick else 1_000_000)
    server = None
    db_url = args.db_url
    if db_url is None:
        from farmtrust.services import start_embedded_postgres

        db_url, server = start_embedded_postgres(Path(tempfile.mkdtemp(prefix="ft-bench-pg-")) / "data")
    try:
        figures = run(
            db_admin_url=db_url,
            entries=entries - (500 if args.quick else 2000),
            appends=500 if args.quick else 2000,
            proofs=300 if args.quick else 1000,
        )
    finally:
        if server is not None:
            server.cleanup()  # type: ignore[attr-defined]
    if not args.json:
        print(
            f"{figures['entries']:,} entries: {figures['append_per_s']:,} signed appends/s "
            f"({figures['append_unsigned_per_s']:,} unsigned, {figures['append_chain_only_per_s']:,} without the "
            f"tree; {figures['entry_sign_us']} us per signature); inclusion proof p50 "
            f"{figures['inclusion_proof_p50_ms']} ms, p99 {figures['inclusion_proof_p99_ms']} ms; consistency "
            f"p99 {figures['consistency_proof_p99_ms']} ms; full verification {figures['verify_all_s']} s "
            f"(signatures {figures['verify_signatures_s']} s) "
            f"(plain hashlib {figures['hashlib_s']} s, ratio {figures['ratio']})"
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
