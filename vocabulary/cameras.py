"""Camera profiles: how a livestock camera looks at its animals, which sets how far its counts can be trusted.

Each profile has its own count-interval calibration (``vision.intervals``): a race camera sees animals
one by one from above, a pen camera a crowd from above, a wide camera a barn or pasture at an angle,
an aerial camera (drone) a flock from high up, often thermal.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["CAMERA_PROFILES", "DEFAULT_CAMERA_PROFILE", "INTERVAL_COVERAGE", "CameraProfile"]


class CameraProfile(StrEnum):
    """How a camera looks at its animals."""

    RACE = "race"
    """Overhead, over a handling race or gate: animals pass one or a few at a time."""
    PEN = "pen"
    """Overhead over a pen: a crowd of animals that touch."""
    WIDE = "wide"
    """An angled barn or pasture view: animals at many distances, hiding each other."""
    AERIAL = "aerial"
    """A drone or mast high above a flock or herd, often thermal."""


CAMERA_PROFILES: tuple[str, ...] = tuple(p.value for p in CameraProfile)
"""Every camera profile, in declaration order."""

DEFAULT_CAMERA_PROFILE = CameraProfile.WIDE
"""The profile of a camera registered without one: the least trusting."""

INTERVAL_COVERAGE = 0.90
"""The stated coverage of every stored count interval: the share of frames whose true count lies in it."""
