"""Generate the tiny synthetic season in synthetic/ (run from the repo root; deterministic).

A 40 x 40 px, 10 m grid in EPSG:32631 (UL corner 500000 E, 5600000 N), six Sentinel-2-like acquisitions
as STAC items with Earth Search keys (blue, red, nir: uint16 DN, scale 0.0001, nodata 0; scl at 20 m):

- columns 0-19 are an annual crop: bare (NDVI ~0.1) on dates 1-2, green (~0.8) on dates 4-6;
- columns 20-39, rows 0-19 are grass (NDVI ~0.75 on every date);
- columns 20-39, rows 20-39 are built-up (NDVI ~0.05 on every date);
- date 3 is all cloud (SCL 9, bright blue);
- on date 5 the grass quarter is cloud shadow (SCL 3, dark: NDVI would look bare if not masked).

Also ``fields.geojson`` (EPSG:4326) and ``plain_date4.tif`` (a 4-band GeoTIFF of date 4: blue, green, red, nir).

    python tests/data/remote_sensing/make_synthetic.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import rasterio
from pyproj import Transformer
from rasterio.transform import from_origin

HERE = Path(__file__).resolve().parent / "synthetic"
X0, Y0, PX, N = 500_000.0, 5_600_000.0, 10.0, 40
CRS = "EPSG:32631"
DATES = ["2021-03-01", "2021-04-01", "2021-05-01", "2021-06-01", "2021-07-01", "2021-08-01"]


def _bands(t: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(t)
    red = np.zeros((N, N), dtype=np.float64)
    nir = np.zeros((N, N), dtype=np.float64)
    crop_green = t >= 3
    # crop: bare soil red 0.20 nir 0.25 (NDVI 0.11) -> green red 0.04 nir 0.40 (NDVI 0.82)
    red[:, :20], nir[:, :20] = (0.04, 0.40) if crop_green else (0.20, 0.25)
    red[:20, 20:], nir[:20, 20:] = 0.05, 0.35  # grass NDVI 0.75
    red[20:, 20:], nir[20:, 20:] = 0.20, 0.22  # built NDVI 0.05
    blue = np.full((N, N), 0.05)
    scl = np.where(np.arange(N)[None, :] < 20, 4, 5).repeat(N, 0)
    scl[20:, 20:] = 5
    if t == 2:  # all cloud
        red[:], nir[:], blue[:], scl[:] = 0.45, 0.48, 0.5, 9
    if t == 4:  # cloud shadow over the grass: dark, low NDVI
        red[:20, 20:], nir[:20, 20:] = 0.03, 0.035
        scl[:20, 20:] = 3
    noise = rng.normal(0, 0.003, (3, N, N))
    dn = {
        "blue": np.clip((blue + noise[0]) * 10_000, 1, 65_535).astype(np.uint16),
        "red": np.clip((red + noise[1]) * 10_000, 1, 65_535).astype(np.uint16),
        "nir": np.clip((nir + noise[2]) * 10_000, 1, 65_535).astype(np.uint16),
        "scl": scl[::2, ::2].astype(np.uint8),
    }
    dn["blue"][0, 0] = 0  # one nodata pixel
    return dn


def _write(path: Path, array: np.ndarray, res: float, nodata: int) -> None:
    profile = {
        "driver": "GTiff",
        "width": array.shape[1],
        "height": array.shape[0],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": CRS,
        "transform": from_origin(X0, Y0, res, res),
        "nodata": nodata,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array, 1)


def _lonlat(coords: list[tuple[float, float]]) -> list[list[float]]:
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    return [[round(v, 9) for v in to_ll.transform(x, y)] for x, y in coords]


def main() -> None:
    """Write synthetic/."""
    HERE.mkdir(parents=True, exist_ok=True)
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon0, lat1 = to_ll.transform(X0, Y0 - N * PX)
    lon1, lat0 = to_ll.transform(X0 + N * PX, Y0)
    items = []
    for t, day in enumerate(DATES):
        stamp = day.replace("-", "") + "T105000"
        (HERE / stamp).mkdir(exist_ok=True)
        assets = {}
        for key, array in _bands(t).items():
            res = 20.0 if key == "scl" else PX
            _write(HERE / stamp / f"{key}.tif", array, res, 0)
            raster = {"nodata": 0, "data_type": array.dtype.name, "spatial_resolution": res}
            if key != "scl":
                raster |= {"scale": 0.0001, "offset": 0}
            assets[key] = {
                "href": f"{stamp}/{key}.tif",
                "type": "image/tiff",
                "roles": ["data"],
                "raster:bands": [raster],
            }
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "stac_extensions": ["https://stac-extensions.github.io/raster/v1.1.0/schema.json"],
                "id": f"S2_synthetic_{stamp}",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
                },
                "bbox": [lon0, lat0, lon1, lat1],
                "properties": {"datetime": f"{day}T10:50:00Z", "platform": "sentinel-2", "proj:epsg": 32631},
                "links": [],
                "assets": assets,
            }
        )
    (HERE / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": items}, indent=1) + "\n")
    (HERE / f"item_{items[3]['id']}.json").write_text(json.dumps(items[3], indent=1) + "\n")
    # A plain 4-band GeoTIFF of date 4 (bands: blue, green, red, nir).
    b = _bands(3)
    stack = np.stack([b["blue"], b["blue"], b["red"], b["nir"]])
    with rasterio.open(
        HERE / "plain_date4.tif", "w", driver="GTiff", width=N, height=N, count=4, dtype="uint16",
        crs=CRS, transform=from_origin(X0, Y0, PX, PX), nodata=0, compress="deflate",
    ) as ds:  # fmt: skip
        ds.write(stack)
    x, y = X0, Y0
    fields = {
        # 15 x 30 px crop field off the pixel grid: 4.5 ha, declared 4.5
        "crop": [(x + 25, y - 45), (x + 175, y - 45), (x + 175, y - 345), (x + 25, y - 345)],
        # grass 15 x 15 px: 2.25 ha, declared as 2.0 ha of crop
        "grass": [(x + 225, y - 25), (x + 375, y - 25), (x + 375, y - 175), (x + 225, y - 175)],
        # built-up 10 x 10 px: 1 ha declared as 1 ha of crop -> declared_exceeds_observed
        "built": [(x + 250, y - 250), (x + 350, y - 250), (x + 350, y - 350), (x + 250, y - 350)],
        # half outside the scene (west edge): partial coverage
        "edge": [(x - 100, y - 360), (x + 100, y - 360), (x + 100, y - 395), (x - 100, y - 395)],
        # far away: no coverage
        "outside": [(x + 5000, y - 5000), (x + 5100, y - 5000), (x + 5100, y - 5100), (x + 5000, y - 5100)],
        # self-intersecting bow tie inside the crop area: repaired with make_valid
        "bowtie": [(x + 20, y - 360), (x + 120, y - 395), (x + 120, y - 360), (x + 20, y - 395)],
    }
    declared = {"crop": 4.5, "grass": 2.0, "built": 1.0, "edge": 0.7, "outside": 1.0, "bowtie": None}
    features = [
        {
            "type": "Feature",
            "properties": {"field_id": fid, "declared_ha": declared[fid], "declared_crop": "maize"},
            "geometry": {"type": "Polygon", "coordinates": [_lonlat([*ring, ring[0]])]},
        }
        for fid, ring in fields.items()
    ]
    (HERE / "fields.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, indent=1) + "\n"
    )
    print(f"wrote {HERE}")


if __name__ == "__main__":
    main()
