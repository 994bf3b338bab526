"""Per-field cropped area from a season of scenes: the streaming engine and its list wrapper.

Fields are reprojected to the scenes' grid and grouped into blocks of about ``block_px`` pixels. For
each block, exactextract gives every field's exact pixel coverage once; then each scene's bands are
read over that block's window only, masked, turned into NDVI, and folded into a per-pixel profile
(:class:`~remote_sensing.decision.ProfileAccumulator`). Blocks are independent, so they run on Dask
when a client is given. Memory is bounded by one block's window, whatever the tile size.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from remote_sensing.decision import LandClass, ProfileAccumulator, Thresholds
from remote_sensing.errors import SceneError
from remote_sensing.fields import FieldBoundary, geometries_in_crs
from remote_sensing.grid import Grid, Window, read_band, scene_grid, union
from remote_sensing.masks import clear_from_blue, clear_from_qa_pixel, clear_from_scl, evi, ndvi
from remote_sensing.result import DatePoint, FieldCropArea, Flag
from remote_sensing.scenes import Scene
from vocabulary.crops import is_grassland_crop

__all__ = ["EQUAL_AREA_CRS", "field_stats", "iter_field_stats"]

log = logging.getLogger(__name__)

EQUAL_AREA_CRS = "EPSG:6933"
"""Areas are measured in WGS 84 / NSIDC EASE-Grid 2.0 Global, an equal-area CRS valid worldwide."""

_FULL = 0.999  # coverage at or above which a pixel counts as inside the field
_PARTIAL = 0.98  # covered share below which a field is flagged partial_coverage


@dataclass(frozen=True, kw_only=True)
class _Job:
    """One field prepared for a block: geometry in the grid CRS (WKB) and what the result needs."""

    field: FieldBoundary
    wkb: bytes
    area_ha: float
    grid_area: float  # field area in grid CRS units squared


def _equal_area_ha(fields: Sequence[FieldBoundary]) -> list[float]:
    import geopandas as gpd

    by_crs: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(fields):
        by_crs[f.crs].append(i)
    out = [0.0] * len(fields)
    for crs, idx in by_crs.items():
        series = gpd.GeoSeries([fields[i].geometry for i in idx], crs=crs).to_crs(EQUAL_AREA_CRS)
        for i, area in zip(idx, series.area, strict=True):
            out[i] = float(area) / 10_000.0
    return out


def _empty_result(
    field: FieldBoundary, area_ha: float, scenes: Sequence[Scene], thresholds: Thresholds
) -> FieldCropArea:
    flags = [Flag.NO_COVERAGE]
    if thresholds.min_clear_observations > 0:
        flags.append(Flag.INSUFFICIENT_CLEAR_OBSERVATIONS)
    if field.repaired:
        flags.append(Flag.GEOMETRY_REPAIRED)
    return FieldCropArea(
        field_id=field.field_id,
        area_ha=area_ha,
        cropped_ha=None,
        grassland_ha=None,
        unknown_ha=None,
        covered_fraction=0.0,
        declared_ha=field.declared_ha,
        declared_crop=field.declared_crop,
        ratio=None,
        ratio_low=None,
        ratio_high=None,
        clear_observations=0,
        flags=tuple(sorted(flags)),
        scene_ids=tuple(s.scene_id for s in scenes),
    )


def _clear_mask(
    scene: Scene, grid: Grid, window: Window, pixels: np.ndarray, valid: np.ndarray, thresholds: Thresholds
) -> np.ndarray:
    mask_band = scene.mask_band
    if mask_band == "scl":
        scl, _ = read_band(scene=scene, name="scl", grid=grid, window=window, pixels=pixels)
        return valid & clear_from_scl(scl)
    if mask_band == "qa_pixel":
        qa, _ = read_band(scene=scene, name="qa_pixel", grid=grid, window=window, pixels=pixels)
        return valid & clear_from_qa_pixel(qa)
    if "blue" in scene.bands:
        blue, blue_ok = read_band(scene=scene, name="blue", grid=grid, window=window, pixels=pixels)
        return valid & blue_ok & clear_from_blue(blue, cloud_blue_min=thresholds.cloud_blue_min)
    return valid


def _process_block(
    *, grid: Grid, window: Window, jobs: Sequence[_Job], scenes: Sequence[Scene], thresholds: Thresholds
) -> list[FieldCropArea]:
    """Estimate every field of one block (a plain top-level function, so Dask can ship it)."""
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource

    xmin, ymin, xmax, ymax = grid.window_bounds(window)
    source = NumPyRasterSource(
        np.zeros((window.height, window.width), dtype=np.uint8), xmin, ymin, xmax, ymax, srs_wkt=grid.crs_wkt
    )
    features = [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shapely.from_wkb(j.wkb))}
        for j in jobs
    ]
    cover = exact_extract(source, features, ["cell_id", "coverage"], output="geojson")
    cell_ids = [np.asarray(c["properties"]["cell_id"], dtype=np.int64) for c in cover]
    weights = [np.asarray(c["properties"]["coverage"], dtype=np.float64) for c in cover]
    seg = np.repeat(np.arange(len(jobs)), [len(c) for c in cell_ids])
    flat = np.concatenate(cell_ids) if cell_ids else np.zeros(0, dtype=np.int64)
    w = np.concatenate(weights) if weights else np.zeros(0)
    pixels, inverse = np.unique(flat, return_inverse=True)
    n = len(jobs)
    total_w = np.bincount(seg, weights=w, minlength=n)
    acc = ProfileAccumulator(shape=pixels.shape, thresholds=thresholds)
    clear_frac = np.zeros((len(scenes), n))
    ndvi_mean = np.full((len(scenes), n), np.nan)
    evi_mean = np.full((len(scenes), n), np.nan)
    for t, scene in enumerate(scenes):
        r, red_ok = read_band(scene=scene, name="red", grid=grid, window=window, pixels=pixels)
        v, nir_ok = read_band(scene=scene, name="nir", grid=grid, window=window, pixels=pixels)
        clear = _clear_mask(scene, grid, window, pixels, red_ok & nir_ok, thresholds)
        index = ndvi(red=r, nir=v)
        clear &= np.isfinite(index)
        acc.add(ndvi=index, clear=clear)
        cw = w * clear[inverse]
        sum_cw = np.bincount(seg, weights=cw, minlength=n)
        clear_frac[t] = np.divide(sum_cw, total_w, out=np.zeros(n), where=total_w > 0)
        safe = np.where(clear, index, 0.0)[inverse]
        with np.errstate(invalid="ignore", divide="ignore"):
            ndvi_mean[t] = np.bincount(seg, weights=cw * safe, minlength=n) / sum_cw
            if "blue" in scene.bands:
                blue, _ = read_band(scene=scene, name="blue", grid=grid, window=window, pixels=pixels)
                e = evi(blue=blue, red=r, nir=v)
                e = np.where(clear & np.isfinite(e), e, 0.0)[inverse]
                evi_mean[t] = np.bincount(seg, weights=cw * e, minlength=n) / sum_cw
    log.debug("Block %s: %d field(s), %d pixel(s), %d scene(s)", window, n, len(pixels), len(scenes))
    classes = acc.classes()[inverse]
    inside = w >= _FULL

    def wsum(mask: np.ndarray) -> np.ndarray:
        return np.bincount(seg, weights=w * mask, minlength=n)

    crop_w = wsum(classes == LandClass.TEMPORARY_CROP)
    grass_w = wsum(classes == LandClass.GRASSLAND)
    unknown_w = wsum(classes == LandClass.UNKNOWN)
    crop_inside_w = wsum((classes == LandClass.TEMPORARY_CROP) & inside)
    boundary_other_w = wsum((classes != LandClass.TEMPORARY_CROP) & (classes != LandClass.UNKNOWN) & ~inside)
    return [
        _result(
            job=job,
            scenes=scenes,
            thresholds=thresholds,
            cell_area=grid.cell_area,
            total_w=float(total_w[i]),
            crop_w=float(crop_w[i]),
            grass_w=float(grass_w[i]),
            unknown_w=float(unknown_w[i]),
            crop_inside_w=float(crop_inside_w[i]),
            boundary_other_w=float(boundary_other_w[i]),
            clear_frac=clear_frac[:, i],
            ndvi_mean=ndvi_mean[:, i],
            evi_mean=evi_mean[:, i],
        )
        for i, job in enumerate(jobs)
    ]


def _opt(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def _result(
    *,
    job: _Job,
    scenes: Sequence[Scene],
    thresholds: Thresholds,
    cell_area: float,
    total_w: float,
    crop_w: float,
    grass_w: float,
    unknown_w: float,
    crop_inside_w: float,
    boundary_other_w: float,
    clear_frac: np.ndarray,
    ndvi_mean: np.ndarray,
    evi_mean: np.ndarray,
) -> FieldCropArea:
    field = job.field
    if total_w <= 0 or job.grid_area <= 0:
        return _empty_result(field, job.area_ha, scenes, thresholds)
    # Shares of the whole field (in the grid's own units), turned into equal-area hectares.
    to_ha = cell_area / job.grid_area * job.area_ha
    covered = min(1.0, total_w * cell_area / job.grid_area)
    cropped_ha, grass_ha, unknown_ha = crop_w * to_ha, grass_w * to_ha, unknown_w * to_ha
    uncovered_ha = max(0.0, (1.0 - covered) * job.area_ha)
    low_ha = crop_inside_w * to_ha
    high_ha = cropped_ha + boundary_other_w * to_ha + unknown_ha + uncovered_ha
    clear_obs = int(np.count_nonzero(clear_frac >= thresholds.min_clear_fraction))
    flags: list[Flag] = []
    if covered < _PARTIAL:
        flags.append(Flag.PARTIAL_COVERAGE)
    if field.repaired:
        flags.append(Flag.GEOMETRY_REPAIRED)
    insufficient = clear_obs < thresholds.min_clear_observations
    if insufficient:
        flags.append(Flag.INSUFFICIENT_CLEAR_OBSERVATIONS)
        low_ha, high_ha = 0.0, job.area_ha
    declared = field.declared_ha
    ratio = ratio_low = ratio_high = None
    if declared is not None and declared > 0 and is_grassland_crop(field.declared_crop):
        # A declared meadow or pasture is checked against the grassland it shows, not against annual crops;
        # its band uses the same inside/boundary shares as the cropped estimate.
        inside_share = low_ha / cropped_ha if cropped_ha > 0 else 0.8
        low_ha, high_ha = grass_ha * inside_share, grass_ha + unknown_ha + uncovered_ha
        ratio, ratio_low, ratio_high = grass_ha / declared, low_ha / declared, high_ha / declared
        if not insufficient and declared - high_ha > thresholds.declared_tolerance * declared:
            flags.append(Flag.DECLARED_EXCEEDS_OBSERVED)
    elif declared is not None and declared > 0:
        ratio, ratio_low, ratio_high = cropped_ha / declared, low_ha / declared, high_ha / declared
        if not insufficient and declared - high_ha > thresholds.declared_tolerance * declared:
            flags.append(Flag.DECLARED_EXCEEDS_OBSERVED)
    series = tuple(
        DatePoint(
            acquired_at=s.acquired_at,
            scene_id=s.scene_id,
            clear_fraction=float(clear_frac[t]),
            ndvi=_opt(ndvi_mean[t]),
            evi=_opt(evi_mean[t]),
        )
        for t, s in enumerate(scenes)
    )
    return FieldCropArea(
        field_id=field.field_id,
        area_ha=job.area_ha,
        cropped_ha=cropped_ha,
        grassland_ha=grass_ha,
        unknown_ha=unknown_ha,
        covered_fraction=covered,
        declared_ha=declared,
        declared_crop=field.declared_crop,
        ratio=ratio,
        ratio_low=ratio_low,
        ratio_high=ratio_high,
        clear_observations=clear_obs,
        series=series,
        flags=tuple(sorted(flags)),
        scene_ids=tuple(s.scene_id for s in scenes),
    )


def _stacks(scenes: Sequence[Scene]) -> list[tuple[Grid, list[Scene]]]:
    """Group scenes by grid: one stack per tile (scenes on one grid are one time series)."""
    stacks: dict[Grid, list[Scene]] = {}
    for scene in scenes:
        stacks.setdefault(scene_grid(scene), []).append(scene)
    return list(stacks.items())


def _plan(
    fields: Sequence[FieldBoundary], scenes: Sequence[Scene], block_px: int
) -> tuple[list[tuple[Grid, Window, list[_Job], list[Scene]]], list[tuple[FieldBoundary, float]]]:
    """Assign each field to the stack covering most of it, and group fields into blocks."""
    stacks = _stacks(scenes)
    areas = _equal_area_ha(fields)
    best: list[tuple[float, int, BaseGeometry] | None] = [None] * len(fields)
    for s, (grid, _) in enumerate(stacks):
        box = shapely.box(*grid.bounds)
        for i, geom in enumerate(geometries_in_crs(fields, grid.crs_wkt)):
            if geom.is_empty or not geom.is_valid:
                continue
            share = geom.intersection(box).area / geom.area if geom.area > 0 else 0.0
            if share > 0 and (best[i] is None or share > best[i][0]):  # type: ignore[index]
                best[i] = (share, s, geom)
    blocks: dict[tuple[int, int, int], tuple[Window, list[_Job]]] = {}
    uncovered: list[tuple[FieldBoundary, float]] = []
    for i, field in enumerate(fields):
        choice = best[i]
        window = None if choice is None else stacks[choice[1]][0].window_of(choice[2].bounds)
        if choice is None or window is None:
            uncovered.append((field, areas[i]))
            continue
        _, s, geom = choice
        key = (s, (window.row_off + window.height // 2) // block_px, (window.col_off + window.width // 2) // block_px)
        job = _Job(field=field, wkb=shapely.to_wkb(geom), area_ha=areas[i], grid_area=geom.area)
        if key in blocks:
            blocks[key] = (union(blocks[key][0], window), [*blocks[key][1], job])
        else:
            blocks[key] = (window, [job])
    plan = [(stacks[k[0]][0], win, jobs, stacks[k[0]][1]) for k, (win, jobs) in sorted(blocks.items())]
    return plan, uncovered


def iter_field_stats(
    *,
    fields: Sequence[FieldBoundary],
    scenes: Sequence[Scene],
    thresholds: Thresholds | None = None,
    block_px: int = 1024,
    client: object | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[FieldCropArea]:
    """Yield one :class:`FieldCropArea` per field, block by block (fields of a block come together).

    Args:
        fields: the field boundaries, in any CRS.
        scenes: the season's scenes (see :func:`~remote_sensing.scenes.load_scenes`); several tiles are fine.
        thresholds: decision thresholds; default :class:`Thresholds()`.
        block_px: side of a processing block in pixels; memory grows with its square.
        client: a ``dask.distributed.Client``; blocks then run on its workers.
        on_progress: called with the number of fields finished after each block.

    Raises:
        SceneError: no scenes, or a scene is unreadable or inconsistent.
    """
    thresholds = thresholds or Thresholds()
    if not scenes:
        raise SceneError("No scenes given; pass at least one --scene (STAC item, ItemCollection or GeoTIFF).")
    plan, uncovered = _plan(fields, scenes, block_px)
    log.info(
        "Crop area: %d field(s) in %d block(s), %d outside every scene, %d scene(s)",
        len(fields),
        len(plan),
        len(uncovered),
        len(scenes),
    )
    for field, area_ha in uncovered:
        yield _empty_result(field, area_ha, scenes, thresholds)
    if on_progress and uncovered:
        on_progress(len(uncovered))
    if client is None:
        for grid, window, jobs, stack in plan:
            yield from _process_block(grid=grid, window=window, jobs=jobs, scenes=stack, thresholds=thresholds)
            if on_progress:
                on_progress(len(jobs))
        return
    from distributed import as_completed

    futures = [
        client.submit(_process_block, grid=g, window=win, jobs=jobs, scenes=stack, thresholds=thresholds, pure=False)  # type: ignore[attr-defined]
        for g, win, jobs, stack in plan
    ]
    for future in as_completed(futures):
        results = future.result()
        yield from results
        if on_progress:
            on_progress(len(results))


def field_stats(
    *,
    fields: Sequence[FieldBoundary],
    scenes: Sequence[Scene],
    thresholds: Thresholds | None = None,
    block_px: int = 1024,
    client: object | None = None,
) -> list[FieldCropArea]:
    """List form of :func:`iter_field_stats`, in the order of ``fields``."""
    order = {f.field_id: i for i, f in enumerate(fields)}
    results = iter_field_stats(fields=fields, scenes=scenes, thresholds=thresholds, block_px=block_px, client=client)
    return sorted(results, key=lambda r: order.get(r.field_id, len(order)))
