"""The vision worker: counts the frames ingest announces and writes ``livestock_counts``.

Each round claims up to ``batch_size`` pending frames (``FOR UPDATE SKIP LOCKED``), decodes them,
runs one batched inference, writes one snapshot row per species the model knows (zero counts are
records too) with the model sha256, frame sha256, perceptual hash and an annotated thumbnail, and
marks the frames ``counted``. A frame that cannot be counted (missing file, empty, corrupt,
truncated, over 50 megapixels) is marked ``quarantined`` with the reason, and the round goes on.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from store.counts import FRAMES_CHANNEL, CountRow, PendingFrame, claim_pending_frames, mark_frame, recycled_frames
from store.counts import write_counts as write_count_rows
from vision.detections import Detections
from vision.errors import ImageError
from vision.evidence import RECYCLED_MAX_BITS, phash, thumbnail, write_thumbnail
from vision.images import decode_image
from vision.model import LivestockModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundResult:
    """What one round did."""

    counted: int
    quarantined: int


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
        """
        self.db_url = db_url
        self.model = model
        self.camera_models = camera_models or {}
        self.frame_dir = frame_dir
        self.evidence_dir = evidence_dir
        self.batch_size = batch_size

    def _detect(self, good: list[tuple[PendingFrame, np.ndarray]]) -> list[Detections]:
        """One batched inference per camera profile, results in the frames' order."""
        found: list[Detections | None] = [None] * len(good)
        groups: dict[str, list[int]] = {}
        for i, (frame, _) in enumerate(good):
            groups.setdefault(frame.camera_id if frame.camera_id in self.camera_models else "", []).append(i)
        for camera, index in groups.items():
            model = self.camera_models.get(camera, self.model)
            for i, dets in zip(index, model.detect([good[i][1] for i in index]), strict=True):
                found[i] = dets
        return [d for d in found if d is not None]

    def _decode(self, frame: PendingFrame) -> np.ndarray:
        path = self.frame_dir / frame.path
        try:
            data = path.read_bytes()
        except OSError:
            raise ImageError(f"Frame file {path} is missing; ingest stored no bytes for it", reason="missing") from None
        return decode_image(data, name=f"frame {frame.sha256} ({frame.path})")

    def run_round(self, conn: psycopg.Connection) -> RoundResult:
        """Claim, count and mark one batch of frames in one transaction."""
        with conn.transaction():
            frames = claim_pending_frames(conn=conn, limit=self.batch_size)
            good: list[tuple[PendingFrame, np.ndarray]] = []
            quarantined = 0
            for frame in frames:
                try:
                    good.append((frame, self._decode(frame)))
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
            detections = self._detect(good)
            rows: list[CountRow] = []
            for (frame, image), found in zip(good, detections, strict=True):
                hash_hex = phash(image)
                evidence = write_thumbnail(self.evidence_dir, frame_sha256=frame.sha256, jpeg=thumbnail(image, found))
                earlier = recycled_frames(
                    conn=conn,
                    farm_id=frame.farm_id,
                    phash=hash_hex,
                    frame_sha256=frame.sha256,
                    max_bits=RECYCLED_MAX_BITS,
                )
                flags = ("recycled_photo",) if earlier or frame.recycled_of is not None else ()
                counts = found.counts()
                for species in self.model.species:
                    rows.append(
                        CountRow(
                            time=frame.captured_at,
                            farm_id=frame.farm_id,
                            device_id=frame.device_id,
                            camera_id=frame.camera_id,
                            species=species,
                            count=counts.get(species, 0),
                            method="snapshot",
                            model_sha256=self.model.identity.sha256,
                            frame_sha256=frame.sha256,
                            phash=hash_hex,
                            evidence_path=evidence,
                            flags=flags,
                        )
                    )
                mark_frame(conn=conn, sha256=frame.sha256, message_id=frame.message_id, status="counted")
            write_count_rows(conn=conn, rows=rows)
        if frames:
            log.info("vision round: %d frames counted, %d quarantined", len(good), quarantined)
        return RoundResult(len(good), quarantined)

    def run(self, *, stop: threading.Event, idle_wait_s: float = 5.0) -> None:
        """Count frames until ``stop`` is set; wake on ``NOTIFY farmtrust_frames`` or every ``idle_wait_s``."""
        with (
            psycopg.connect(self.db_url) as work,
            psycopg.connect(self.db_url, autocommit=True) as listen,
        ):
            listen.execute(f"LISTEN {FRAMES_CHANNEL}")
            while not stop.is_set():
                result = self.run_round(work)
                if result.counted + result.quarantined >= self.batch_size:
                    continue  # more may be waiting
                for _ in listen.notifies(timeout=idle_wait_s, stop_after=1):
                    pass
