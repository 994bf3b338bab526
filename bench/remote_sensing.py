"""Benchmark: cropped area per field on a synthetic Sentinel-2-sized tile, against exactextract and rasterstats.

    python -m bench.remote_sensing [--quick] [--json] [--keep]

Writes a synthetic season under /tmp (three dates of red and nir, uint16 DN, tiled 512, plus a 20 m SCL
band with a cloud bank on the second date) and N random rotated-rectangle fields of 0.5-5 ha. Then, in this
process and on the same files:

- FarmTrust: ``iter_field_stats`` (windowed reads, SCL masking, NDVI, per-pixel crop decision, exact coverage,
  per-date series, flags);
- exactextract directly: ``exact_extract`` of the same red and nir rasters with ``mean`` and ``count``
  (the per-field means the NDVI series is built from, without masking or decision), with both of its
  strategies; the faster one is the baseline of ``ratio``. A one-band run is printed for reference;
- rasterstats ``zonal_stats`` (``mean``, ``count``) on one band for a subset of fields (it is slow).

Prints a table, then as the last line one JSON object with fields_per_s, megapixels_per_s, peak_rss_mb,
exactextract_fields_per_s, rasterstats_fields_per_s and ratio (ours / exactextract). Full size: 10980 x 10980
px and 10,000 fields; ``--quick``: a 5490 x 5490 quarter tile and 2,500 fields.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

X0, Y0, PX = 300_000.0, 5_400_000.0, 10.0
CRS = "EPSG:32633"
DATES = ("2021-03-20", "2021-04-25", "2021-06-20", "2021-07-25")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _land(rows: slice, size: int) -> np.ndarray:
    """0 other, 1 crop, 2 grass, from a fixed random 100-px patchwork (deterministic)."""
    coarse = np.random.default_rng(7).choice(3, size=(size // 100 + 1, size // 100 + 1), p=(0.2, 0.5, 0.3))
    r = np.arange(rows.start, rows.stop) // 100
    c = np.arange(size) // 100
    return coarse[r][:, c]


def write_tile(folder: Path, size: int) -> list:
    """Write the synthetic season (strip by strip, never the whole tile in memory) and return its scenes."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    from remote_sensing.scenes import Scene, SceneBand

    folder.mkdir(parents=True, exist_ok=True)
    done = folder / f"done_{size}"
    common = {"driver": "GTiff", "crs": CRS, "tiled": True, "blockxsize": 512, "blockysize": 512, "nodata": 0}
    scenes = []
    for t, day in enumerate(DATES):
        paths = {b: folder / f"{size}_{day}_{b}.tif" for b in ("red", "nir", "scl")}
        if not done.exists():
            with (
                rasterio.open(paths["red"], "w", width=size, height=size, count=1, dtype="uint16",
                              transform=from_origin(X0, Y0, PX, PX), **common) as red,
                rasterio.open(paths["nir"], "w", width=size, height=size, count=1, dtype="uint16",
                              transform=from_origin(X0, Y0, PX, PX), **common) as nir,
            ):  # fmt: skip
                for r0 in range(0, size, 512):
                    rows = slice(r0, min(size, r0 + 512))
                    land = _land(rows, size)
                    green = (land == 2) | ((land == 1) & (t >= 2))
                    rv = np.where(green, 400, np.where(land == 1, 2000, 1800)).astype(np.uint16)
                    nv = np.where(green, 4000, np.where(land == 1, 2500, 2000)).astype(np.uint16)
                    rv += np.uint16(t * 7)
                    win = Window(0, r0, size, rows.stop - r0)
                    red.write(rv, 1, window=win)
                    nir.write(nv, 1, window=win)
            half = size // 2
            with rasterio.open(paths["scl"], "w", width=half, height=half, count=1, dtype="uint8",
                               transform=from_origin(X0, Y0, 2 * PX, 2 * PX), **common) as scl:  # fmt: skip
                for r0 in range(0, half, 512):
                    h = min(half, r0 + 512) - r0
                    block = np.full((h, half), 4, dtype=np.uint8)
                    if t == 2:  # a cloud bank over the northern tenth of the tile on the third date
                        rows = np.arange(r0, r0 + h)
                        block[rows < half // 10] = 9
                    scl.write(block, 1, window=Window(0, r0, half, h))
        when = datetime.fromisoformat(day).replace(tzinfo=UTC)
        scenes.append(
            Scene(
                scene_id=f"synthetic_{size}_{day}",
                acquired_at=when,
                bands={
                    "red": SceneBand(href=str(paths["red"]), scale=1e-4, nodata=0),
                    "nir": SceneBand(href=str(paths["nir"]), scale=1e-4, nodata=0),
                    "scl": SceneBand(href=str(paths["scl"]), nodata=0),
                },
            )
        )
    done.touch()
    return scenes


def make_fields(n: int, size: int) -> list:
    """N rotated rectangles of 0.5-5 ha inside the tile (EPSG:32633), deterministic."""
    import shapely
    from shapely import affinity

    from remote_sensing.fields import FieldBoundary

    rng = np.random.default_rng(42)
    extent = size * PX
    out = []
    for i in range(n):
        area_m2 = rng.uniform(5_000, 50_000)
        aspect = rng.uniform(1.0, 3.0)
        w = math.sqrt(area_m2 / aspect)
        h = area_m2 / w
        cx, cy = X0 + rng.uniform(300, extent - 300), Y0 - rng.uniform(300, extent - 300)
        box = shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        geom = affinity.rotate(box, rng.uniform(0, 180), origin="centroid")
        out.append(FieldBoundary(field_id=f"f{i:05d}", geometry=geom, crs=CRS, declared_ha=area_m2 / 10_000))
    return out


def run_ours(fields: list, scenes: list) -> tuple[float, list]:
    """Time FarmTrust's full pipeline."""
    from remote_sensing.extract import iter_field_stats

    t0 = time.perf_counter()
    results = list(iter_field_stats(fields=fields, scenes=scenes))
    return time.perf_counter() - t0, results


def run_exactextract(fields: list, scenes: list, *, strategy: str, bands: tuple[str, ...] = ("red", "nir")) -> float:
    """Time exactextract directly: mean and count of every red and nir raster per field."""
    import geopandas as gpd
    import rasterio
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    frame = gpd.GeoDataFrame({"field_id": [f.field_id for f in fields]}, geometry=[f.geometry for f in fields], crs=CRS)
    t0 = time.perf_counter()
    datasets = [rasterio.open(s.bands[b].href) for s in scenes for b in bands]
    sources = [RasterioRasterSource(ds, name=f"r{i}") for i, ds in enumerate(datasets)]
    try:
        out = exact_extract(sources, frame, ["mean", "count"], output="pandas", strategy=strategy)
    finally:
        for ds in datasets:
            ds.close()
    elapsed = time.perf_counter() - t0
    assert len(out) == len(fields)
    return elapsed


def run_rasterstats(fields: list, scenes: list, n: int) -> tuple[float, int]:
    """Time rasterstats on the first red raster for the first ``n`` fields."""
    from rasterstats import zonal_stats

    subset = [f.geometry for f in fields[:n]]
    t0 = time.perf_counter()
    zonal_stats(subset, scenes[0].bands["red"].href, stats=["mean", "count"], all_touched=False)
    return time.perf_counter() - t0, len(subset)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="quarter tile and 2,500 fields")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic tile under /tmp for the next run")
    parser.add_argument("--write-only", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/farmtrust-bench-rs"), help="where the tile goes")
    args = parser.parse_args(argv)
    if args.write_only:
        write_tile(args.dir, args.write_only)
        return {}
    size, n_fields, n_rs = (5490, 2500, 250) if args.quick else (10980, 10_000, 1000)
    t0 = time.perf_counter()
    # Written in a child process, so this process's peak RSS is FarmTrust's own.
    subprocess.run([sys.executable, "-m", "bench.remote_sensing", "--write-only", str(size), "--dir", str(args.dir)],
                   check=True)  # fmt: skip
    scenes = write_tile(args.dir, size)
    fields = make_fields(n_fields, size)
    prepare_s = time.perf_counter() - t0
    rss_before = _peak_rss_mb()
    ours_s, results = run_ours(fields, scenes)
    rss_ours = _peak_rss_mb()
    ee_feature_s = run_exactextract(fields, scenes, strategy="feature-sequential")
    ee_raster_s = run_exactextract(fields, scenes, strategy="raster-sequential")
    ee_s = min(ee_feature_s, ee_raster_s)
    ee_one_s = run_exactextract(fields, scenes[:1], strategy="feature-sequential", bands=("nir",))
    rs_s, rs_n = run_rasterstats(fields, scenes, n_rs)
    cropped = sum(r.cropped_ha or 0 for r in results)
    flagged = sum(1 for r in results if r.flags)
    megapixels = size * size * len(scenes) / 1e6
    figures = {
        "tile_px": size,
        "fields": n_fields,
        "dates": len(scenes),
        "seconds": round(ours_s, 2),
        "fields_per_s": round(n_fields / ours_s, 1),
        "megapixels_per_s": round(megapixels / ours_s, 1),
        "peak_rss_mb": round(rss_ours, 1),
        "rss_before_run_mb": round(rss_before, 1),
        "exactextract_seconds": round(ee_s, 2),
        "exactextract_fields_per_s": round(n_fields / ee_s, 1),
        "exactextract_feature_sequential_seconds": round(ee_feature_s, 2),
        "exactextract_raster_sequential_seconds": round(ee_raster_s, 2),
        "exactextract_one_band_fields_per_s": round(n_fields / ee_one_s, 1),
        "rasterstats_fields": rs_n,
        "rasterstats_fields_per_s": round(rs_n / rs_s, 1),
        "ratio": round((n_fields / ours_s) / (n_fields / ee_s), 3),
        "cropped_ha_total": round(cropped, 1),
        "flagged_fields": flagged,
        "prepare_seconds": round(prepare_s, 1),
    }
    if not args.json:
        rows = [
            ("FarmTrust iter_field_stats (mask + NDVI + decision)", ours_s, n_fields),
            (f"exactextract direct, {2 * len(scenes)} rasters, feature-sequential", ee_feature_s, n_fields),
            (f"exactextract direct, {2 * len(scenes)} rasters, raster-sequential", ee_raster_s, n_fields),
            ("exactextract direct, one band (not the same work)", ee_one_s, n_fields),
            (f"rasterstats zonal_stats (1 band, {rs_n} fields)", rs_s, rs_n),
        ]
        print(f"tile {size}x{size} px, {len(scenes)} dates, {n_fields} fields; peak RSS {rss_ours:.0f} MB")
        print(f"{'method':55s} {'seconds':>9s} {'fields/s':>10s} {'vs. exactextract':>17s}")
        for name, secs, n in rows:
            print(f"{name:55s} {secs:9.2f} {n / secs:10.1f} {(n / secs) / (n_fields / ee_s):17.2f}")
    if not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
