"""Crop names with a meaning of their own to FarmTrust."""

from __future__ import annotations

GRASSLAND_CROPS: frozenset[str] = frozenset(
    {"grass", "grassland", "pasture", "meadow", "permanent grass", "permanent grassland"}
)
"""Declared uses (lowercase) valued on the grassland the satellite sees, not on the cropped area."""


def is_grassland_crop(crop: str | None) -> bool:
    """Whether a declared crop is grassland (case and surrounding spaces ignored)."""
    return crop is not None and crop.strip().lower() in GRASSLAND_CROPS
