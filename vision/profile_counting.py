"""Count a camera's frame the way its profile was calibrated, and give each count its interval.

The interval calibration (``farmtrust_livestock.intervals.json``) records per camera profile how the
calibrated counts were made (``IntervalCalibration.counting``: the inference setup and count rule the
folds chose). An interval only holds for counts made the same way, so the worker counts a profile's
frames with :class:`ProfileCounter`, built from that record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from vision.counting import tiled_detections
from vision.crossval import SCORE_FLOOR, SETUPS, CountRule, InferenceSetup
from vision.detections import Detections
from vision.errors import CalibrationError
from vision.intervals import CountInterval, IntervalCalibration

if TYPE_CHECKING:
    from vision.model import LivestockModel


@dataclass(frozen=True)
class ProfileCount:
    """One frame counted on a camera of a profile.

    Attributes:
        counts: head count per species the model knows (0 included).
        intervals: the count interval of each species' count.
        detections: the boxes at or above the count rule's floor (for evidence thumbnails).
    """

    counts: dict[str, int]
    intervals: dict[str, CountInterval]
    detections: Detections


class ProfileCounter:
    """The detector run with a profile's chosen setup, counts by its rule, intervals from its calibration."""

    def __init__(self, *, model: LivestockModel, calibration: IntervalCalibration, profile: str) -> None:
        """Build from the calibration's record of how the profile's counts were made.

        Raises:
            CalibrationError: the calibration has no record for ``profile`` or names an unknown setup.
        """
        record = calibration.counting.get(str(profile))
        if record is None:
            raise CalibrationError(
                f"Camera profile {profile!r} has no counting record in the interval calibration; "
                f"recorded: {sorted(calibration.counting)}"
            )
        setups = {s.name: s for s in SETUPS}
        name = str(record.get("setup"))
        if name not in setups:
            raise CalibrationError(f"Interval calibration names setup {name!r} for {profile!r}; known: {list(setups)}")
        rule = dict(record.get("rule") or {})
        self.profile = str(profile)
        self.setup: InferenceSetup = setups[name]
        self.rule = CountRule(float(rule["floor"]), bool(rule.get("mass", False)), float(rule.get("factor", 1.0)))
        self.calibration = calibration
        self._model = model.profiled(
            max_imgsz=self.setup.max_imgsz, nms_iou=self.setup.nms_iou, agnostic_nms=self.setup.agnostic
        )

    def count(self, image: np.ndarray) -> ProfileCount:
        """Count one BGR frame (H, W, 3)."""
        return self.count_many([image])[0]

    def count_many(self, images: list[np.ndarray], *, batch_size: int = 8) -> list[ProfileCount]:
        """Count BGR frames (H, W, 3) in batches, each exactly as :meth:`count` would count it alone.

        Frames of one shape go through the detector together, ``batch_size`` at a time (ultralytics
        letterboxes a batch of one shape as it does a single frame, so the boxes are the single frame's,
        as the calibration counted them); a tiled profile runs each frame's tiles as one batch.

        Args:
            images: the frames, any mix of shapes.
            batch_size: frames (or tiles) per detector call.
        """
        model = self._model
        if not self.setup.tiled:
            found = self._predict(images, batch_size)
        else:
            found = [
                tiled_detections(
                    image,
                    detect=lambda tile: model.predict([tile], conf=SCORE_FLOOR)[0],
                    detect_many=lambda tiles: self._predict(tiles, batch_size),
                    batch_size=batch_size,
                    slice_px=model.imgsz,
                    overlap_px=model.imgsz // 5,
                )
                for image in images
            ]
        return [self._counted(f) for f in found]

    def _predict(self, images: list[np.ndarray], batch_size: int) -> list[Detections]:
        """Boxes above the score floor, in order; one detector call per shape and ``batch_size`` images."""
        found: list[Detections | None] = [None] * len(images)
        shapes: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            shapes.setdefault(image.shape, []).append(i)
        for index in shapes.values():
            for start in range(0, len(index), batch_size):
                part = index[start : start + batch_size]
                batch = self._model.predict([images[i] for i in part], conf=SCORE_FLOOR)
                for i, dets in zip(part, batch, strict=True):
                    found[i] = dets
        return [d for d in found if d is not None]

    def _counted(self, found: Detections) -> ProfileCount:
        """Counts by the profile's rule, their intervals, and the boxes at or above the rule's floor."""
        counts, intervals = {}, {}
        for species in self._model.species:
            mine = np.array([s == species for s in found.species], dtype=bool)
            scores = found.confidence[mine] if len(found) else np.zeros(0, np.float32)
            counts[species] = self.rule.count(scores)
            intervals[species] = self.calibration.interval(counts[species], self.profile)
        kept = found.select(found.confidence >= self.rule.floor) if len(found) else found
        return ProfileCount(counts, intervals, kept)
