import json

import geopandas as gpd
import numpy as np
import pytest
from PIL import Image

from remote_sensing import RemoteSensingError, field_stats, read_fields, scenes_from_stac
from remote_sensing.export import render_quicklook, write_results
from tests.remote_sensing.samples import SYNTHETIC


@pytest.fixture(scope="module")
def run():
    fields = read_fields(SYNTHETIC / "fields.geojson")
    scenes = scenes_from_stac(SYNTHETIC / "items.json")
    return fields, scenes, field_stats(fields=fields, scenes=scenes)


@pytest.mark.parametrize("suffix", ["geojson", "parquet", "gpkg"])
def test_write_results(tmp_path, run, suffix):
    fields, _, results = run
    path = tmp_path / f"out.{suffix}"
    write_results(results=results, fields=fields, path=path)
    frame = gpd.read_parquet(path) if suffix == "parquet" else gpd.read_file(path)
    assert len(frame) == 6 and frame.crs.to_epsg() == 4326
    row = frame.set_index("field_id").loc["built"]

    def plain(value):  # GDAL hands JSON text in GeoJSON back as a list
        return value if isinstance(value, list) else json.loads(value)

    assert plain(row["flags"]) == ["declared_exceeds_observed"]
    assert row["cropped_ha"] == 0 and row["area_ha"] == pytest.approx(1.0, rel=2e-3)
    assert len(plain(row["ndvi_series"])) == 6
    with pytest.raises(RemoteSensingError, match=r"use \.geojson, \.parquet or \.gpkg"):
        write_results(results=results, fields=fields, path=tmp_path / "out.csv")


def test_quicklook_draws_ndvi_and_flag_colours(tmp_path, run):
    fields, scenes, results = run
    path = tmp_path / "q.png"
    render_quicklook(results=results, fields=fields, scenes=scenes, path=path)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape[0] > 300 and image.shape[1] > 300

    def has(rgb):
        return bool((np.abs(image - np.array(rgb)).sum(axis=2) < 40).any())

    assert has((0xE5, 0x39, 0x35))  # declared_exceeds_observed outline (built, grass)
    assert has((0x1E, 0x88, 0xE5))  # unflagged outline (crop)
    assert has((0x00, 0x44, 0x1B))  # dark green of high NDVI (YlGn top)
    with pytest.raises(RemoteSensingError, match="nothing to draw"):
        render_quicklook(
            results=results,
            fields=[f for f in fields if f.field_id == "outside"],
            scenes=scenes,
            path=tmp_path / "none.png",
        )
