"""Audit entries signed by the server's key (migration 0074): what is signed, where signing begins, forgeries."""

import hashlib
from datetime import UTC, datetime

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from credit.audit import AuditChain
from credit.entry_signing import SIGNING_BEGINS_KIND, entry_signature_problems, sign_entry
from store.audit import append_entry, load_entries, verify_log
from tests.signers import OTHER_SIGNER, TEST_SIGNER

WHEN = datetime(2026, 2, 1, 8, 30, tzinfo=UTC)


def _codes(conn, public_key=TEST_SIGNER.public_key):
    return {(p.seq, p.code) for p in verify_log(conn, public_key=public_key).problems}


def test_every_appended_entry_is_signed_over_its_seq_and_hash(conn):
    appended = [
        append_entry(conn, signer=TEST_SIGNER, kind="test.sig", payload={"i": i}, created_at=WHEN) for i in (1, 2)
    ]
    assert load_entries(conn)[-2:] == appended
    for e in appended:
        # the signed message written out by hand from the module's docstring, checked with the raw library
        message = b"farmtrust audit entry signature v1\n" + str(e.seq).encode() + b"\n" + bytes.fromhex(e.entry_hash)
        Ed25519PublicKey.from_public_bytes(TEST_SIGNER.public_key).verify(e.signature, message)
    assert verify_log(conn, public_key=TEST_SIGNER.public_key).ok


def test_an_append_through_ft_audit_append_is_reported_unsigned(conn):
    append_entry(conn, signer=TEST_SIGNER, kind="test.sig", payload={"i": 1}, created_at=WHEN)
    (seq,) = conn.execute("SELECT entry_seq FROM ft_audit_append('test.forged', now(), 'x', '{}')").fetchone()
    assert (seq, "unsigned") in _codes(conn)
    assert (seq, "unsigned") in _codes(conn, public_key=None)  # seen without the key too


def test_an_append_signed_by_another_key_is_reported(conn):
    append_entry(conn, signer=TEST_SIGNER, kind="test.sig", payload={"i": 1}, created_at=WHEN)
    forged = append_entry(conn, signer=OTHER_SIGNER, kind="test.sig", payload={"i": 2}, created_at=WHEN)
    assert _codes(conn) == {(forged.seq, "bad_entry_signature")}


def test_a_signature_moved_onto_another_entry_does_not_verify(conn):
    a = append_entry(conn, signer=TEST_SIGNER, kind="test.sig", payload={"i": 1}, created_at=WHEN)
    b = append_entry(conn, signer=TEST_SIGNER, kind="test.sig", payload={"i": 1}, created_at=WHEN)
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    conn.execute("UPDATE audit_log SET signature = %s WHERE seq = %s", (a.signature, b.seq))
    assert _codes(conn) == {(b.seq, "bad_entry_signature")}


def _log(kinds_signed):
    chain = AuditChain()
    out = []
    for kind, signed in kinds_signed:
        e = chain.append(kind=kind, payload={}, created_at=WHEN)
        out.append(sign_entry(e, TEST_SIGNER) if signed else e)
    return out


@pytest.mark.parametrize(
    ("log", "flagged"),
    [
        # born signed (no marker): every entry must be signed
        ([("a", True), ("b", False), ("c", True)], [2]),
        # older entries, then the migration's marker: only what follows it must be signed
        ([("a", False), ("b", False), (SIGNING_BEGINS_KIND, False), ("c", True), ("d", False)], [5]),
        # a marker slipped in after signed entries excuses nothing from the first signed entry on
        ([("a", False), ("b", True), ("c", False), (SIGNING_BEGINS_KIND, False), ("d", False)], [3, 4, 5]),
    ],
    ids=["born-signed", "legacy-then-marker", "late-marker"],
)
def test_where_signing_is_required(log, flagged):
    problems = entry_signature_problems(_log(log), [TEST_SIGNER.public_key])
    assert [(p.seq, p.code) for p in problems] == [(s, "unsigned") for s in flagged]


def test_a_signature_column_refuses_anything_but_64_bytes(conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO audit_log (seq, kind, created_at, payload, prev_hash, entry_hash, signature)"
            " VALUES (1000000, 'x', now(), '{}', repeat('0', 64), %s, '\\x00')",
            (hashlib.sha256(b"x").hexdigest(),),
        )
