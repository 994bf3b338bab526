from datetime import UTC, datetime

import psycopg
import pytest

from credit import generate_signing_key, public_key_of
from store.audit import append_entry, load_entries, verify_log, write_checkpoint

KEY = generate_signing_key()


def _fill(conn, n=5):
    return [
        append_entry(conn, kind="test.entry", payload={"i": i, "at": datetime(2025, 1, 1, tzinfo=UTC)})
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
