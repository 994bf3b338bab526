from datetime import UTC, date, datetime

import pytest

from remote_sensing import (
    BandMapError,
    SceneError,
    SceneNotFoundError,
    load_scenes,
    parse_band_map,
    scenes_from_stac,
    select_season,
)
from tests.remote_sensing.samples import FLANDERS_SAMPLE, SYNTHETIC


def test_item_collection_reads_every_item_with_raster_extension():
    scenes = scenes_from_stac(SYNTHETIC / "items.json")
    assert [s.acquired_at.date().isoformat() for s in scenes] == [
        "2021-03-01",
        "2021-04-01",
        "2021-05-01",
        "2021-06-01",
        "2021-07-01",
        "2021-08-01",
    ]
    red = scenes[0].bands["red"]
    assert red.scale == pytest.approx(0.0001) and red.nodata == 0 and red.index == 1
    assert red.href.endswith("synthetic/20210301T105000/red.tif")
    assert scenes[0].mask_band == "scl" and scenes[0].bands["scl"].scale == 1.0
    assert scenes[0].acquired_at.tzinfo is not None


def test_single_item_and_real_season():
    [one] = scenes_from_stac(next(SYNTHETIC.glob("item_*.json")))
    assert one.scene_id == "S2_synthetic_20210601T105000"
    real = scenes_from_stac(FLANDERS_SAMPLE / "stac" / "items.json")
    assert len(real) == 46 and set(real[0].bands) == {"blue", "red", "nir", "scl"}


def test_geotiff_needs_band_map_and_date():
    tif = SYNTHETIC / "plain_date4.tif"
    with pytest.raises(BandMapError, match="--bands red=3,nir=4"):
        load_scenes([tif], acquired_at=date(2021, 6, 1))
    with pytest.raises(SceneError, match="--date YYYY-MM-DD"):
        load_scenes([tif], band_map={"red": 3, "nir": 4})
    with pytest.raises(BandMapError, match="has 4 band"):
        load_scenes([tif], band_map={"red": 3, "nir": 9}, acquired_at=date(2021, 6, 1))
    [scene] = load_scenes([tif], band_map={"red": 3, "nir": 4, "blue": 1}, acquired_at=date(2021, 6, 1), scale=1e-4)
    assert scene.acquired_at == datetime(2021, 6, 1, tzinfo=UTC)
    assert scene.bands["nir"].index == 4 and scene.bands["nir"].scale == pytest.approx(1e-4)
    assert scene.mask_band is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("red=3", "lacks nir"),
        ("red=3,nir=x", "is not NAME=INDEX"),
        ("red=3,nir=0", "is not NAME=INDEX"),
        ("red=3,nir=4,swir=5", "unknown band 'swir'"),
    ],
)
def test_band_map_errors(text, match):
    with pytest.raises(BandMapError, match=match):
        parse_band_map(text)


def test_band_map_ok():
    assert parse_band_map(" red=3, NIR=4 ,scl=5") == {"red": 3, "nir": 4, "scl": 5}


def test_missing_and_malformed_sources(tmp_path):
    with pytest.raises(SceneNotFoundError, match="does not exist"):
        scenes_from_stac(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SceneError, match="is not JSON"):
        scenes_from_stac(bad)
    other = tmp_path / "other.json"
    other.write_text('{"type": "Collection"}')
    with pytest.raises(SceneError, match="expected a STAC Feature"):
        scenes_from_stac(other)
    no_red = tmp_path / "nored.json"
    no_red.write_text(
        '{"type": "Feature", "stac_version": "1.0.0", "id": "x", "geometry": null, "links": [],'
        '"properties": {"datetime": "2021-01-01T00:00:00Z"}, "assets": {"nir": {"href": "n.tif"}}}'
    )
    with pytest.raises(BandMapError, match="has no asset for red"):
        scenes_from_stac(no_red)


def test_season_selection():
    scenes = scenes_from_stac(SYNTHETIC / "items.json")
    kept = select_season(scenes, start=date(2021, 4, 1), end=date(2021, 6, 1))
    assert len(kept) == 3
    with pytest.raises(SceneError, match="run from 2021-03-01 to 2021-08-01"):
        select_season(scenes, start=date(2022, 1, 1))
