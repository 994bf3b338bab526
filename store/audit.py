"""Persistence of the hash-chained audit log (``audit_log``) and its signed checkpoints.

The table refuses UPDATE, DELETE and TRUNCATE (trigger in migration 0040); appends take a transaction
advisory lock so two writers never fork the chain. Functions never commit: the caller's transaction
holds the entry together with what it records.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
    "verify_log",
    "write_checkpoint",
]


def append_entry(
    conn: psycopg.Connection, *, kind: str, payload: object, created_at: datetime | None = None
) -> AuditEntry:
    """Append one entry linked to the last one; return it (committed with the caller's transaction).

    The lock, the read of the last entry and the insert run in the server in one round trip
    (``ft_audit_append``, migration 0041), so the log's single-appender lock is held for as short a
    time as the transaction allows; the server's hash is checked against :func:`credit.audit.entry_hash`.

    Raises:
        credit.AuditError: the kind is empty, the payload cannot be serialised canonically, or the
            server's hash disagrees with the Python one.
    """
    when = (created_at or datetime.now(UTC)).astimezone(UTC)
    # built on a detached chain only to validate the kind and serialise the payload canonically
    draft = AuditChain().append(kind=kind, payload=payload, created_at=when)
    row = conn.execute(
        "SELECT entry_seq, entry_prev_hash, entry_hash FROM ft_audit_append(%s, %s, %s, %s)",
        (kind, when, to_plain(when), draft.payload_json),
    ).fetchone()
    assert row is not None
    seq, prev_hash, digest = int(row[0]), str(row[1]), str(row[2])
    expected = entry_hash(seq=seq, kind=kind, created_at=when, payload_json=draft.payload_json, prev_hash=prev_hash)
    if digest != expected:
        raise AuditError(f"audit entry {seq}: the server's hash {digest[:12]} differs from {expected[:12]}")
    log.debug("audit entry %d %s %s", seq, kind, digest[:12])
    return AuditEntry(seq, kind, when, draft.payload_json, prev_hash, digest)


def load_entries(conn: psycopg.Connection, *, after_seq: int = 0) -> list[AuditEntry]:
    """Every entry after ``after_seq``, in sequence order."""
    rows = conn.execute(
        "SELECT seq, kind, created_at, payload, prev_hash, entry_hash FROM audit_log WHERE seq > %s ORDER BY seq",
        (after_seq,),
    ).fetchall()
    return [AuditEntry(r[0], r[1], r[2].astimezone(UTC), r[3], r[4], r[5]) for r in rows]


def load_entry(conn: psycopg.Connection, seq: int) -> AuditEntry | None:
    """The entry ``seq``, or None when there is none."""
    r = conn.execute(
        "SELECT seq, kind, created_at, payload, prev_hash, entry_hash FROM audit_log WHERE seq = %s", (seq,)
    ).fetchone()
    return None if r is None else AuditEntry(r[0], r[1], r[2].astimezone(UTC), r[3], r[4], r[5])


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


def _checked(draft: EntryDraft, row: tuple[object, object, object]) -> AuditEntry:
    """The entry the server wrote for ``draft``, after recomputing its hash in Python."""
    seq, prev_hash, digest = int(str(row[0])), str(row[1]), str(row[2])
    expected = entry_hash(
        seq=seq, kind=draft.kind, created_at=draft.created_at, payload_json=draft.payload_json, prev_hash=prev_hash
    )
    if digest != expected:
        raise AuditError(f"audit entry {seq}: the server's hash {digest[:12]} differs from {expected[:12]}")
    return AuditEntry(seq, draft.kind, draft.created_at, draft.payload_json, prev_hash, digest)


def append_entries(conn: psycopg.Connection, drafts: Sequence[EntryDraft]) -> list[AuditEntry]:
    """Append ``drafts`` in order, each linked to the one before, in one statement; return the entries.

    ``ft_audit_append_many`` (migration 0084) runs ``ft_audit_append`` for each draft in the server, so
    the hashing and chaining are those of :func:`append_entry`; each server hash is recomputed in Python
    and the entries must follow one another. The log's lock is held until the caller's transaction ends.

    Raises:
        credit.AuditError: a server hash disagrees with the Python one, or the entries do not chain.
    """
    if not drafts:
        return []
    rows = conn.execute(
        "SELECT entry_seq, entry_prev_hash, entry_hash FROM ft_audit_append_many(%s, %s, %s, %s)",
        (
            [d.kind for d in drafts],
            [d.created_at for d in drafts],
            [to_plain(d.created_at) for d in drafts],
            [d.payload_json for d in drafts],
        ),
    ).fetchall()
    if len(rows) != len(drafts):
        raise AuditError(f"appended {len(rows)} audit entries for {len(drafts)} drafts")
    entries = [_checked(d, r) for d, r in zip(drafts, rows, strict=True)]
    for before, after in itertools.pairwise(entries):
        if after.seq != before.seq + 1 or after.prev_hash != before.entry_hash:
            raise AuditError(f"audit entry {after.seq} does not follow entry {before.seq} of the same batch")
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
    """Verify the stored log and checkpoints (see :func:`credit.audit.verify_chain`)."""
    report = verify_chain(load_entries(conn), load_checkpoints(conn), public_key=public_key)
    log.info("verified audit log: %d entries, %d problems", report.entries, len(report.problems))
    return report
