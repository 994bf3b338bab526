"""Clear-sky masks (Sentinel-2 SCL, Landsat QA_PIXEL, a blue-brightness fallback) and vegetation indices."""

from __future__ import annotations

import numpy as np

__all__ = ["SCL_CLEAR_CLASSES", "clear_from_blue", "clear_from_qa_pixel", "clear_from_scl", "evi", "ndvi"]

SCL_CLEAR_CLASSES = (4, 5, 6)
"""Sen2Cor scene classes kept as clear: 4 vegetation, 5 not vegetated (bare), 6 water.

Dropped: 0 no data, 1 saturated, 2 dark area, 3 cloud shadow, 7 unclassified, 8/9 cloud medium/high
probability, 10 thin cirrus, 11 snow.
"""

# Landsat Collection 2 QA_PIXEL bits: 0 fill, 1 dilated cloud, 2 cirrus, 3 cloud, 4 cloud shadow, 5 snow.
_QA_REJECT_BITS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5)


_SCL_LUT = np.zeros(256, dtype=bool)
_SCL_LUT[list(SCL_CLEAR_CLASSES)] = True


def clear_from_scl(scl: np.ndarray) -> np.ndarray:
    """Return True where the Sentinel-2 scene classification is vegetation, bare soil or water."""
    if scl.dtype == np.uint8:
        return _SCL_LUT[scl]  # a table lookup is several times faster than isin on a whole window
    return np.isin(scl, SCL_CLEAR_CLASSES)


def clear_from_qa_pixel(qa: np.ndarray) -> np.ndarray:
    """Return True where Landsat QA_PIXEL has no fill, cloud, dilated cloud, cirrus, shadow or snow bit."""
    return (qa.astype(np.uint32) & _QA_REJECT_BITS) == 0


def clear_from_blue(blue: np.ndarray, *, cloud_blue_min: float) -> np.ndarray:
    """Fallback without a mask band: True where blue reflectance (0-1) is not as bright as cloud.

    Thick cloud is bright in blue where vegetation and soil are dark (below about 0.1). This catches
    thick cloud only; thin cirrus and shadows pass, so prefer an SCL or QA_PIXEL asset when there is one.
    """
    return blue < cloud_blue_min


def ndvi(*, red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Normalised difference vegetation index from reflectances (0-1); NaN where both are zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return ((nir - red) / (nir + red)).astype(np.float32)


def evi(*, blue: np.ndarray, red: np.ndarray, nir: np.ndarray) -> np.ndarray:
    """Enhanced vegetation index, 2.5 (nir - red) / (nir + 6 red - 7.5 blue + 1), from reflectances (0-1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (2.5 * (nir - red) / (nir + 6.0 * red - 7.5 * blue + 1.0)).astype(np.float32)
