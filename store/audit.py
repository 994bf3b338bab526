"""Persistence of the hash-chained audit log (``audit_log``) and its signed checkpoints.

The table refuses UPDATE, DELETE and TRUNCATE (trigger in migration 0040); appends take a transaction
advisory lock so two writers never fork the chain. Functions never commit: the caller's transaction
holds the entry together with what it records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import psycopg

from credit.audit import (
    AuditChain,
    AuditEntry,
    AuditReport,
    Checkpoint,
    entry_hash,
    sign_checkpoint,
    verify_chain,
)
from credit.canonical import to_plain
from credit.entry_signing import EntrySigner, SignedHash, entry_signature_problems, sign_entry
from credit.errors import AuditError

log = logging.getLogger(__name__)

AUDIT_LOCK_ID = 0x46_54_41_55
"""The transaction advisory lock (``"FTAU"``) that keeps one audit appender at a time.

Whoever appends to ``audit_log`` or checkpoints it takes this lock. Migration 0041's ``ft_audit_append``
repeats it as the literal ``1179926869``: applied migrations cannot be edited, so this value must stay
equal to that literal (tests/store/test_audit_log.py checks they agree).
"""

__all__ = [
    "AUDIT_LOCK_ID",
    "EntryDraft",
    "append_entries",
    "append_entry",
    "draft_entry",
    "load_checkpoints",
    "load_entries",
    "load_entry",
    "load_signed_hashes",
    "verify_log",
    "write_checkpoint",
]


def append_entry(
    conn: psycopg.Connection,
    *,
    signer: EntrySigner,
    kind: str,
    payload: object,
    created_at: datetime | None = None,
) -> AuditEntry:
    """Append one entry signed by ``signer``, linked to the last; return it (committed with the caller's transaction).

    Two round trips: ``ft_audit_head`` takes the log's lock and reads its head, then the entry, hashed
    and signed here (:func:`credit.entry_signing.sign_entry`), goes in through ``ft_audit_append_signed``
    (migration 0074), which hashes it again in the server. The lock is held until the caller's commit.

    Raises:
        credit.AuditError: the kind is empty, the payload cannot be serialised canonically, or the
            server's hash disagrees with the Python one.
    """
    return _append_signed(conn, signer=signer, items=[(kind, payload)], created_at=created_at)[-1]


def _append_signed(
    conn: psycopg.Connection,
    *,
    signer: EntrySigner,
    items: Sequence[tuple[str, object]],
    created_at: datetime | None,
) -> list[AuditEntry]:
    """Append ``items`` (kind, payload) in order, each signed; a batched append calls this too."""
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    head = conn.execute("SELECT last_seq, last_hash FROM ft_audit_head()").fetchone()
    assert head is not None
    chain = AuditChain(last_seq=int(head[0]), last_hash=str(head[1]))
    entries = [sign_entry(chain.append(kind=k, payload=p, created_at=when), signer) for k, p in items]
    for e in entries:
        row = conn.execute(
            "SELECT ft_audit_append_signed(%s, %s, %s, %s, %s, %s, %s)",
            (e.seq, e.kind, e.created_at, to_plain(e.created_at), e.payload_json, e.prev_hash, e.signature),
        ).fetchone()
        assert row is not None
        if row[0] != e.entry_hash:
            raise AuditError(f"audit entry {e.seq}: the server's hash {row[0][:12]} differs from {e.entry_hash[:12]}")
        log.debug("audit entry %d %s %s", e.seq, e.kind, e.entry_hash[:12])
    return entries


_COLUMNS = "seq, kind, created_at, payload, prev_hash, entry_hash, signature"


def _entry(r: Sequence[Any]) -> AuditEntry:
    return AuditEntry(r[0], r[1], r[2].astimezone(UTC), r[3], r[4], r[5], None if r[6] is None else bytes(r[6]))


def load_entries(conn: psycopg.Connection, *, after_seq: int = 0) -> list[AuditEntry]:
    """Every entry after ``after_seq``, in sequence order."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq > %s ORDER BY seq", (after_seq,)).fetchall()
    return [_entry(r) for r in rows]


def load_signed_hashes(conn: psycopg.Connection, *, after_seq: int, upto_seq: int) -> list[SignedHash]:
    """The seq, kind, chain hash and signature of entries ``after_seq + 1 .. upto_seq``, in order."""
    rows = conn.execute(
        "SELECT seq, kind, entry_hash, signature FROM audit_log WHERE seq > %s AND seq <= %s ORDER BY seq",
        (after_seq, upto_seq),
    ).fetchall()
    return [SignedHash(int(r[0]), r[1], r[2], None if r[3] is None else bytes(r[3])) for r in rows]


def load_entry(conn: psycopg.Connection, seq: int) -> AuditEntry | None:
    """The entry ``seq``, or None when there is none."""
    r = conn.execute(f"SELECT {_COLUMNS} FROM audit_log WHERE seq = %s", (seq,)).fetchone()
    return None if r is None else _entry(r)


def load_checkpoints(conn: psycopg.Connection) -> list[Checkpoint]:
    """Every checkpoint, in sequence order."""
    rows = conn.execute(
        "SELECT seq, entry_hash, signed_at, public_key, signature FROM audit_checkpoints ORDER BY seq"
    ).fetchall()
    return [Checkpoint(r[0], r[1], r[2].astimezone(UTC), bytes(r[3]), bytes(r[4])) for r in rows]


@dataclass(frozen=True)
class EntryDraft:
    """What an entry says before the log gives it a place: its kind, time and canonical payload text."""

    kind: str
    created_at: datetime
    payload_json: str


def draft_entry(*, kind: str, payload: object, created_at: datetime | None = None) -> EntryDraft:
    """Check ``kind`` and serialise ``payload`` canonically (``created_at``: now when None).

    Raises:
        credit.AuditError: the kind is empty or not letters, digits, dots and underscores, or the payload
            cannot be serialised canonically.
    """
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    # built on a detached chain only to validate the kind and serialise the payload canonically
    draft = AuditChain().append(kind=kind, payload=payload, created_at=when)
    return EntryDraft(kind, when, draft.payload_json)


def append_entries(conn: psycopg.Connection, drafts: Sequence[EntryDraft], *, signer: EntrySigner) -> list[AuditEntry]:
    """Append ``drafts`` in order, each linked to the one before and signed by ``signer``; return the entries.

    The batched form of :func:`append_entry` (the weekly credit refresh appends a batch's decisions with
    it): ``ft_audit_head`` takes the log's lock and reads its head, every entry is hashed and signed here
    (:func:`credit.entry_signing.sign_entry`), and the batch goes through ``ft_audit_append_signed``
    (migration 0074, which hashes each entry again in the server) in one pipelined ``executemany``. The
    lock is held until the caller's transaction ends.

    Raises:
        credit.AuditError: a server hash disagrees with the Python one.
    """
    if not drafts:
        return []
    head = conn.execute("SELECT last_seq, last_hash FROM ft_audit_head()").fetchone()
    assert head is not None
    seq, prev = int(head[0]), str(head[1])
    entries = []
    for d in drafts:
        seq += 1
        digest = entry_hash(seq=seq, kind=d.kind, created_at=d.created_at, payload_json=d.payload_json, prev_hash=prev)
        entries.append(sign_entry(AuditEntry(seq, d.kind, d.created_at, d.payload_json, prev, digest), signer))
        prev = digest
    with conn.cursor() as cur:
        cur.executemany(
            "SELECT ft_audit_append_signed(%s, %s, %s, %s, %s, %s, %s)",
            [
                (e.seq, e.kind, e.created_at, to_plain(e.created_at), e.payload_json, e.prev_hash, e.signature)
                for e in entries
            ],
            returning=True,
        )
        for e in entries:
            row = cur.fetchone()
            assert row is not None
            if row[0] != e.entry_hash:
                raise AuditError(
                    f"audit entry {e.seq}: the server's hash {row[0][:12]} differs from {e.entry_hash[:12]}"
                )
            cur.nextset()
    log.info("appended %d audit entries (%d..%d)", len(entries), entries[0].seq, entries[-1].seq)
    return entries


def write_checkpoint(
    conn: psycopg.Connection, *, private_key: bytes, signed_at: datetime | None = None
) -> Checkpoint | None:
    """Sign the last entry's hash and store the checkpoint; None when the log is empty or already checkpointed.

    Raises:
        credit.AuditError: ``private_key`` is not a raw 32-byte Ed25519 key.
    """
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_ID,))
    row = conn.execute(
        "SELECT seq, kind, created_at, payload, prev_hash, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    if conn.execute("SELECT 1 FROM audit_checkpoints WHERE seq = %s", (row[0],)).fetchone():
        return None
    entry = AuditEntry(row[0], row[1], row[2].astimezone(UTC), row[3], row[4], row[5])
    cp = sign_checkpoint(entry, private_key=private_key, signed_at=(signed_at or datetime.now(UTC)).astimezone(UTC))
    conn.execute(
        "INSERT INTO audit_checkpoints (seq, entry_hash, signed_at, public_key, signature) VALUES (%s, %s, %s, %s, %s)",
        (cp.seq, cp.entry_hash, cp.signed_at, cp.public_key, cp.signature),
    )
    log.info("audit checkpoint at entry %d (%s)", cp.seq, cp.entry_hash[:12])
    return cp


def verify_log(conn: psycopg.Connection, *, public_key: bytes | None) -> AuditReport:
    """Verify the stored log, its checkpoints and its entries' signatures.

    See :func:`credit.audit.verify_chain` and :func:`credit.entry_signing.entry_signature_problems`; without
    ``public_key`` only the presence of the entries' signatures is checked.
    """
    entries = load_entries(conn)
    chain = verify_chain(entries, load_checkpoints(conn), public_key=public_key)
    signatures = entry_signature_problems(entries, None if public_key is None else [public_key])
    report = replace(chain, problems=(*chain.problems, *signatures))
    log.info("verified audit log: %d entries, %d problems", report.entries, len(report.problems))
    return report
