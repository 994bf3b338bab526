import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

import store
from credit import public_key_of
from credit.entry_signing import entry_signature_problems
from store.audit import AUDIT_LOCK_ID, append_entry, load_entries, verify_log, write_checkpoint
from tests.signers import TEST_SIGNER

KEY = TEST_SIGNER.seed  # the server signs entries and checkpoints with one key


def _fill(conn, n=5):
    return [
        append_entry(
            conn, signer=TEST_SIGNER, kind="test.entry", payload={"i": i, "at": datetime(2025, 1, 1, tzinfo=UTC)}
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET kind = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log CASCADE",
        "UPDATE audit_checkpoints SET signed_at = now()",
        "DELETE FROM audit_checkpoints",
    ],
)
def test_the_database_forbids_changing_the_log(conn, statement):
    _fill(conn)
    write_checkpoint(conn, private_key=KEY)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement)


def test_entries_round_trip_and_verify_with_checkpoints(conn):
    written = _fill(conn, 7)
    cp = write_checkpoint(conn, private_key=KEY)
    assert cp.seq == written[-1].seq
    assert write_checkpoint(conn, private_key=KEY) is None  # nothing new
    assert load_entries(conn)[-7:] == written
    report = verify_log(conn, public_key=public_key_of(KEY))
    assert report.ok and report.checkpoints >= 1 and report.signatures_checked


def test_an_edit_behind_the_triggers_back_is_found(conn):
    written = _fill(conn, 4)
    write_checkpoint(conn, private_key=KEY)
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    conn.execute(
        "UPDATE audit_log SET payload = replace(payload, '\"i\":2', '\"i\":9') WHERE seq = %s", (written[2].seq,)
    )
    conn.execute("DELETE FROM audit_log WHERE seq = %s", (written[1].seq,))
    report = verify_log(conn, public_key=public_key_of(KEY))
    found = {(p.seq, p.code) for p in report.problems}
    assert (written[2].seq, "edited") in found
    assert (written[2].seq, "missing") in found


@pytest.mark.parametrize(
    "created_at",
    [datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC), datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)],
    ids=["whole-second", "microseconds"],
)
def test_the_server_side_append_hashes_as_the_python_chain_does(conn, created_at):
    # ft_audit_append_signed computes the hash in SQL; the Python chain must verify it byte for byte,
    # including non-ASCII payloads and timestamps without a fraction of a second
    entry = append_entry(
        conn, signer=TEST_SIGNER, kind="test.entry", payload={"farmer": "Wanjirũ Kamau", "n": 1}, created_at=created_at
    )
    nxt = append_entry(conn, signer=TEST_SIGNER, kind="test.entry", payload={"n": 2})
    assert nxt.prev_hash == entry.entry_hash and nxt.seq == entry.seq + 1
    assert load_entries(conn, after_seq=entry.seq - 1)[:2] == [entry, nxt]
    assert verify_log(conn, public_key=None).ok


def test_an_audit_kind_that_json_would_escape_is_refused(conn):
    from credit.errors import AuditError

    with pytest.raises(AuditError, match="kind"):
        append_entry(conn, signer=TEST_SIGNER, kind='bad"kind', payload={})


@pytest.mark.parametrize("migration", ["0041_audit_append.sql", "0074_audit_entry_signatures.sql"])
def test_the_audit_lock_id_equals_the_literal_in_the_migrations(migration):
    sql = (Path(store.__file__).parent / "migrations" / migration).read_text()
    literals = {int(n) for n in re.findall(r"pg_advisory_xact_lock\((\d+)\)", sql)}
    assert literals == {AUDIT_LOCK_ID}
    assert int.from_bytes(b"FTAU", "big") == AUDIT_LOCK_ID


def test_a_batch_of_entries_chains_as_the_python_chain_does(conn):
    from credit.audit import AuditChain
    from store.audit import append_entries, draft_entry

    before = append_entry(conn, signer=TEST_SIGNER, kind="test.entry", payload={"n": 0})
    when = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    drafts = [
        draft_entry(kind="test.batch", payload={"farmer": "Wanjirũ Kamau", "i": i}, created_at=when) for i in range(4)
    ]
    entries = append_entries(conn, drafts, signer=TEST_SIGNER)
    # the reference: the pure in-memory chain, continued from the entry before the batch
    chain = AuditChain(last_seq=before.seq, last_hash=before.entry_hash)
    expected = [
        chain.append(kind="test.batch", payload={"farmer": "Wanjirũ Kamau", "i": i}, created_at=when) for i in range(4)
    ]
    assert [dataclasses.replace(e, signature=None) for e in entries] == expected
    # each entry signed by the log's key over its own index and hash
    assert not entry_signature_problems(entries, [TEST_SIGNER.public_key])
    assert [e.seq for e in entries] == list(range(before.seq + 1, before.seq + 5))
    assert load_entries(conn, after_seq=before.seq) == entries
    after = append_entry(conn, signer=TEST_SIGNER, kind="test.entry", payload={"n": 5})
    assert after.prev_hash == entries[-1].entry_hash
    # the Merkle tree trigger kept a leaf for every entry of the batch
    leaves = conn.execute(
        "SELECT count(*) FROM audit_tree_nodes WHERE level = 0 AND idx BETWEEN %s AND %s",
        (before.seq - 1, after.seq - 1),
    ).fetchone()[0]
    assert leaves == 6
    assert verify_log(conn, public_key=None).ok


def test_an_empty_batch_appends_nothing_and_a_bad_kind_refuses_the_batch(conn):
    from credit.errors import AuditError
    from store.audit import EntryDraft, append_entries

    assert append_entries(conn, [], signer=TEST_SIGNER) == []
    bad = [EntryDraft("test.entry", datetime(2026, 1, 1, tzinfo=UTC), "{}"), EntryDraft('x"y', datetime.now(UTC), "{}")]
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="letters, digits"):
        append_entries(conn, bad, signer=TEST_SIGNER)
    with pytest.raises(AuditError, match="kind"):
        from store.audit import draft_entry

        draft_entry(kind="", payload={})
