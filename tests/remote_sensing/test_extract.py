from datetime import date

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from remote_sensing import (
    Flag,
    SceneError,
    SceneMismatchError,
    Thresholds,
    field_stats,
    iter_field_stats,
    load_scenes,
    read_fields,
    scenes_from_stac,
)
from remote_sensing.scenes import Scene, SceneBand
from tests.remote_sensing.samples import SYNTHETIC


@pytest.fixture(scope="module")
def results():
    fields = read_fields(SYNTHETIC / "fields.geojson")
    return {r.field_id: r for r in field_stats(fields=fields, scenes=scenes_from_stac(SYNTHETIC / "items.json"))}


def test_crop_field_exact_area_and_band(results):
    crop = results["crop"]
    # 150 m x 300 m off the pixel grid; area measured in an equal-area CRS (UTM scale factor removed)
    assert crop.area_ha == pytest.approx(4.5, rel=2e-3)
    assert crop.cropped_ha == pytest.approx(crop.area_ha, rel=1e-6)
    assert crop.grassland_ha == 0 and crop.covered_fraction == pytest.approx(1.0)
    assert crop.ratio == pytest.approx(crop.area_ha / 4.5)
    # 14 x 29 whole pixels lie inside the 15 x 30 px field; mixed boundary pixels widen the band downwards
    assert crop.ratio_low == pytest.approx(14 * 29 / 450, rel=2e-3)
    assert crop.ratio_low < crop.ratio <= crop.ratio_high
    assert crop.flags == ()
    # six dates, one all cloud: five clear observations and a null NDVI on the cloudy date
    assert crop.clear_observations == 5
    assert [p.clear_fraction for p in crop.series] == pytest.approx([1, 1, 0, 1, 1, 1])
    assert crop.series[2].ndvi is None
    assert crop.series[0].ndvi == pytest.approx(0.111, abs=0.02) and crop.series[3].ndvi == pytest.approx(
        0.818, abs=0.02
    )
    assert crop.series[3].evi is not None and crop.series[3].evi > 0.5
    assert len(crop.scene_ids) == 6 and crop.method_version == "ndvi-profile-1"


def test_shadow_is_masked_and_grass_is_reported(results):
    grass = results["grass"]
    # the shadow date would look bare; masked, grass stays grassland (and not crop)
    assert grass.cropped_ha == 0 and grass.grassland_ha == pytest.approx(grass.area_ha, rel=1e-6)
    assert grass.clear_observations == 4 and grass.series[4].clear_fraction == 0
    assert Flag.DECLARED_EXCEEDS_OBSERVED in grass.flags


def test_flags(results):
    assert results["built"].flags == (Flag.DECLARED_EXCEEDS_OBSERVED,)
    assert results["built"].cropped_ha == 0 and results["built"].grassland_ha == 0
    edge = results["edge"]
    assert Flag.PARTIAL_COVERAGE in edge.flags and edge.covered_fraction == pytest.approx(0.5, abs=0.01)
    assert edge.cropped_ha == pytest.approx(edge.area_ha / 2, rel=0.02)
    assert edge.ratio_high >= 1.0  # the unseen half could be crop: no over-declaration flag
    assert Flag.DECLARED_EXCEEDS_OBSERVED not in edge.flags
    outside = results["outside"]
    assert (
        Flag.NO_COVERAGE in outside.flags
        and outside.cropped_ha is None
        and outside.area_ha == pytest.approx(1.0, rel=2e-3)
    )
    bowtie = results["bowtie"]
    assert Flag.GEOMETRY_REPAIRED in bowtie.flags and bowtie.cropped_ha > 0 and bowtie.ratio is None


def test_same_result_in_any_field_crs_and_streaming(tmp_path, results):
    frame = gpd.read_file(SYNTHETIC / "fields.geojson").to_crs("EPSG:3857")
    frame.to_file(tmp_path / "f.gpkg")
    fields = read_fields(tmp_path / "f.gpkg")
    streamed = {
        r.field_id: r
        for r in iter_field_stats(fields=fields, scenes=scenes_from_stac(SYNTHETIC / "items.json"), block_px=16)
    }
    for fid in ("crop", "grass", "edge"):
        assert streamed[fid].cropped_ha == pytest.approx(results[fid].cropped_ha, rel=1e-3, abs=1e-6)
        assert streamed[fid].area_ha == pytest.approx(results[fid].area_ha, rel=1e-6)


def test_all_cloud_and_single_date_are_flagged_not_crashing():
    fields = read_fields(SYNTHETIC / "fields.geojson")
    cloudy = [s for s in scenes_from_stac(SYNTHETIC / "items.json") if s.acquired_at.month == 5]
    [crop, *_] = field_stats(fields=fields, scenes=cloudy)
    assert crop.clear_observations == 0 and Flag.INSUFFICIENT_CLEAR_OBSERVATIONS in crop.flags
    assert (crop.ratio_low, crop.ratio_high) == (0.0, pytest.approx(crop.area_ha / 4.5))
    assert Flag.DECLARED_EXCEEDS_OBSERVED not in crop.flags
    plain = load_scenes([SYNTHETIC / "plain_date4.tif"], band_map={"red": 3, "nir": 4}, acquired_at=date(2021, 6, 1))
    [one, *_] = field_stats(fields=fields, scenes=plain)
    assert one.clear_observations == 1 and one.series[0].ndvi == pytest.approx(0.818, abs=0.02)
    assert Flag.INSUFFICIENT_CLEAR_OBSERVATIONS in one.flags
    relaxed = Thresholds(min_clear_observations=1, min_pixel_observations=1, min_green_observations=1)
    [grass_like, *_] = field_stats(fields=fields, scenes=plain, thresholds=relaxed)
    assert grass_like.grassland_ha == pytest.approx(grass_like.area_ha, rel=1e-6)  # one green date: no bare phase


def test_band_crs_mismatch_and_missing_asset(tmp_path):
    [scene, *_] = scenes_from_stac(SYNTHETIC / "items.json")
    with rasterio.open(scene.bands["nir"].href) as ds:
        profile, data = ds.profile, ds.read()
    profile["crs"] = "EPSG:32632"
    with rasterio.open(tmp_path / "nir.tif", "w", **profile) as ds:
        ds.write(data)
    bad = Scene(
        scene_id="bad",
        acquired_at=scene.acquired_at,
        bands={**scene.bands, "nir": SceneBand(href=str(tmp_path / "nir.tif"), scale=1e-4, nodata=0)},
    )
    fields = read_fields(SYNTHETIC / "fields.geojson")
    with pytest.raises(SceneMismatchError, match=r"band nir is in EPSG:32632 but red is in EPSG:32631"):
        field_stats(fields=fields, scenes=[bad])
    gone = Scene(
        scene_id="gone",
        acquired_at=scene.acquired_at,
        bands={**scene.bands, "red": SceneBand(href=str(tmp_path / "none.tif"))},
    )
    with pytest.raises(SceneError, match="cannot open"):
        field_stats(fields=fields, scenes=[gone])
    with pytest.raises(SceneError, match="No scenes given"):
        field_stats(fields=fields, scenes=[])


def test_two_tiles_in_different_crs(tmp_path):
    """A second tile in another UTM zone: each field goes to the tile that covers it."""
    scenes = scenes_from_stac(SYNTHETIC / "items.json")
    moved = []
    for s in scenes[:3] + scenes[3:]:
        bands = {}
        for name, band in s.bands.items():
            with rasterio.open(band.href) as ds:
                profile, data = ds.profile, ds.read()
            profile["crs"] = "EPSG:32630"  # same numbers, another zone: a different place
            out = tmp_path / f"{s.scene_id}_{name}.tif"
            with rasterio.open(out, "w", **profile) as ds:
                ds.write(data)
            bands[name] = SceneBand(href=str(out), scale=band.scale, nodata=band.nodata)
        moved.append(Scene(scene_id=s.scene_id + "_z30", acquired_at=s.acquired_at, bands=bands))
    fields = read_fields(SYNTHETIC / "fields.geojson")
    both = {r.field_id: r for r in field_stats(fields=fields, scenes=scenes + moved)}
    assert both["crop"].cropped_ha == pytest.approx(both["crop"].area_ha, rel=1e-6)
    assert all(sid.endswith("T105000") for sid in both["crop"].scene_ids)


def test_dask_gives_the_same_results(results):
    from distributed import Client, LocalCluster

    fields = read_fields(SYNTHETIC / "fields.geojson")
    with (
        LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        out = {
            r.field_id: r
            for r in iter_field_stats(
                fields=fields, scenes=scenes_from_stac(SYNTHETIC / "items.json"), client=client, block_px=8
            )
        }
    assert set(out) == set(results)
    for fid, r in results.items():
        assert out[fid].cropped_ha == r.cropped_ha or np.isclose(out[fid].cropped_ha, r.cropped_ha)


def test_declared_grassland_is_checked_against_observed_grassland():
    """A farmer who declares a meadow is compared with the grassland seen, not with annual crops."""
    import dataclasses

    fields = read_fields(SYNTHETIC / "fields.geojson")
    as_meadow = [dataclasses.replace(f, declared_crop="Pasture") if f.field_id == "grass" else f for f in fields]
    by_id = {r.field_id: r for r in field_stats(fields=as_meadow, scenes=scenes_from_stac(SYNTHETIC / "items.json"))}
    meadow = by_id["grass"]
    assert meadow.cropped_ha == 0
    assert meadow.ratio == pytest.approx(meadow.grassland_ha / 2.0)
    assert meadow.ratio_low <= meadow.ratio <= meadow.ratio_high
    assert Flag.DECLARED_EXCEEDS_OBSERVED not in meadow.flags
    # declaring the built-up plot as pasture is still over-declared: it shows no grass either
    as_pasture = [dataclasses.replace(f, declared_crop="grass") if f.field_id == "built" else f for f in fields]
    built = next(
        r
        for r in field_stats(fields=as_pasture, scenes=scenes_from_stac(SYNTHETIC / "items.json"))
        if r.field_id == "built"
    )
    assert Flag.DECLARED_EXCEEDS_OBSERVED in built.flags
