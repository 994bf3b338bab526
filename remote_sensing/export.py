"""Results out: GeoJSON / GeoParquet / GeoPackage files, and a PNG quicklook of NDVI with flagged outlines."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from remote_sensing.errors import RemoteSensingError
from remote_sensing.fields import FieldBoundary, geometries_in_crs
from remote_sensing.grid import Window, read_band, scene_grid, union
from remote_sensing.masks import clear_from_qa_pixel, clear_from_scl, ndvi
from remote_sensing.result import FieldCropArea, Flag
from remote_sensing.scenes import Scene

__all__ = ["FLAG_COLOURS", "render_quicklook", "write_results"]

log = logging.getLogger(__name__)

FLAG_COLOURS = {
    Flag.NO_COVERAGE: "#9e9e9e",
    Flag.INSUFFICIENT_CLEAR_OBSERVATIONS: "#ff9800",
    Flag.DECLARED_EXCEEDS_OBSERVED: "#e53935",
}
"""Outline colour of a field by its most serious flag (checked in this order); fields without one are blue."""
_OK_COLOUR = "#1e88e5"


def _colour(result: FieldCropArea | None) -> str:
    if result is None:
        return FLAG_COLOURS[Flag.NO_COVERAGE]
    return next((c for flag, c in FLAG_COLOURS.items() if flag in result.flags), _OK_COLOUR)


def write_results(*, results: Sequence[FieldCropArea], fields: Sequence[FieldBoundary], path: Path) -> None:
    """Write one feature per field: its geometry and the result's columns.

    ``.geojson``/``.json`` is written in EPSG:4326 (RFC 7946); ``.parquet``/``.geoparquet`` and ``.gpkg``
    keep the fields' CRS. List values (flags, series) are JSON text columns.

    Raises:
        RemoteSensingError: the suffix is not one of the above.
    """
    import geopandas as gpd

    by_id = {r.field_id: r for r in results}
    rows = []
    for f in fields:
        r = by_id.get(f.field_id)
        if r is None:
            continue
        row = r.to_dict()
        for key in ("flags", "scene_ids", "ndvi_series", "clear_observations_by_date"):
            row[key] = json.dumps(row[key])
        rows.append(row)
    crs = fields[0].crs if fields else "EPSG:4326"
    frame = gpd.GeoDataFrame(rows, geometry=[f.geometry for f in fields if f.field_id in by_id], crs=crs)
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        frame.to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    elif suffix in (".parquet", ".geoparquet"):
        frame.to_parquet(path)
    elif suffix == ".gpkg":
        frame.to_file(path, driver="GPKG")
    else:
        raise RemoteSensingError(f"--out {path} has suffix {suffix!r}; use .geojson, .parquet or .gpkg.")
    log.info("Wrote %d field result(s) to %s", len(rows), path)


def _peak_ndvi(scenes: Sequence[Scene], grid_window: tuple, max_px: int) -> np.ndarray:
    """Per-pixel maximum clear NDVI over the scenes, read decimated to at most ``max_px`` a side."""
    import rasterio
    from rasterio.enums import Resampling

    grid, window = grid_window
    step = max(1, int(np.ceil(max(window.height, window.width) / max_px)))
    shape = (max(1, window.height // step), max(1, window.width // step))
    peak = np.full(shape, np.nan, dtype=np.float32)
    for scene in scenes:
        if scene_grid(scene) != grid:
            continue
        if step == 1:
            red, ok_r = read_band(scene=scene, name="red", grid=grid, window=window)
            nir, ok_n = read_band(scene=scene, name="nir", grid=grid, window=window)
            clear = ok_r & ok_n
            if scene.mask_band:
                mask, _ = read_band(scene=scene, name=scene.mask_band, grid=grid, window=window)
                clear &= clear_from_scl(mask) if scene.mask_band == "scl" else clear_from_qa_pixel(mask)
        else:
            with rasterio.open(scene.bands["red"].href) as r, rasterio.open(scene.bands["nir"].href) as n:
                kw = {"window": window, "out_shape": shape, "resampling": Resampling.average}
                red = r.read(scene.bands["red"].index, **kw).astype(np.float32)
                nir = n.read(scene.bands["nir"].index, **kw).astype(np.float32)
            clear = (red > 0) & (nir > 0)
        index = ndvi(red=red, nir=nir)
        np.fmax(peak, np.where(clear, index, np.nan), out=peak)
    return peak


def render_quicklook(
    *,
    results: Sequence[FieldCropArea],
    fields: Sequence[FieldBoundary],
    scenes: Sequence[Scene],
    path: Path,
    max_px: int = 1024,
) -> None:
    """Draw the season's peak clear-sky NDVI under the field outlines, coloured by flag, to a PNG.

    The image covers the fields on the grid of the first scene, decimated to at most ``max_px`` a side.

    Raises:
        RemoteSensingError: no field lies on the first scene's grid.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    grid = scene_grid(scenes[0])
    geoms = geometries_in_crs(fields, grid.crs_wkt)
    windows = [grid.window_of(g.bounds) for g in geoms if not g.is_empty]
    windows = [w for w in windows if w is not None]
    if not windows:
        raise RemoteSensingError(
            f"No field lies on scene {scenes[0].scene_id} (bounds {grid.bounds}); nothing to draw in --quicklook."
        )
    window = windows[0]
    for w in windows[1:]:
        window = union(window, w)
    pad = max(2, max(window.height, window.width) // 20)
    window = Window(
        row_off=max(0, window.row_off - pad),
        col_off=max(0, window.col_off - pad),
        height=min(grid.height, window.row_off + window.height + pad) - max(0, window.row_off - pad),
        width=min(grid.width, window.col_off + window.width + pad) - max(0, window.col_off - pad),
    )
    peak = _peak_ndvi(scenes, (grid, window), max_px)
    xmin, ymin, xmax, ymax = grid.window_bounds(window)
    fig, ax = plt.subplots(figsize=(8, 8 * window.height / max(window.width, 1) + 0.6), dpi=110)
    im = ax.imshow(peak, extent=(xmin, xmax, ymin, ymax), cmap="YlGn", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.04, label="peak clear-sky NDVI")
    by_id = {r.field_id: r for r in results}
    for f, g in zip(fields, geoms, strict=True):
        if g.is_empty:
            continue
        colour = _colour(by_id.get(f.field_id))
        for poly in getattr(g, "geoms", [g]):
            x, y = poly.exterior.xy
            ax.plot(x, y, color=colour, linewidth=1.4)
    handles = [Line2D([], [], color=_OK_COLOUR, label="no flag")] + [
        Line2D([], [], color=c, label=str(flag)) for flag, c in FLAG_COLOURS.items()
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=7, framealpha=0.85)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_title(f"{len(fields)} field(s), {len(scenes)} scene(s), peak NDVI", fontsize=9)
    ax.tick_params(labelsize=6)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    log.info("Wrote quicklook %s (%d x %d px window)", path, window.width, window.height)
