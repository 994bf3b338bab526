"""The pixel grid of a scene stack, and windowed reads of any band onto it (rasterio stays in here).

Windows are :class:`rasterio.windows.Window` (``col_off``, ``row_off``, ``width``, ``height``; integers
here); :func:`union` is :func:`rasterio.windows.union`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import rasterio.errors
import rasterio.windows
from affine import Affine
from rasterio.windows import Window, union

from remote_sensing.errors import SceneError, SceneMismatchError, SceneNotFoundError
from remote_sensing.scenes import Scene, SceneBand

__all__ = ["Grid", "Window", "read_band", "scene_grid", "union"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Grid:
    """A north-up raster grid: CRS (WKT), affine transform and size in pixels."""

    crs_wkt: str
    transform: tuple[float, float, float, float, float, float]
    width: int
    height: int

    @property
    def affine(self) -> Affine:
        """The transform as an :class:`affine.Affine`."""
        return Affine(*self.transform)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) in the grid's CRS."""
        a, _, c, _, e, f = self.transform
        return (c, f + e * self.height, c + a * self.width, f)

    @property
    def cell_area(self) -> float:
        """Area of one pixel in CRS units squared (m2 for a projected CRS)."""
        return abs(self.transform[0] * self.transform[4])

    @property
    def full_window(self) -> Window:
        """The window of the whole grid."""
        return Window(col_off=0, row_off=0, width=self.width, height=self.height)

    def window_of(self, bounds: tuple[float, float, float, float]) -> Window | None:
        """The whole-pixel window covering ``bounds`` (xmin, ymin, xmax, ymax), clipped to the grid; None if outside.

        A pixel the bounds touch only partly is included (offsets rounded down, far edges up).
        """
        exact = rasterio.windows.from_bounds(*bounds, transform=self.affine)
        col0, row0 = math.floor(exact.col_off), math.floor(exact.row_off)
        col1, row1 = math.ceil(exact.col_off + exact.width), math.ceil(exact.row_off + exact.height)
        covering = Window(col_off=col0, row_off=row0, width=col1 - col0, height=row1 - row0)
        try:
            window = rasterio.windows.intersection(covering, self.full_window)
        except rasterio.errors.WindowError:  # no overlap
            return None
        return window if window.width > 0 and window.height > 0 else None

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of ``window``."""
        return rasterio.windows.bounds(window, self.affine)


def _open(band: SceneBand, scene: Scene):  # noqa: ANN202 (a rasterio dataset)
    import rasterio
    from rasterio.errors import RasterioIOError

    try:
        return rasterio.open(band.href)
    except RasterioIOError as exc:
        raise SceneNotFoundError(
            f"Scene {scene.scene_id}: cannot open {band.href} ({exc}); check the asset href and that the file exists."
        ) from None


def scene_grid(scene: Scene) -> Grid:
    """Return the grid of the scene's red band, after checking the other bands agree with it.

    Raises:
        SceneNotFoundError: a band file cannot be opened.
        SceneMismatchError: a band has another CRS than red, does not overlap it, or the grid is rotated.
    """
    with _open(scene.bands["red"], scene) as ds:
        if ds.crs is None:
            raise SceneMismatchError(
                f"Scene {scene.scene_id}: {scene.bands['red'].href} has no CRS; georeference it (gdal_edit.py -a_srs)."
            )
        t = ds.transform
        if t.b != 0 or t.d != 0 or t.e >= 0:
            raise SceneMismatchError(f"Scene {scene.scene_id}: the grid of {ds.name} is rotated or flipped ({t}).")
        grid = Grid(crs_wkt=ds.crs.to_wkt(), transform=tuple(t)[:6], width=ds.width, height=ds.height)  # type: ignore[arg-type]
        red_crs, red_bounds = ds.crs, ds.bounds
    for name, band in scene.bands.items():
        if name == "red":
            continue
        with _open(band, scene) as ds:
            if band.index > ds.count:
                raise SceneMismatchError(
                    f"Scene {scene.scene_id}: band {name} asks for band {band.index} of {band.href}, "
                    f"which has {ds.count}; fix the band index."
                )
            if ds.crs != red_crs:
                raise SceneMismatchError(
                    f"Scene {scene.scene_id}: band {name} is in {ds.crs} but red is in {red_crs}; "
                    "all bands of one scene must share a CRS (reproject the band first)."
                )
            b = ds.bounds
            if (
                b.left >= red_bounds.right
                or b.right <= red_bounds.left
                or b.bottom >= red_bounds.top
                or b.top <= red_bounds.bottom
            ):
                raise SceneMismatchError(
                    f"Scene {scene.scene_id}: band {name} bounds {tuple(b)} do not overlap "
                    f"red bounds {tuple(red_bounds)}; the assets belong to different places."
                )
    return grid


def _coarser_factor(band_t: tuple, grid_t: tuple) -> int | None:
    """Return k when the band's pixels are exactly k x k grid pixels on the same origin (20 m SCL on 10 m)."""
    a, _, c, _, e, f = band_t
    k = a / grid_t[0]
    if k < 1 or abs(k - round(k)) > 1e-9 or abs(e / grid_t[4] - k) > 1e-9:
        return None
    if abs(c - grid_t[2]) > 1e-6 * abs(a) or abs(f - grid_t[5]) > 1e-6 * abs(a):
        return None
    return round(k)


def _read_coarser(ds, index: int, window: Window, k: int) -> np.ndarray:  # noqa: ANN001 (a rasterio dataset)
    """Read the covering window of a k-times coarser band and repeat its pixels (nearest, exact)."""
    r0, c0 = window.row_off // k, window.col_off // k
    r1 = min(ds.height, -(-(window.row_off + window.height) // k))
    c1 = min(ds.width, -(-(window.col_off + window.width) // k))
    raw = ds.read(index, window=Window(c0, r0, c1 - c0, r1 - r0), boundless=False)
    big = raw.repeat(k, axis=0).repeat(k, axis=1)
    top, left = window.row_off - r0 * k, window.col_off - c0 * k
    out = np.zeros((window.height, window.width), dtype=raw.dtype)
    if ds.nodata is not None:
        out[:] = ds.nodata
    part = big[top : top + window.height, left : left + window.width]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def read_band(
    *, scene: Scene, name: str, grid: Grid, window: Window, pixels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one band of ``scene`` over ``window`` of ``grid``, resampled (nearest) when its own grid differs.

    Args:
        scene: the scene.
        name: band name (``red``, ``nir``, ``scl``...).
        grid: the stack's grid.
        window: the block's window on ``grid``.
        pixels: flat indices into the window; when given, only those pixels are returned (1-D).

    Returns:
        (values as float32 after scale and offset; raw values for ``scl``/``qa_pixel``, valid mask:
        not nodata and finite), both (height, width), or 1-D over ``pixels``.
    """
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    band = scene.bands[name]
    with _open(band, scene) as ds:
        same = ds.width == grid.width and ds.height == grid.height and tuple(ds.transform)[:6] == grid.transform
        factor = _coarser_factor(tuple(ds.transform)[:6], grid.transform) if not same and ds.crs else None
        if same:
            raw = ds.read(band.index, window=window)
        elif factor is not None:
            raw = _read_coarser(ds, band.index, window, factor)
        else:
            if ds.crs is None:
                raise SceneError(f"Scene {scene.scene_id}: {band.href} has no CRS; georeference it.")
            with WarpedVRT(
                ds,
                crs=ds.crs,
                transform=grid.affine,
                width=grid.width,
                height=grid.height,
                resampling=Resampling.nearest,
                src_nodata=band.nodata if band.nodata is not None else ds.nodata,
                nodata=band.nodata if band.nodata is not None else ds.nodata,
            ) as vrt:
                raw = vrt.read(band.index, window=window)
        nodata = band.nodata if band.nodata is not None else ds.nodata
    if pixels is not None:
        raw = raw.reshape(-1)[pixels]
    valid = np.ones(raw.shape, dtype=bool) if nodata is None else raw != nodata
    if raw.dtype.kind == "f":
        valid &= np.isfinite(raw)
    if name in ("scl", "qa_pixel"):
        return raw, valid
    values = raw.astype(np.float32)
    if band.scale != 1.0 or band.offset != 0.0:
        values = values * np.float32(band.scale) + np.float32(band.offset)
    return values, valid
