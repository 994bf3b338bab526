"""The per-pixel decision between temporary crop, permanent grassland and other land.

As WorldCereal's temporary-crop extent does, an annual crop shows a bare-soil phase and a green peak
within the season, while permanent grass stays green. The decision is taken from each pixel's
clear-sky NDVI observations only, accumulated one date at a time (:class:`ProfileAccumulator`), so a
whole season never has to sit in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from remote_sensing.errors import ThresholdsError

__all__ = ["LandClass", "ProfileAccumulator", "Thresholds"]


class LandClass(IntEnum):
    """The decision for one pixel over the season."""

    OTHER = 0
    """Neither an annual crop nor grass: built-up, water, bare all season, or sparse vegetation."""
    TEMPORARY_CROP = 1
    """Annual crop: at least ``min_bare_observations`` bare dates and ``min_green_observations`` green dates."""
    GRASSLAND = 2
    """Permanent grass: green on at least ``min_green_observations`` dates and never bare long enough."""
    UNKNOWN = 3
    """Fewer than ``min_pixel_observations`` clear observations: no decision."""


@dataclass(frozen=True, kw_only=True)
class Thresholds:
    """Configurable thresholds of the crop decision and of the result flags.

    Attributes:
        bare_ndvi_max: NDVI at or below which a clear observation counts as bare soil.
        green_ndvi_min: NDVI at or above which a clear observation counts as green vegetation.
        min_bare_observations: bare observations a pixel needs to count as a temporary crop
            (2 rather than 1, so one unmasked cloud shadow does not turn grass into crop).
        min_green_observations: green observations a pixel needs to be crop or grassland.
        min_pixel_observations: clear observations below which a pixel stays ``UNKNOWN``.
        min_clear_fraction: share of a field that must be clear for a date to count as a clear
            observation of that field.
        min_clear_observations: clear observations of a field below which it is flagged
            ``insufficient_clear_observations`` and its ratio band widens to everything possible.
        declared_tolerance: ``declared_exceeds_observed`` is raised when the declared area exceeds
            the upper end of the observed band by more than this share of the declared area.
        cloud_blue_min: where no SCL/QA band exists, a blue reflectance above this marks cloud.
    """

    bare_ndvi_max: float = 0.30
    green_ndvi_min: float = 0.60
    min_bare_observations: int = 2
    min_green_observations: int = 2
    min_pixel_observations: int = 3
    min_clear_fraction: float = 0.8
    min_clear_observations: int = 3
    declared_tolerance: float = 0.10
    cloud_blue_min: float = 0.20

    def __post_init__(self) -> None:
        """Check ranges and consistency.

        Raises:
            ThresholdsError: a value is out of range, or ``bare_ndvi_max >= green_ndvi_min``.
        """
        for name in ("bare_ndvi_max", "green_ndvi_min"):
            value = getattr(self, name)
            if not -1.0 <= value <= 1.0:
                raise ThresholdsError(f"Threshold {name}={value} is not an NDVI; use a value between -1 and 1.")
        if self.bare_ndvi_max >= self.green_ndvi_min:
            raise ThresholdsError(
                f"Threshold bare_ndvi_max={self.bare_ndvi_max} must be below green_ndvi_min={self.green_ndvi_min}; "
                "lower the bare threshold or raise the green one."
            )
        for name in ("min_bare_observations", "min_green_observations", "min_pixel_observations"):
            if getattr(self, name) < 1:
                raise ThresholdsError(f"Threshold {name}={getattr(self, name)} must be at least 1.")
        if self.min_clear_observations < 0:
            raise ThresholdsError(f"Threshold min_clear_observations={self.min_clear_observations} must be >= 0.")
        for name in ("min_clear_fraction", "declared_tolerance", "cloud_blue_min"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ThresholdsError(f"Threshold {name}={getattr(self, name)} must be between 0 and 1.")


class ProfileAccumulator:
    """Per-pixel counts of clear, bare and green observations over a window, one date at a time.

    Args:
        shape: (rows, cols) of the window.
        thresholds: the decision thresholds.
    """

    def __init__(self, *, shape: tuple[int, int], thresholds: Thresholds) -> None:
        """Start with zero observations everywhere."""
        self.thresholds = thresholds
        self.clear = np.zeros(shape, dtype=np.uint16)
        self.bare = np.zeros(shape, dtype=np.uint16)
        self.green = np.zeros(shape, dtype=np.uint16)

    def add(self, *, ndvi: np.ndarray, clear: np.ndarray) -> None:
        """Count one date's clear observations (``ndvi`` float array, ``clear`` bool array, same shape)."""
        self.clear += clear
        self.bare += clear & (ndvi <= self.thresholds.bare_ndvi_max)
        self.green += clear & (ndvi >= self.thresholds.green_ndvi_min)

    def classes(self) -> np.ndarray:
        """Return the :class:`LandClass` of every pixel as a uint8 array."""
        t = self.thresholds
        green = self.green >= t.min_green_observations
        crop = green & (self.bare >= t.min_bare_observations)
        out = np.full(self.clear.shape, LandClass.OTHER, dtype=np.uint8)
        out[green & ~crop] = LandClass.GRASSLAND
        out[crop] = LandClass.TEMPORARY_CROP
        out[self.clear < t.min_pixel_observations] = LandClass.UNKNOWN
        return out
