"""The on-disk spool: every message is written here first and deleted only after the broker's PUBACK.

SQLite in WAL mode with ``synchronous=FULL`` by default, so a committed message survives ``kill -9``
and power loss. The per-device sequence number is taken in the same transaction that stores the
message, so a number is never reused. The spool is bounded by size; when full it drops, oldest first,
frames and counts before telemetry and status (telemetry is what credit coverage is computed from),
logs each drop at WARNING and keeps a persistent counter per kind that the status message reports.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    topic      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    seq        INTEGER NOT NULL,
    created_at REAL NOT NULL,
    retain     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
DROP_ORDER = ("frame", "count", "status", "telemetry")
"""Which kinds go first when the spool is full (oldest message of the first kind present)."""
SPOOL_POLICY = "drop-oldest:frame,count,status,telemetry"


@dataclass(frozen=True)
class SpoolEntry:
    """One message waiting for its PUBACK."""

    id: int
    kind: str
    topic: str
    payload: bytes
    seq: int
    created_at: float
    retain: bool


class Spool:
    """A size-bounded, crash-safe message queue in one SQLite file.

    Args:
        path: the SQLite file (created with its folder).
        max_bytes: the most payload bytes kept; older messages are dropped by :data:`DROP_ORDER`.
        synchronous: SQLite ``synchronous`` level, ``FULL`` (power-loss safe) or ``NORMAL``.
        clock: wall-clock seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        path: Path,
        max_bytes: int = 64 * 1024 * 1024,
        synchronous: str = "FULL",
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) the spool file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._clock = clock
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'NORMAL' if synchronous.upper() == 'NORMAL' else 'FULL'}")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT coalesce(sum(length(payload)), 0), count(*) FROM spool").fetchone()
        self._bytes, self._depth = int(row[0]), int(row[1])

    def close(self) -> None:
        """Close the file (everything committed stays)."""
        self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, key: str, by: int = 1) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + ?",
            (key, by, by),
        )

    @property
    def last_seq(self) -> int:
        """The last sequence number taken (-1 before the first message)."""
        return self._meta("next_seq") - 1

    @property
    def depth(self) -> int:
        """Messages waiting for their PUBACK."""
        return self._depth

    @property
    def size_bytes(self) -> int:
        """Payload bytes waiting."""
        return self._bytes

    def dropped(self) -> dict[str, int]:
        """Messages dropped for space so far, per kind (persistent)."""
        rows = self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'dropped:%'").fetchall()
        return {k.split(":", 1)[1]: int(v) for k, v in rows}

    def append(
        self,
        *,
        kind: str,
        topic: str,
        make_payload: Callable[[int], bytes],
        retain: bool = False,
        takes_seq: bool = True,
    ) -> SpoolEntry:
        """Take the next sequence number, build the payload with it and store both in one transaction.

        ``make_payload(seq)`` signs the message; if it raises, nothing is stored and the number is reused.
        With ``takes_seq=False`` (status messages) the payload gets the last number and none is consumed.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            seq = self._meta("next_seq") if takes_seq else max(self._meta("next_seq") - 1, 0)
            payload = make_payload(seq)
            if takes_seq:
                self._bump("next_seq")
            self._make_room(len(payload))
            now = self._clock()
            cur = self._db.execute(
                "INSERT INTO spool (kind, topic, payload, seq, created_at, retain) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, topic, payload, seq, now, int(retain)),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            row = self._db.execute("SELECT coalesce(sum(length(payload)), 0), count(*) FROM spool").fetchone()
            self._bytes, self._depth = int(row[0]), int(row[1])
            raise
        self._bytes += len(payload)
        self._depth += 1
        return SpoolEntry(int(cur.lastrowid or 0), kind, topic, payload, seq, now, retain)

    def _make_room(self, incoming: int) -> None:
        while self._bytes + incoming > self.max_bytes and self._depth > 0:
            placeholders = ",".join("?" * len(DROP_ORDER))
            row = self._db.execute(
                f"SELECT id, kind, seq, length(payload) FROM spool WHERE kind IN ({placeholders}) "
                "ORDER BY CASE kind WHEN 'frame' THEN 0 WHEN 'count' THEN 1 WHEN 'status' THEN 2 ELSE 3 END, id "
                "LIMIT 1",
                DROP_ORDER,
            ).fetchone()
            if row is None:
                return
            self._db.execute("DELETE FROM spool WHERE id = ?", (row[0],))
            self._bump(f"dropped:{row[1]}")
            self._bytes -= int(row[3])
            self._depth -= 1
            log.warning(
                "spool full (%d bytes max): dropped %s seq %d by policy %s",
                self.max_bytes,
                row[1],
                row[2],
                SPOOL_POLICY,
            )

    def live(self, *, since: float, limit: int, exclude: set[int]) -> list[SpoolEntry]:
        """Messages created at or after ``since``, oldest first (live data goes ahead of backlog)."""
        return self._select("WHERE created_at >= ? ORDER BY id", (since,), limit, exclude)

    def backlog(self, *, before: float, limit: int, exclude: set[int]) -> list[SpoolEntry]:
        """Oldest-first messages created before ``before`` (the backlog, in sequence order)."""
        return self._select("WHERE created_at < ? ORDER BY id", (before,), limit, exclude)

    def _select(self, clause: str, args: tuple[float], limit: int, exclude: set[int]) -> list[SpoolEntry]:
        rows = self._db.execute(
            f"SELECT id, kind, topic, payload, seq, created_at, retain FROM spool {clause} LIMIT ?",
            (*args, limit + len(exclude)),
        ).fetchall()
        out = [SpoolEntry(r[0], r[1], r[2], bytes(r[3]), r[4], r[5], bool(r[6])) for r in rows if r[0] not in exclude]
        return out[:limit]

    def delete_many(self, entry_ids: list[int]) -> None:
        """Remove several acknowledged messages in one transaction."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for entry_id in entry_ids:
                self.delete(entry_id)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            row = self._db.execute("SELECT coalesce(sum(length(payload)), 0), count(*) FROM spool").fetchone()
            self._bytes, self._depth = int(row[0]), int(row[1])
            raise

    def delete(self, entry_id: int) -> None:
        """Remove a message once the broker acknowledged it."""
        row = self._db.execute("DELETE FROM spool WHERE id = ? RETURNING length(payload)", (entry_id,)).fetchone()
        if row is not None:
            self._bytes -= int(row[0])
            self._depth -= 1
