"""The vision worker: counts the frames ingest announces and writes ``livestock_counts``.

Each round (:func:`usecases.frame_counts.count_pending_frames`, in one transaction) claims up to
``batch_size`` pending frames (``FOR UPDATE SKIP LOCKED``), decodes them, runs one batched inference,
writes one snapshot row per species the model knows (zero counts are records too) with the model
sha256, frame sha256, perceptual hash and an annotated thumbnail, and marks the frames ``counted``. A
frame that cannot be counted (missing file, empty, corrupt, truncated, over 50 megapixels) is marked
``quarantined`` with the reason, and the round goes on. With the model's interval calibration
(:func:`load_intervals`) every count also stores its 90 % interval for the device's camera profile, and a
device's frames are counted the way its profile was calibrated (:func:`profile_counters`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import psycopg

from store.counts import listen_for_frames, wait_for_frames
from usecases.frame_counts import FrameCounter, RoundResult, count_pending_frames
from vision.errors import CalibrationError
from vision.intervals import IntervalCalibration, intervals_path
from vision.model import LivestockModel
from vision.profile_counting import ProfileCounter

log = logging.getLogger(__name__)

__all__ = ["RoundResult", "VisionWorker", "load_intervals", "profile_counters"]


def profile_counters(*, model: LivestockModel, intervals: IntervalCalibration | None) -> dict[str, ProfileCounter]:
    """Per camera profile the calibration records counting for, the counter that counts as it was calibrated.

    Raises:
        CalibrationError: the calibration names an inference setup this version does not know.
    """
    if intervals is None:
        return {}
    return {p: ProfileCounter(model=model, calibration=intervals, profile=p) for p in sorted(intervals.counting)}


def load_intervals(*, model: LivestockModel, path: Path | None = None) -> IntervalCalibration | None:
    """The count-interval calibration of ``model``: ``path``, else ``<weights stem>.intervals.json`` beside it.

    Without that file (no ``path`` given) counts are stored without intervals, with a warning.

    Raises:
        CalibrationError: the file is malformed, ``path`` is missing, or it was fitted on other weights.
    """
    where = path or intervals_path(model.identity.path)
    if path is None and not where.is_file():
        log.warning("no count-interval calibration at %s: counts are stored without intervals", where)
        return None
    calibration = IntervalCalibration.load(where)
    if calibration.model_sha256 not in (None, model.identity.sha256):
        raise CalibrationError(
            f"Interval calibration {where} was fitted on weights {calibration.model_sha256[:12]}, not on "
            f"{model.identity.path.name} ({model.identity.sha256[:12]}); fit it again with "
            "`farmtrust vision eval --folds K --write-intervals` or point intervals_file at the right one"
        )
    log.info("count intervals from %s for profiles %s", where, sorted(calibration.profiles))
    return calibration


class VisionWorker:
    """Drains the frame queue with one loaded model."""

    def __init__(
        self,
        *,
        db_url: str,
        model: LivestockModel,
        frame_dir: Path,
        evidence_dir: Path,
        batch_size: int = 8,
        camera_models: dict[str, LivestockModel] | None = None,
        intervals: IntervalCalibration | None = None,
        profile_counters: dict[str, FrameCounter] | None = None,
    ) -> None:
        """Keep the collaborators; nothing connects until :meth:`run_round` or :meth:`run`.

        Args:
            db_url: the database with the frame queue and ``livestock_counts``.
            model: the detector for every camera without a profile.
            frame_dir: where ingest stored the frames' bytes.
            evidence_dir: where annotated thumbnails are written.
            batch_size: frames claimed and counted per round.
            camera_models: per camera id, the model with that camera's profile
                (:meth:`LivestockModel.profiled`); other cameras use ``model``.
            intervals: the count-interval calibration (:func:`load_intervals`); None stores no intervals.
            profile_counters: per camera profile, the counter its intervals were calibrated with
                (:func:`profile_counters`); a device of that profile has its frames counted by it.
        """
        self.db_url = db_url
        self.model = model
        self.camera_models = camera_models or {}
        self.intervals = intervals
        self.profile_counters = profile_counters or {}
        self.frame_dir = frame_dir
        self.evidence_dir = evidence_dir
        self.batch_size = batch_size

    def run_round(self, conn: psycopg.Connection) -> RoundResult:
        """Claim, count and mark one batch of frames in one transaction."""
        with conn.transaction():
            return count_pending_frames(
                conn,
                model=self.model,
                frame_dir=self.frame_dir,
                evidence_dir=self.evidence_dir,
                batch_size=self.batch_size,
                camera_models=self.camera_models,
                intervals=self.intervals,
                profile_counters=self.profile_counters,
            )

    def run(self, *, stop: threading.Event, idle_wait_s: float = 5.0) -> None:
        """Count frames until ``stop`` is set; wake on ``NOTIFY farmtrust_frames`` or every ``idle_wait_s``."""
        with (
            psycopg.connect(self.db_url) as work,
            psycopg.connect(self.db_url, autocommit=True) as listen,
        ):
            listen_for_frames(conn=listen)
            while not stop.is_set():
                result = self.run_round(work)
                if result.counted + result.quarantined >= self.batch_size:
                    continue  # more may be waiting
                wait_for_frames(conn=listen, timeout_s=idle_wait_s)
