"""Count the animals in pending camera frames and store the counts (the vision worker's round)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psycopg

from store.counts import CountRow, PendingFrame, claim_pending_frames, mark_frame, recycled_frames, write_counts
from vision.errors import ImageError
from vision.evidence import RECYCLED_MAX_BITS, phash, thumbnail, write_thumbnail
from vision.images import decode_image

if TYPE_CHECKING:
    import numpy as np

    from vision.detections import Detections
    from vision.intervals import IntervalCalibration
    from vision.model import LivestockModel
    from vision.profile_counting import ProfileCount

log = logging.getLogger(__name__)

__all__ = ["FrameCounter", "RoundResult", "count_pending_frames"]


class FrameCounter(Protocol):
    """Counts frames the way a camera profile's intervals were calibrated (``vision.ProfileCounter``)."""

    def count_many(self, images: list[np.ndarray]) -> list[ProfileCount]:
        """Head count, interval and kept boxes per species of each BGR frame, in order (batched inside)."""
        ...


@dataclass(frozen=True)
class RoundResult:
    """What one round did."""

    counted: int
    quarantined: int


def _decode(frame: PendingFrame, frame_dir: Path) -> np.ndarray:
    path = frame_dir / frame.path
    try:
        data = path.read_bytes()
    except OSError:
        raise ImageError(f"Frame file {path} is missing; ingest stored no bytes for it", reason="missing") from None
    return decode_image(data, name=f"frame {frame.sha256} ({frame.path})")


def _detect(
    good: list[tuple[PendingFrame, np.ndarray]], model: LivestockModel, camera_models: Mapping[str, LivestockModel]
) -> list[Detections]:
    """One batched inference per camera profile, results in the frames' order."""
    found: list[Detections | None] = [None] * len(good)
    groups: dict[str, list[int]] = {}
    for i, (frame, _) in enumerate(good):
        groups.setdefault(frame.camera_id if frame.camera_id in camera_models else "", []).append(i)
    for camera, index in groups.items():
        detector = camera_models.get(camera, model)
        for i, dets in zip(index, detector.detect([good[i][1] for i in index]), strict=True):
            found[i] = dets
    return [d for d in found if d is not None]


def _interval(intervals: IntervalCalibration | None, count: int, profile: str) -> tuple[int | None, int | None]:
    """The count's ``(low, high)`` for a camera of ``profile``: (None, None) without a calibration.

    A profile the calibration lacks gets ``(0, None)``, unbounded above: a count no calibration vouches
    for must not pass for a precise one.
    """
    if intervals is None:
        return None, None
    from vision.errors import CalibrationError

    try:
        found = intervals.interval(count, profile)
    except CalibrationError:
        return 0, None
    return found.low, found.high


def _count(
    good: list[tuple[PendingFrame, np.ndarray]],
    model: LivestockModel,
    camera_models: Mapping[str, LivestockModel],
    intervals: IntervalCalibration | None,
    counters: Mapping[str, FrameCounter],
) -> list[tuple[Detections, dict[str, int], dict[str, tuple[int | None, int | None]]]]:
    """Per frame, in order: its boxes, each species' count and each count's ``(low, high)``.

    The frames of a device profile with a counter are counted by it together (batched, the way its intervals
    were calibrated); the others go through one batched inference per camera profile of the settings.
    """
    plain = [i for i, (frame, _) in enumerate(good) if frame.camera_profile not in counters]
    batched = dict(zip(plain, _detect([good[i] for i in plain], model, camera_models), strict=True))
    profiled: dict[int, ProfileCount] = {}
    for profile, counter in counters.items():
        index = [i for i, (frame, _) in enumerate(good) if frame.camera_profile == profile]
        if index:
            profiled.update(zip(index, counter.count_many([good[i][1] for i in index]), strict=True))
    out = []
    for i, (frame, _image) in enumerate(good):
        if i in batched:
            found = batched[i]
            counts = found.counts()
            bounds = {s: _interval(intervals, counts.get(s, 0), frame.camera_profile) for s in model.species}
        else:
            result = profiled[i]
            found, counts = result.detections, result.counts
            bounds = {s: (iv.low, iv.high) for s, iv in result.intervals.items()}
        out.append((found, counts, bounds))
    return out


def count_pending_frames(
    conn: psycopg.Connection,
    *,
    model: LivestockModel,
    frame_dir: Path,
    evidence_dir: Path,
    batch_size: int,
    camera_models: Mapping[str, LivestockModel] | None = None,
    intervals: IntervalCalibration | None = None,
    profile_counters: Mapping[str, FrameCounter] | None = None,
) -> RoundResult:
    """Claim up to ``batch_size`` pending frames, count them, store the counts and mark the frames.

    Writes one snapshot row per species ``model`` knows (zeros too) with an annotated thumbnail under
    ``evidence_dir``; a frame that cannot be decoded is marked ``quarantined`` with the reason. The frames
    stay locked until the caller's transaction ends: run it inside one (``with conn.transaction()``).
    With ``intervals`` each count gets its interval for the sending device's camera profile; a profile
    with a counter in ``profile_counters`` has its frames counted by it, as its intervals were calibrated.

    Args:
        conn: the connection whose transaction holds the claimed frames.
        model: the detector for every camera without a profile.
        frame_dir: where ingest stored the frames' bytes.
        evidence_dir: where annotated thumbnails are written.
        batch_size: frames claimed and counted.
        camera_models: per camera id, the model with that camera's profile.
        intervals: the model's count-interval calibration (``vision.intervals``); None stores no intervals.
        profile_counters: per camera profile, the counter its calibration records (``vision.ProfileCounter``).
    """
    frames = claim_pending_frames(conn=conn, limit=batch_size)
    good: list[tuple[PendingFrame, np.ndarray]] = []
    quarantined = 0
    for frame in frames:
        try:
            good.append((frame, _decode(frame, frame_dir)))
        except ImageError as exc:
            log.warning("quarantined frame %s: %s", frame.sha256, exc)
            mark_frame(
                conn=conn,
                sha256=frame.sha256,
                message_id=frame.message_id,
                status="quarantined",
                reason=f"{exc.reason}: {exc}",
            )
            quarantined += 1
    counted = _count(good, model, camera_models or {}, intervals, profile_counters or {})
    rows: list[CountRow] = []
    for (frame, image), (found, counts, bounds) in zip(good, counted, strict=True):
        hash_hex = phash(image)
        evidence = write_thumbnail(evidence_dir, frame_sha256=frame.sha256, jpeg=thumbnail(image, found))
        earlier = recycled_frames(
            conn=conn, farm_id=frame.farm_id, phash=hash_hex, frame_sha256=frame.sha256, max_bits=RECYCLED_MAX_BITS
        )
        flags = ("recycled_photo",) if earlier or frame.recycled_of is not None else ()
        for species in model.species:
            count = counts.get(species, 0)
            low, high = bounds.get(species, (None, None))
            rows.append(
                CountRow(
                    time=frame.captured_at,
                    farm_id=frame.farm_id,
                    device_id=frame.device_id,
                    camera_id=frame.camera_id,
                    species=species,
                    count=count,
                    method="snapshot",
                    model_sha256=model.identity.sha256,
                    frame_sha256=frame.sha256,
                    phash=hash_hex,
                    evidence_path=evidence,
                    flags=flags,
                    count_low=low,
                    count_high=high,
                )
            )
        mark_frame(conn=conn, sha256=frame.sha256, message_id=frame.message_id, status="counted")
    write_counts(conn=conn, rows=rows)
    if frames:
        log.info("vision round: %d frames counted, %d quarantined", len(good), quarantined)
    return RoundResult(len(good), quarantined)
