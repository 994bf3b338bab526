"""Counting modes: per-frame snapshots, robust window counts, gate/line crossings, tiled aerial images."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vision.detections import Detections
from vision.species import SPECIES


@dataclass(frozen=True)
class WindowCount:
    """A robust head count over a time window of frames.

    Attributes:
        count: the chosen percentile (median by default) of the per-frame counts, rounded.
        spread: inter-quartile range of the per-frame counts (0 when every frame agrees).
        frames: number of frames in the window.
    """

    count: int
    spread: float
    frames: int


def window_count(frame_counts: list[int], *, percentile: float = 50.0) -> WindowCount:
    """Robust count of a window: one bad frame cannot move it.

    Args:
        frame_counts: head counts of one species in each frame of the window.
        percentile: 50 for the median; a higher value (e.g. 90) for cameras where animals hide.

    Raises:
        ValueError: no frames, or a percentile outside 0..100.
    """
    if not frame_counts:
        raise ValueError("frame_counts is empty; a window needs at least one frame")
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be within 0..100, got {percentile}")
    values = np.asarray(frame_counts, dtype=float)
    q25, q75 = np.percentile(values, [25, 75])
    return WindowCount(round(float(np.percentile(values, percentile))), float(q75 - q25), len(values))


@dataclass
class _Track:
    box: np.ndarray
    species: str
    hits: int = 1
    lost: int = 0
    side: int = 0  # settled side of the line: -1, +1, or 0 before it settles


@dataclass
class LineCounter:
    """Tracks animals across frames and counts confirmed crossings of a line, with hysteresis.

    A greedy IoU tracker (ByteTrack is no longer part of supervision 0.31, and ultralytics' needs the
    ``lap`` package) links boxes frame to frame. Identity inflation is guarded twice: a track counts
    only after ``min_hits`` frames, and only when its centre settles more than ``margin_px`` beyond the
    line on the far side after having settled on the near side; jitter on the line counts nothing.

    Attributes:
        start: line start (x, y) in pixels.
        end: line end (x, y) in pixels.
        min_hits: frames a track must be seen before it may count.
        margin_px: distance from the line a centre must reach to settle on a side.
        iou_min: least IoU to link a box to a track.
        max_lost: frames a track survives unseen.
    """

    start: tuple[float, float]
    end: tuple[float, float]
    min_hits: int = 3
    margin_px: float = 15.0
    iou_min: float = 0.2
    max_lost: int = 15
    in_counts: dict[str, int] = field(default_factory=dict)
    out_counts: dict[str, int] = field(default_factory=dict)
    _tracks: dict[int, _Track] = field(default_factory=dict)
    _next_id: int = 1

    def _signed_distance(self, points: np.ndarray) -> np.ndarray:
        (x1, y1), (x2, y2) = self.start, self.end
        length = max(float(np.hypot(x2 - x1, y2 - y1)), 1e-9)
        return ((x2 - x1) * (points[:, 1] - y1) - (y2 - y1) * (points[:, 0] - x1)) / length

    def update(self, detections: Detections) -> Detections:
        """Feed one frame; return its detections with track ids."""
        ids = list(self._tracks)
        import supervision as sv

        old = np.array([self._tracks[i].box for i in ids]).reshape(-1, 4)
        iou = sv.box_iou_batch(old, detections.xyxy.reshape(-1, 4))
        assigned = np.zeros(len(detections), dtype=int)
        used: set[int] = set()
        for flat in np.argsort(-iou, axis=None):
            ti, di = divmod(int(flat), max(len(detections), 1))
            if iou.size == 0 or iou[ti, di] < self.iou_min:
                break
            if ids[ti] in used or assigned[di]:
                continue
            track = self._tracks[ids[ti]]
            track.box, track.hits, track.lost = detections.xyxy[di], track.hits + 1, 0
            used.add(ids[ti])
            assigned[di] = ids[ti]
        for tid in ids:
            if tid not in used:
                self._tracks[tid].lost += 1
                if self._tracks[tid].lost > self.max_lost:
                    del self._tracks[tid]
        for di in np.flatnonzero(assigned == 0):
            assigned[di] = self._next_id
            self._tracks[self._next_id] = _Track(detections.xyxy[di], detections.species[di])
            self._next_id += 1
        centres = (detections.xyxy[:, :2] + detections.xyxy[:, 2:]) / 2
        for di, dist in enumerate(self._signed_distance(centres.reshape(-1, 2))):
            track = self._tracks[int(assigned[di])]
            side = 1 if dist > self.margin_px else -1 if dist < -self.margin_px else 0
            if side == 0 or side == track.side:
                continue
            if track.side != 0 and track.hits >= self.min_hits:
                counts = self.in_counts if side > 0 else self.out_counts
                counts[track.species] = counts.get(track.species, 0) + 1
            track.side = side
        return Detections(detections.xyxy, detections.confidence, detections.species, assigned.copy())


def tiled_detections(
    image: np.ndarray,
    *,
    detect: Callable[[np.ndarray], Detections],
    slice_px: int = 640,
    overlap_px: int = 128,
    iou_threshold: float = 0.5,
    detect_many: Callable[[list[np.ndarray]], list[Detections]] | None = None,
    batch_size: int = 1,
) -> Detections:
    """Detect in a large (aerial) image tile by tile and merge duplicates at tile borders.

    Uses ``supervision.InferenceSlicer`` with non-maximum suppression across tiles.

    Args:
        image: BGR image (H, W, 3).
        detect: detections of one tile.
        slice_px: tile side in pixels.
        overlap_px: overlap between neighbouring tiles in pixels (at least one animal's size).
        iou_threshold: IoU above which two boxes from neighbouring tiles are one animal.
        detect_many: detections of several tiles, in order; with ``batch_size`` > 1 the tiles go to it
            ``batch_size`` at a time instead of to ``detect`` one by one (the same boxes, fewer calls).
        batch_size: tiles per ``detect_many`` call.
    """
    import supervision as sv

    def callback(tile: np.ndarray) -> sv.Detections:
        return to_sv(detect(tile))

    def to_sv(found: Detections) -> sv.Detections:
        return sv.Detections(
            xyxy=found.xyxy.astype(np.float32).reshape(-1, 4),
            confidence=found.confidence.astype(np.float32),
            class_id=np.array([SPECIES.index(s) for s in found.species], dtype=int),
        )

    def callback_many(tiles: list[np.ndarray]) -> list[sv.Detections]:
        return [to_sv(found) for found in detect_many(tiles)]  # type: ignore[misc]

    batched = detect_many is not None and batch_size > 1
    slicer = sv.InferenceSlicer(
        callback=callback_many if batched else callback,  # type: ignore[arg-type]
        slice_wh=slice_px,
        overlap_wh=overlap_px,
        iou_threshold=iou_threshold,
        batch_size=batch_size if batched else 1,
    )
    merged = slicer(image)
    if len(merged) == 0:
        return Detections.empty()
    return Detections(
        merged.xyxy.astype(np.float32),
        np.asarray(merged.confidence, dtype=np.float32),
        tuple(SPECIES[int(c)] for c in merged.class_id),
    )
