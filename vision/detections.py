"""FarmTrust's own detections: the one place where ultralytics results are adapted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Animals found in one image.

    Attributes:
        xyxy: boxes in pixels, shape (N, 4), float32.
        confidence: scores in [0, 1], shape (N,).
        species: the species of each box (length N).
        tracker_id: track ids when tracked, else ``None``.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    species: tuple[str, ...]
    tracker_id: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        """Check shapes so a malformed detector output fails here, not in a count."""
        if self.xyxy.ndim != 2 or self.xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must have shape (N, 4), got {self.xyxy.shape}")
        if len(self.confidence) != len(self.xyxy) or len(self.species) != len(self.xyxy):
            raise ValueError(
                f"confidence ({len(self.confidence)}) and species ({len(self.species)}) must match "
                f"xyxy ({len(self.xyxy)})"
            )

    def __len__(self) -> int:
        """Number of boxes."""
        return len(self.xyxy)

    @classmethod
    def empty(cls) -> Detections:
        """No animals."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), ())

    @classmethod
    def from_ultralytics(cls, result: Any, *, species_of: dict[int, str]) -> Detections:
        """Adapt one ultralytics ``Results``; classes that are not livestock are dropped.

        Args:
            result: an ``ultralytics.engine.results.Results`` with ``boxes``.
            species_of: class id to species (see :func:`vision.species.species_of_names`).
        """
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return cls.empty()
        xyxy = boxes.xyxy.cpu().numpy().astype(np.float32)
        conf = boxes.conf.cpu().numpy().astype(np.float32)
        cls_ids = boxes.cls.cpu().numpy().astype(int)
        keep = np.array([c in species_of for c in cls_ids], dtype=bool)
        return cls(xyxy[keep], conf[keep], tuple(species_of[c] for c in cls_ids[keep]))

    def select(self, mask: np.ndarray) -> Detections:
        """The boxes where ``mask`` is true."""
        idx = np.flatnonzero(mask)
        tid = None if self.tracker_id is None else self.tracker_id[idx]
        return Detections(self.xyxy[idx], self.confidence[idx], tuple(self.species[i] for i in idx), tid)

    def above(self, thresholds: dict[str, float], *, default: float = 0.25) -> Detections:
        """Keep boxes whose confidence reaches their species' threshold."""
        limits = np.array([thresholds.get(s, default) for s in self.species], dtype=np.float32)
        return self.select(self.confidence >= limits) if len(self) else self

    def counts(self) -> dict[str, int]:
        """Head count per species."""
        return dict(Counter(self.species))
