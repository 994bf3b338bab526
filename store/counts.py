"""Livestock count rows, and the frame queue the vision worker drains.

Frames come from ingest's ``frames`` table (migration 0010, see docs/CONTRACTS.md). Workers claim
pending frames with ``FOR UPDATE SKIP LOCKED`` so several of them split the work, write one
``livestock_counts`` row per species and frame, and mark the frame ``counted`` or ``quarantined``
in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from store.rollups import EVIDENCE_METHODS, UNBOUNDED, add_count_days
from vocabulary.cameras import DEFAULT_CAMERA_PROFILE
from vocabulary.devices import FrameStatus

log = logging.getLogger(__name__)

FRAMES_CHANNEL = "farmtrust_frames"


@dataclass(frozen=True)
class CountRow:
    """One row of ``livestock_counts``."""

    time: datetime
    farm_id: UUID
    species: str
    count: int
    method: str
    device_id: str | None = None
    camera_id: str | None = None
    spread: float | None = None
    model_sha256: str | None = None
    frame_sha256: str | None = None
    phash: str | None = None
    evidence_path: str | None = None
    flags: tuple[str, ...] = field(default=())
    count_low: int | None = None
    """Lower end of the count's interval at :data:`vocabulary.cameras.INTERVAL_COVERAGE` (None: no interval)."""
    count_high: int | None = None
    """Upper end of that interval; None with ``count_low`` set means unbounded above (a profile calibrated on
    too few frames, ``vision.intervals``)."""


@dataclass(frozen=True)
class PendingFrame:
    """A frame row claimed for counting."""

    sha256: str
    farm_id: UUID
    device_id: str
    camera_id: str
    captured_at: datetime
    path: str
    bytes: int
    message_id: UUID | None = None
    """The frame message this row belongs to (several rows may share the bytes and the sha256)."""
    recycled_of: UUID | None = None
    """Set when another farm sent these exact bytes first (a recycled photo): that farm's frame message."""
    camera_profile: str = DEFAULT_CAMERA_PROFILE.value
    """The sending device's camera profile (:class:`vocabulary.cameras.CameraProfile`): its interval calibration."""


_COLUMNS = (
    "time, farm_id, device_id, camera_id, species, count, method, spread, model_sha256, frame_sha256, "
    "phash, evidence_path, flags, count_low, count_high"
)


def write_counts(*, conn: psycopg.Connection, rows: list[CountRow]) -> int:
    """Insert count rows and add them to their daily rollup (:func:`store.rollups.add_count_days`); return the rows."""
    if not rows:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO livestock_counts ({_COLUMNS}) VALUES ({', '.join(['%s'] * 15)})",
            [
                (
                    r.time,
                    r.farm_id,
                    r.device_id,
                    r.camera_id,
                    r.species,
                    r.count,
                    r.method,
                    r.spread,
                    r.model_sha256,
                    r.frame_sha256,
                    r.phash,
                    r.evidence_path,
                    list(r.flags),
                    r.count_low,
                    r.count_high,
                )
                for r in rows
            ],
        )
    add_count_days(conn, rows)
    log.info("wrote %d livestock count rows", len(rows))
    return len(rows)


def claim_pending_frames(*, conn: psycopg.Connection, limit: int) -> list[PendingFrame]:
    """Lock up to ``limit`` pending frames, oldest first, skipping frames other workers hold.

    Call inside a transaction; the locks last until it ends.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT f.sha256, f.farm_id, f.device_id, f.camera_id, f.captured_at, f.path, f.bytes, f.message_id, "
            "f.recycled_of, coalesce((SELECT d.camera_profile FROM devices d WHERE d.id = f.device_id), %s) "
            "FROM frames f WHERE f.status = 'pending' ORDER BY f.received_at LIMIT %s FOR UPDATE OF f SKIP LOCKED",
            (DEFAULT_CAMERA_PROFILE.value, limit),
        )
        return [PendingFrame(*row) for row in cur.fetchall()]


def mark_frame(
    *, conn: psycopg.Connection, sha256: str, status: str, reason: str | None = None, message_id: UUID | None = None
) -> None:
    """Set a frame's status to ``counted`` or ``quarantined`` (with a reason).

    With ``message_id`` only that frame message's row changes; without it, every row with these bytes.

    Raises:
        ValueError: ``status`` is neither.
    """
    if status not in {FrameStatus.COUNTED, FrameStatus.QUARANTINED}:
        raise ValueError(f"status must be 'counted' or 'quarantined', got {status!r}")
    if message_id is None:
        conn.execute("UPDATE frames SET status = %s, status_reason = %s WHERE sha256 = %s", (status, reason, sha256))
    else:
        conn.execute(
            "UPDATE frames SET status = %s, status_reason = %s WHERE message_id = %s", (status, reason, message_id)
        )


RECYCLED_LOOKBACK = timedelta(days=400)
"""How far back a recycled photo is looked for: over a year, so last season's photo is caught too."""


def recycled_frames(
    *,
    conn: psycopg.Connection,
    farm_id: UUID,
    phash: str,
    frame_sha256: str,
    max_bits: int,
    since: datetime | None = None,
) -> list[str]:
    """Frames of the same farm since ``since`` whose perceptual hash is within ``max_bits`` of ``phash``.

    A match means a re-sent or recycled photo: the count should not count as new evidence. ``since``
    (default: ``RECYCLED_LOOKBACK`` ago) bounds the search, so it reads a fixed span of the
    time-partitioned table however long the farm has reported.
    """
    since = since or datetime.now(UTC) - RECYCLED_LOOKBACK
    with conn.cursor() as cur:
        cur.execute(
            "SELECT DISTINCT frame_sha256 FROM livestock_counts WHERE farm_id = %s AND time >= %s "
            "AND phash IS NOT NULL AND frame_sha256 IS DISTINCT FROM %s "
            "AND length(replace((('x' || phash)::bit(64) # ('x' || %s)::bit(64))::text, '0', '')) <= %s "
            "LIMIT 10",
            (farm_id, since, frame_sha256, phash, max_bits),
        )
        return [row[0] for row in cur.fetchall()]


def counts_for_frame(*, conn: psycopg.Connection, frame_sha256: str) -> list[CountRow]:
    """The count rows written for one frame, by species."""
    with conn.cursor() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM livestock_counts WHERE frame_sha256 = %s ORDER BY species", (frame_sha256,)
        )
        return [
            CountRow(
                time=r[0],
                farm_id=r[1],
                device_id=r[2],
                camera_id=r[3],
                species=r[4],
                count=r[5],
                method=r[6],
                spread=r[7],
                model_sha256=r[8],
                frame_sha256=r[9],
                phash=r[10],
                evidence_path=r[11],
                flags=tuple(r[12]),
                count_low=r[13],
                count_high=r[14],
            )
            for r in cur.fetchall()
        ]


@dataclass(frozen=True)
class CameraDay:
    """One camera's robust head count of one species on one UTC day, and the frames it came from.

    ``head`` is the low median of the day's frame counts (an observed count, never above the middle
    one), ``spread`` their inter-quartile range. ``head_low``/``head_high`` are the day's interval: the
    low median of the frames' lower bounds and the low median of their upper bounds (the same robust
    figure taken at each end, so one frame moves neither; an unbounded upper end counts as the largest,
    and ``head_high`` is None when the median is one). Both None unless every frame carries an interval.
    """

    day: date
    device_id: str
    camera_id: str
    species: str
    head: int
    frames: int
    spread: float
    head_low: int | None = None
    head_high: int | None = None
    profile: str = DEFAULT_CAMERA_PROFILE.value
    """The device's camera profile."""


_UNBOUNDED = UNBOUNDED
"""An unbounded upper end while medians are taken: larger than any stored count (``integer``'s largest)."""


def _bounded(high: int | None) -> int | None:
    return None if high is None or high == _UNBOUNDED else int(high)


def daily_window_counts(
    *, conn: psycopg.Connection, farm_id: UUID | str, start: datetime, end: datetime
) -> list[CameraDay]:
    """Per UTC day, camera and species over ``[start, end)``: the low median of the frame counts.

    Left out: frames flagged ``recycled_photo``, frames the vision worker quarantined, and counts not
    from a device registered to the farm (unverified). One bad frame cannot move a camera's day.
    Ordered by day, device, camera and species. The day's interval (:class:`CameraDay`) is the low
    median of the frames' lower bounds and of their upper bounds, only when every frame has one (a day
    mixing counts from before intervals were stored has none): credit values the lower one.

    Raises:
        ValueError: the window is empty or reversed.
    """
    if end <= start:
        raise ValueError(f"window end {end.isoformat()} must be after its start {start.isoformat()}")
    with conn.cursor() as cur:
        cur.execute(
            """SELECT (c.time AT TIME ZONE 'UTC')::date, c.device_id, coalesce(c.camera_id, ''), c.species,
                      percentile_disc(0.5) WITHIN GROUP (ORDER BY c.count), count(*),
                      percentile_cont(0.75) WITHIN GROUP (ORDER BY c.count)
                      - percentile_cont(0.25) WITHIN GROUP (ORDER BY c.count),
                      CASE WHEN count(c.count_low) = count(*)
                           THEN percentile_disc(0.5) WITHIN GROUP (ORDER BY c.count_low) END,
                      CASE WHEN count(c.count_low) = count(*)
                           THEN percentile_disc(0.5) WITHIN GROUP (ORDER BY coalesce(c.count_high, %s)) END,
                      d.camera_profile
               FROM livestock_counts c
               JOIN devices d ON d.id = c.device_id AND d.farm_id = c.farm_id
               WHERE c.farm_id = %s AND c.time >= %s AND c.time < %s AND c.method = ANY(%s)
                 AND NOT ('recycled_photo' = ANY(c.flags))
                 AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.farm_id = c.farm_id AND f.sha256 = c.frame_sha256
                                 AND f.status = 'quarantined')
               GROUP BY 1, 2, 3, 4, d.camera_profile ORDER BY 1, 2, 3, 4""",
            (_UNBOUNDED, str(farm_id), start, end, list(EVIDENCE_METHODS)),
        )
        return [
            CameraDay(day, device, camera, species, int(head), int(n), float(spread), low, _bounded(high), profile)
            for day, device, camera, species, head, n, spread, low, high, profile in cur.fetchall()
        ]


def listen_for_frames(*, conn: psycopg.Connection) -> None:
    """Subscribe ``conn`` (autocommit) to ingest's frame announcements (``NOTIFY farmtrust_frames``)."""
    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(FRAMES_CHANNEL)))


def wait_for_frames(*, conn: psycopg.Connection, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for a frame announcement on a listening ``conn``; whether one came."""
    return any(True for _ in conn.notifies(timeout=timeout_s, stop_after=1))


@dataclass(frozen=True, kw_only=True)
class HerdSummary:
    """One farm's counts of one species over the frames that saw at least one animal of it."""

    farm_id: UUID
    species: str
    photos: int
    max_count: int
    latest_count: int
    latest_evidence_path: str | None


def herd_summaries(*, conn: psycopg.Connection, farm_ids: list[UUID]) -> list[HerdSummary]:
    """Per farm and species with a non-zero count: distinct photos, the largest count, the latest count and evidence.

    Ordered by farm id and species.
    """
    with conn.cursor(row_factory=class_row(HerdSummary)) as cur:
        cur.execute(
            """SELECT farm_id, species, count(DISTINCT frame_sha256) AS photos, max(count) AS max_count,
                      (array_agg(count ORDER BY time DESC))[1] AS latest_count,
                      (array_agg(evidence_path ORDER BY time DESC))[1] AS latest_evidence_path
               FROM livestock_counts WHERE farm_id = ANY(%s) AND count > 0
               GROUP BY farm_id, species ORDER BY farm_id, species""",
            (farm_ids,),
        )
        return cur.fetchall()
