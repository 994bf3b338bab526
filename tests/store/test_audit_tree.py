"""The audit log's Merkle tree in the real database: written with each append, proofs from O(log n) rows.

Expected roots come from the recursive RFC 6962 reference of tests/credit/test_merkle.py over the entries'
chain hashes, hashed here with hashlib, not from the code under test.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from credit.canonical import to_plain
from credit.merkle import verify_consistency, verify_inclusion
from store.audit import append_entry, load_entries, verify_log
from store.audit_tree import load_leaf_hashes, tree_size
from store.migrations import migrate
from tests.conftest import with_dbname
from tests.credit.test_merkle import ref_mth
from tests.signers import TEST_SIGNER
from usecases.audit import consistency_proof, inclusion_proof, root_at


def _fill(conn, n):
    for i in range(n):
        append_entry(
            conn, signer=TEST_SIGNER, kind="test.tree", payload={"i": i}, created_at=datetime(2025, 3, 1, tzinfo=UTC)
        )


def _fill_unsigned(conn, n):
    """Entries as logged before migration 0074 (no signature): straight through ft_audit_append."""
    when = datetime(2025, 3, 1, tzinfo=UTC)
    for i in range(n):
        conn.execute("SELECT ft_audit_append('test.tree', %s, %s, %s)", (when, to_plain(when), f'{{"i":{i}}}'))


def _leaf_inputs(conn):
    return [bytes.fromhex(e.entry_hash) for e in load_entries(conn)]


def test_each_append_adds_its_leaf_and_completed_subtrees(conn):
    _fill(conn, 13)
    data = _leaf_inputs(conn)
    assert tree_size(conn) == len(data)
    assert load_leaf_hashes(conn) == [hashlib.sha256(b"\x00" + d).digest() for d in data]
    for size in range(1, len(data) + 1):
        assert root_at(conn, size) == ref_mth(data[:size]), size


def test_proofs_from_the_database_verify_against_an_independent_root(conn):
    _fill(conn, 21)
    data = _leaf_inputs(conn)
    n = len(data)
    root = ref_mth(data)
    for index in {0, 1, n // 2, n - 2, n - 1}:
        leaf = hashlib.sha256(b"\x00" + data[index]).digest()
        assert verify_inclusion(index, n, leaf, inclusion_proof(conn, index, n), root)
    for old in {1, 2, n // 3, n - 5, n - 1, n}:
        proof = consistency_proof(conn, old, n)
        assert verify_consistency(old, n, ref_mth(data[:old]), root, proof), old


def test_sizes_beyond_the_log_are_refused(conn):
    _fill(conn, 2)
    n = tree_size(conn)
    with pytest.raises(ValueError, match=f"size={n + 1}"):
        root_at(conn, n + 1)
    with pytest.raises(ValueError, match="index"):
        inclusion_proof(conn, n, n)


def test_the_tree_is_append_only_and_has_no_holes(conn):
    _fill(conn, 3)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute("UPDATE audit_tree_nodes SET hash = hash WHERE level = 0")
    conn.rollback()
    _fill(conn, 1)
    last = load_entries(conn)[-1]
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="hole"):
        conn.execute(
            "INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash)"
            " VALUES (%s, 'test.gap', now(), '{}', %s, %s)",
            (last.seq + 2, last.entry_hash, "ab" * 32),
        )


@pytest.fixture
def empty_db(admin_url):
    name = f"ft_tree_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_dbname(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_the_migration_backfills_entries_logged_before_it(empty_db, tmp_path: Path):
    every = Path(str(resources.files("store") / "migrations"))
    for f in every.glob("*.sql"):
        if int(f.name[:4]) < 70:
            shutil.copy(f, tmp_path / f.name)
    with psycopg.connect(empty_db, autocommit=True) as c:
        migrate(c, directory=tmp_path)
    with psycopg.connect(empty_db) as c:
        _fill_unsigned(c, 11)
        c.commit()
    with psycopg.connect(empty_db, autocommit=True) as c:
        migrate(c)
        data = _leaf_inputs(c)
        assert len(data) == 12  # the 11, and where signing begins (migration 0074)
        assert root_at(c, 12) == ref_mth(data)
        assert root_at(c, 6) == ref_mth(data[:6])
        _fill(c, 2)  # and the trigger carries on from there (0074 logged where signing begins: entry 12)
        assert root_at(c, 14) == ref_mth(_leaf_inputs(c))
        entries = load_entries(c)
        assert entries[11].kind == "audit.signing_begins" and entries[11].payload == {"signed_from_seq": 13}
        assert [e.signature is None for e in entries] == [True] * 12 + [False] * 2
        assert verify_log(c, public_key=TEST_SIGNER.public_key).ok  # entries before signing began are not forged
