"""Reads of a farm's livestock counts: daily herd maxima, counted frames with their evidence, latest head.

Counts carry their interval (``count_low``/``count_high``, at ``vocabulary.cameras.INTERVAL_COVERAGE``)
where the vision worker gave one; rows stored before, and declared counts, have None.

Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row

__all__ = [
    "CountedFrame",
    "HerdDayRow",
    "counted_frames",
    "evidence_path",
    "herd_days",
    "latest_head_counts",
    "latest_head_intervals",
]


@dataclass(frozen=True, kw_only=True)
class HerdDayRow:
    """One species on one UTC day: the highest head count and how many distinct frames were counted.

    ``head_low``/``head_high``: the interval of the frame that gave ``head`` (of those, the one with the
    highest lower end); both None when that frame has none, ``head_high`` alone when it is unbounded above.
    """

    day: date
    species: str
    head: int
    photos: int
    head_low: int | None = None
    head_high: int | None = None


@dataclass(frozen=True, kw_only=True)
class CountedFrame:
    """One stored count with its frame hash, perceptual hash, model and evidence thumbnail path."""

    time: datetime
    species: str
    count: int
    device_id: str | None
    camera_id: str | None
    frame_sha256: str | None
    phash: str | None
    model_sha256: str | None
    evidence_path: str | None
    count_low: int | None = None
    count_high: int | None = None


def herd_days(conn: psycopg.Connection, *, farm_id: UUID | str, days: int) -> list[HerdDayRow]:
    """Daily maximum head count per species over the last ``days`` (UTC days), by day then species."""
    with conn.cursor(row_factory=class_row(HerdDayRow)) as cur:
        cur.execute(
            """SELECT (date_bin('1 day', time, '2000-01-01'::timestamptz) AT TIME ZONE 'UTC')::date AS day, species,
                      max(count) AS head, count(DISTINCT frame_sha256) AS photos,
                      (array_agg(count_low ORDER BY count DESC, count_low DESC NULLS LAST))[1] AS head_low,
                      (array_agg(count_high ORDER BY count DESC, count_low DESC NULLS LAST))[1] AS head_high
               FROM livestock_counts WHERE farm_id = %s AND time >= now() - make_interval(days => %s)
               GROUP BY 1, species ORDER BY 1, species""",
            (farm_id, days),
        )
        return cur.fetchall()


def counted_frames(
    conn: psycopg.Connection, *, farm_id: UUID | str, limit: int, with_evidence_only: bool = False
) -> list[CountedFrame]:
    """The farm's latest counted frames, newest first.

    The counts above zero; with ``with_evidence_only`` instead the counts that kept a thumbnail.
    """
    with conn.cursor(row_factory=class_row(CountedFrame)) as cur:
        cur.execute(
            """SELECT time, species, count, device_id, camera_id, frame_sha256, phash, model_sha256, evidence_path,
                      count_low, count_high
               FROM livestock_counts
               WHERE farm_id = %s AND CASE WHEN %s THEN evidence_path IS NOT NULL ELSE count > 0 END
               ORDER BY time DESC LIMIT %s""",
            (farm_id, with_evidence_only, limit),
        )
        return cur.fetchall()


def evidence_path(conn: psycopg.Connection, *, farm_ids: Sequence[UUID], frame_sha256: str) -> str | None:
    """The stored thumbnail of a frame counted on one of ``farm_ids``; None when none of them has it.

    Another farm citing the same frame hash is never looked at.
    """
    row = conn.execute(
        """SELECT evidence_path FROM livestock_counts
           WHERE frame_sha256 = %s AND farm_id = ANY(%s::uuid[]) AND evidence_path IS NOT NULL
           ORDER BY time DESC LIMIT 1""",
        (frame_sha256, [str(f) for f in farm_ids]),
    ).fetchone()
    return None if row is None else str(row[0])


def latest_head_counts(conn: psycopg.Connection, *, farm_ids: Sequence[UUID]) -> dict[UUID, dict[str, int]]:
    """Per farm of ``farm_ids``: the most recent count of each species (farms without counts are left out)."""
    rows = conn.execute(
        """SELECT DISTINCT ON (farm_id, species) farm_id, species, count FROM livestock_counts
           WHERE farm_id = ANY(%s::uuid[]) ORDER BY farm_id, species, time DESC""",
        ([str(f) for f in farm_ids],),
    ).fetchall()
    out: dict[UUID, dict[str, int]] = {}
    for farm_id, species, count in rows:
        out.setdefault(farm_id, {})[species] = int(count)
    return out


def latest_head_intervals(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID]
) -> dict[UUID, dict[str, tuple[int, int | None]]]:
    """Per farm of ``farm_ids``: the interval of each species' most recent count, where that count has one.

    The upper end is None when the interval is unbounded above.
    """
    rows = conn.execute(
        """SELECT farm_id, species, count_low, count_high FROM (
               SELECT DISTINCT ON (farm_id, species) farm_id, species, count_low, count_high FROM livestock_counts
               WHERE farm_id = ANY(%s::uuid[]) ORDER BY farm_id, species, time DESC) latest
           WHERE count_low IS NOT NULL""",
        ([str(f) for f in farm_ids],),
    ).fetchall()
    out: dict[UUID, dict[str, tuple[int, int | None]]] = {}
    for farm_id, species, low, high in rows:
        out.setdefault(farm_id, {})[species] = (int(low), None if high is None else int(high))
    return out
