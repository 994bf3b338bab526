"""Tamper drills through the real database and the CLI, against a checkpoint or receipt kept outside it.

An insider with the database owner's rights switches the append-only triggers off and edits the log; the
checkpoint file written by ``farmtrust audit checkpoint`` (and the receipt a lender kept) must still expose it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import psycopg
import pytest

from credit.audit import entry_hash
from credit.canonical import to_plain
from store.audit import append_entry
from tests.signers import OTHER_SIGNER, TEST_SIGNER

CLI = [sys.executable, "-m", "farmtrust.cli"]
WHEN = datetime(2025, 4, 1, tzinfo=UTC)


@pytest.fixture
def env(tmp_path):
    key = tmp_path / "data" / "audit" / "checkpoint.key"  # the server's key is the one the entries are signed with
    key.parent.mkdir(parents=True)
    key.write_bytes(TEST_SIGNER.seed)
    key.chmod(0o600)
    return {
        **os.environ,
        "FARMTRUST_DATA_DIR": str(tmp_path / "data"),
        "FARMTRUST_AUDIT__ORIGIN": "farmtrust.test/audit",
    }


def run(env, *args, **extra):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, env={**env, **extra})


def _append(url, n):
    with psycopg.connect(url) as conn:
        for i in range(n):
            append_entry(conn, signer=TEST_SIGNER, kind="test.drill", payload={"i": i}, created_at=WHEN)
        conn.commit()


def _insider(url, *statements, rebuild=True):
    """Run ``statements`` with every append-only trigger off, then rebuild the Merkle tree from the entries."""
    with psycopg.connect(url) as conn:
        for table in ("audit_log", "audit_checkpoints", "audit_tree_nodes"):
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        for statement, params in statements:
            conn.execute(statement, params)
        if rebuild:
            conn.execute("DELETE FROM audit_tree_nodes")
        conn.execute(
            "DO $$ DECLARE r record; BEGIN FOR r IN SELECT seq, entry_hash FROM audit_log ORDER BY seq LOOP"
            " PERFORM ft_audit_tree_add(r.seq, r.entry_hash); END LOOP; END $$"
        ) if rebuild else None
        for table in ("audit_log", "audit_checkpoints", "audit_tree_nodes"):
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        conn.commit()


def _rechain_from(url, seq, new_payload):
    """Rewrite entry ``seq``'s payload and recompute the chain from there, as a careful insider would."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT seq, kind, created_at, payload, prev_hash FROM audit_log WHERE seq >= %s ORDER BY seq", (seq,)
        ).fetchall()
    statements = []
    prev = rows[0][4]
    for s, kind, created_at, payload, _ in rows:
        payload = new_payload if s == seq else payload
        digest = entry_hash(seq=s, kind=kind, created_at=created_at, payload_json=payload, prev_hash=prev)
        statements.append(
            (
                "UPDATE audit_log SET payload = %s, prev_hash = %s, entry_hash = %s WHERE seq = %s",
                (payload, prev, digest, s),
            )
        )
        prev = digest
    return statements


@pytest.fixture
def kept(fresh_db_url, env, tmp_path):
    """12 entries, a database checkpoint at 8, then a tree checkpoint at 12 that a lender copied out."""
    _append(fresh_db_url, 8)
    key_dir = tmp_path / "data" / "audit"
    out = run(env, "audit", "checkpoint", "--db-url", fresh_db_url)
    assert out.returncode == 0, out.stderr
    _append(fresh_db_url, 4)
    out = run(env, "audit", "checkpoint", "--db-url", fresh_db_url)
    assert out.returncode == 0, out.stderr
    assert "tree checkpoint at size 12" in out.stdout
    copy = tmp_path / "lender-checkpoint"
    copy.write_text((key_dir / "checkpoints" / "checkpoint").read_text())
    return copy


def _verify_since(env, url, kept):
    return run(env, "audit", "verify", "--since", str(kept), "--db-url", url, "--json")


def test_the_checkpoint_file_is_a_signed_c2sp_note(kept, env, fresh_db_url, tmp_path):
    text = kept.read_text()
    lines = text.split("\n")
    assert lines[0] == "farmtrust.test/audit" and lines[1] == "12" and lines[3] == ""
    assert lines[4].startswith("— farmtrust.test/audit ")
    vkey = (tmp_path / "data" / "audit" / "checkpoint.vkey").read_text().strip()
    assert vkey.startswith("farmtrust.test/audit+")
    ok = _verify_since(env, fresh_db_url, kept)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["ok"] is True
    _append(fresh_db_url, 3)  # the log grows: still an extension
    assert _verify_since(env, fresh_db_url, kept).returncode == 0


def _codes(out):
    return {p["code"] for p in json.loads(out.stdout)["problems"]}


def test_tail_truncation_with_the_checkpoints_deleted_is_caught(kept, env, fresh_db_url):
    _insider(
        fresh_db_url,
        ("DELETE FROM audit_checkpoints", None),
        ("DELETE FROM audit_log WHERE seq > %s", (9,)),
    )
    # the chain alone, with its checkpoints gone, sees nothing wrong: the old blind spot
    assert run(env, "audit", "verify", "--db-url", fresh_db_url).returncode == 0
    out = _verify_since(env, fresh_db_url, kept)
    assert out.returncode == 1
    assert "truncated" in _codes(out)


def test_a_rewrite_after_the_last_database_checkpoint_is_caught(kept, env, fresh_db_url):
    _insider(
        fresh_db_url,
        ("DELETE FROM audit_checkpoints WHERE seq > %s", (8,)),
        *_rechain_from(fresh_db_url, 10, '{"i":99}'),
    )
    plain = run(env, "audit", "verify", "--db-url", fresh_db_url, "--json")
    # chain and checkpoint at 8 still agree; the rewriter cannot sign the new hashes with the server's key
    assert plain.returncode == 1 and _codes(plain) == {"bad_entry_signature"}
    out = _verify_since(env, fresh_db_url, kept)
    assert out.returncode == 1
    assert "rewritten" in _codes(out)


@pytest.mark.parametrize(
    ("statement", "code"),
    [
        ("UPDATE audit_log SET payload = '{\"i\":7}' WHERE seq = 3", "edited"),
        ("DELETE FROM audit_log WHERE seq = 5", "missing"),
        ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 4", "missing"),
    ],
)
def test_edits_deletions_and_reordering_are_caught(kept, env, fresh_db_url, statement, code):
    _insider(fresh_db_url, ("DELETE FROM audit_checkpoints", None), (statement, None), rebuild=False)
    out = _verify_since(env, fresh_db_url, kept)
    assert out.returncode == 1
    assert code in _codes(out)


def test_a_checkpoint_signed_by_another_key_is_refused(kept, env, fresh_db_url, tmp_path):
    other = dict(env, FARMTRUST_DATA_DIR=str(tmp_path / "other"))
    _append(fresh_db_url, 1)
    assert run(other, "audit", "checkpoint", "--db-url", fresh_db_url).returncode == 0
    forged = tmp_path / "other" / "audit" / "checkpoints" / "checkpoint"
    pub = tmp_path / "data" / "audit" / "checkpoint.pub"
    out = run(env, "audit", "verify", "--since", str(forged), "--public-key", str(pub), "--db-url", fresh_db_url)
    assert out.returncode == 1
    assert "no verifiable signature" in out.stderr and "Traceback" not in out.stderr


def test_receipts_verify_offline_and_expose_tampering(kept, env, fresh_db_url, tmp_path):
    receipt_file = tmp_path / "receipt.json"
    out = run(env, "audit", "receipt", "7", "--out", str(receipt_file), "--db-url", fresh_db_url)
    assert out.returncode == 0, out.stderr
    receipt = json.loads(receipt_file.read_text())
    assert receipt["index"] == 6 and receipt["entry"]["seq"] == 7 and len(receipt["inclusion_proof"]) == 4
    for key in ("checkpoint.pub", "checkpoint.vkey"):
        pub = tmp_path / "data" / "audit" / key
        # offline: no database URL at all
        ok = run(env, "audit", "verify-receipt", str(receipt_file), "--public-key", str(pub), FARMTRUST_DB__URL="")
        assert ok.returncode == 0, ok.stderr
        assert "entry 7 (test.drill) is leaf 6 of farmtrust.test/audit at tree size 12" in " ".join(ok.stdout.split())
    pub = tmp_path / "data" / "audit" / "checkpoint.pub"
    tampered = dict(receipt, entry=dict(receipt["entry"], payload='{"i":6000}'))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tampered))
    out = run(env, "audit", "verify-receipt", str(bad), "--public-key", str(pub))
    assert out.returncode == 1 and "altered" in out.stderr and "Traceback" not in out.stderr
    moved = dict(receipt, inclusion_proof=list(reversed(receipt["inclusion_proof"])))
    bad.write_text(json.dumps(moved))
    out = run(env, "audit", "verify-receipt", str(bad), "--public-key", str(pub))
    assert out.returncode == 1 and "inclusion proof" in out.stderr
    bad.write_text(json.dumps({k: v for k, v in receipt.items() if k != "leaf_hash"}))
    out = run(env, "audit", "verify-receipt", str(bad), "--public-key", str(pub))
    assert out.returncode == 1 and "'leaf_hash'" in out.stderr and "Traceback" not in out.stderr


def test_checkpoints_are_issued_every_n_entries_when_due(fresh_db_url, env, tmp_path):
    due = {"FARMTRUST_AUDIT__CHECKPOINT_EVERY_ENTRIES": "3", "FARMTRUST_AUDIT__CHECKPOINT_EVERY_S": "3600"}
    folder = tmp_path / "data" / "audit" / "checkpoints"
    _append(fresh_db_url, 1)
    assert "size 1" in run(env, "audit", "checkpoint", "--if-due", "--db-url", fresh_db_url, **due).stdout
    _append(fresh_db_url, 2)
    out = run(env, "audit", "checkpoint", "--if-due", "--db-url", fresh_db_url, **due)
    assert out.returncode == 0 and "tree checkpoint" not in out.stdout
    _append(fresh_db_url, 1)
    assert "size 4" in run(env, "audit", "checkpoint", "--if-due", "--db-url", fresh_db_url, **due).stdout
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint", "checkpoint.1", "checkpoint.4"]
    assert (folder / "checkpoint").read_text().split("\n")[1] == "4"


def _receipt(env, url, seq, path):
    out = run(env, "audit", "receipt", str(seq), "--out", str(path), "--db-url", url)
    assert out.returncode == 0, out.stderr
    return path


@pytest.mark.parametrize("how", ["another-key", "no-signature"])
def test_an_append_without_the_servers_key_is_caught(kept, env, fresh_db_url, tmp_path, how):
    pub = tmp_path / "data" / "audit" / "checkpoint.pub"
    with psycopg.connect(fresh_db_url) as conn:
        if how == "another-key":  # an insider holding a key, but not the log's
            seq = append_entry(conn, signer=OTHER_SIGNER, kind="test.drill", payload={"i": 13}, created_at=WHEN).seq
        else:  # a login in farmtrust_app, or the owner, calling the server-side append directly
            (seq,) = conn.execute(
                "SELECT entry_seq FROM ft_audit_append('test.drill', %s, %s, '{\"i\":13}')", (WHEN, to_plain(WHEN))
            ).fetchone()
        conn.commit()
    code = "bad_entry_signature" if how == "another-key" else "unsigned"
    plain = run(env, "audit", "verify", "--public-key", str(pub), "--db-url", fresh_db_url, "--json")
    assert plain.returncode == 1 and code in _codes(plain)
    since = _verify_since(env, fresh_db_url, kept)
    assert since.returncode == 1 and code in _codes(since)
    # a receipt for it, proven against a checkpoint the server signs over it, still does not verify offline
    receipt = _receipt(env, fresh_db_url, seq, tmp_path / "forged.json")
    out = run(env, "audit", "verify-receipt", str(receipt), "--public-key", str(pub), FARMTRUST_DB__URL="")
    reason = "not signed by the log's key" if how == "another-key" else "no signature by the log's key"
    assert out.returncode == 1 and reason in " ".join(out.stderr.split()) and "Traceback" not in out.stderr
    honest = _receipt(env, fresh_db_url, seq - 1, tmp_path / "honest.json")
    assert run(env, "audit", "verify-receipt", str(honest), "--public-key", str(pub)).returncode == 0
