"""Per-device sequence bookkeeping: ``device_seq`` (last sequence per key epoch) and ``device_gaps`` (missing ranges).

A sequence is keyed by ``(device_id, key_epoch)``. What counts as a gap or a replay is decided by
:mod:`usecases.ingest`; these functions only read, lock and write the rows. None of them commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

__all__ = [
    "OpenGap",
    "SequenceAdvance",
    "SequenceKey",
    "advance_sequences",
    "close_gap",
    "lock_open_gap",
    "lock_sequences",
    "record_gap",
    "reshape_gap",
    "split_gap",
]

SequenceKey = tuple[str, int]
"""``(device_id, key_epoch)``: whose sequence numbers these are."""


@dataclass(frozen=True)
class OpenGap:
    """The bounds (inclusive) of one open row of ``device_gaps``."""

    seq_from: int
    seq_to: int


@dataclass(frozen=True)
class SequenceAdvance:
    """A new ``last_seq`` for one sequence, and the first one it ever stored (kept when already set)."""

    device_id: str
    key_epoch: int
    last_seq: int
    first_seq: int


def lock_sequences(conn: psycopg.Connection, farm_of: Mapping[SequenceKey, str]) -> dict[SequenceKey, int]:
    """Create the missing ``device_seq`` rows of ``farm_of``'s keys, lock them all in key order, return each last_seq.

    Args:
        conn: a connection inside the caller's transaction (the locks last until it ends).
        farm_of: the farm id of each ``(device_id, key_epoch)``.
    """
    keys = sorted(farm_of)
    devices, epochs = [k[0] for k in keys], [k[1] for k in keys]
    conn.execute(
        "INSERT INTO device_seq (device_id, key_epoch, farm_id) "
        "SELECT * FROM unnest(%s::text[], %s::int[], %s::uuid[]) ON CONFLICT (device_id, key_epoch) DO NOTHING",
        (devices, epochs, [farm_of[k] for k in keys]),
    )
    rows = conn.execute(
        "SELECT s.device_id, s.key_epoch, s.last_seq FROM device_seq s "
        "JOIN unnest(%s::text[], %s::int[]) AS k(device_id, key_epoch) USING (device_id, key_epoch) "
        "ORDER BY s.device_id, s.key_epoch FOR UPDATE OF s",
        (devices, epochs),
    ).fetchall()
    return {(r[0], int(r[1])): int(r[2]) for r in rows}


def advance_sequences(conn: psycopg.Connection, advances: Sequence[SequenceAdvance]) -> None:
    """Set each sequence's ``last_seq`` (and ``first_seq`` where it is still unset) in one statement."""
    if not advances:
        return
    conn.execute(
        "UPDATE device_seq AS s SET last_seq = v.last_seq, first_seq = coalesce(s.first_seq, v.first_seq), "
        "updated_at = now() "
        "FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[]) "
        "AS v(device_id, key_epoch, last_seq, first_seq) "
        "WHERE s.device_id = v.device_id AND s.key_epoch = v.key_epoch",
        (
            [a.device_id for a in advances],
            [a.key_epoch for a in advances],
            [a.last_seq for a in advances],
            [a.first_seq for a in advances],
        ),
    )


def record_gap(conn: psycopg.Connection, key: SequenceKey, *, farm_id: str, seq_from: int, seq_to: int) -> None:
    """Record the open gap ``seq_from..seq_to`` of a sequence (nothing when one already starts at ``seq_from``)."""
    conn.execute(
        "INSERT INTO device_gaps (device_id, key_epoch, farm_id, seq_from, seq_to) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (device_id, key_epoch, seq_from) DO NOTHING",
        (*key, farm_id, seq_from, seq_to),
    )


def lock_open_gap(conn: psycopg.Connection, key: SequenceKey, *, seq: int) -> OpenGap | None:
    """Lock and return the open gap of a sequence that contains ``seq``, or None."""
    with conn.cursor(row_factory=class_row(OpenGap)) as cur:
        return cur.execute(
            "SELECT seq_from, seq_to FROM device_gaps WHERE device_id = %s AND key_epoch = %s AND closed_at IS NULL "
            "AND seq_from <= %s AND seq_to >= %s FOR UPDATE",
            (*key, seq, seq),
        ).fetchone()


_GAP = "WHERE device_id = %s AND key_epoch = %s AND seq_from = %s"


def close_gap(conn: psycopg.Connection, key: SequenceKey, *, seq_from: int) -> None:
    """Mark the gap starting at ``seq_from`` filled (the row stays, for history)."""
    conn.execute("UPDATE device_gaps SET closed_at = now() " + _GAP, (*key, seq_from))


def reshape_gap(conn: psycopg.Connection, key: SequenceKey, *, seq_from: int, new_from: int, new_to: int) -> None:
    """Give the gap starting at ``seq_from`` the bounds ``new_from..new_to``."""
    conn.execute("UPDATE device_gaps SET seq_from = %s, seq_to = %s " + _GAP, (new_from, new_to, *key, seq_from))


def split_gap(conn: psycopg.Connection, key: SequenceKey, *, seq_from: int, new_from: int, new_to: int) -> None:
    """Add the open gap ``new_from..new_to`` with the farm and detection time of the gap starting at ``seq_from``."""
    conn.execute(
        "INSERT INTO device_gaps (device_id, key_epoch, farm_id, seq_from, seq_to, detected_at) "
        "SELECT device_id, key_epoch, farm_id, %s, %s, detected_at FROM device_gaps " + _GAP,
        (new_from, new_to, *key, seq_from),
    )
