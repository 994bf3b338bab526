"""Estimating a farm's crop areas from the synthetic season (tests/data/remote_sensing/make_synthetic.py).

Expected values come from how the synthetic scene is built, not from the code: the "crop" field is
15 x 30 pixels of 10 m (150 m x 300 m = 4.5 ha) of annual crop, the "grass" field 15 x 15 pixels
(2.25 ha) of permanent grass, the "built" field 10 x 10 pixels (1 ha) built-up; one of the six dates
is all cloud, so a fully clear field has 5 clear observations.
"""

import json
import uuid
from datetime import date

import pytest

from remote_sensing import Flag, scenes_from_stac
from remote_sensing.errors import SceneError
from store.crop_areas import latest_estimates
from store.farms import add_field, create_farm
from store.tenants import create_organization
from tests.remote_sensing.samples import SYNTHETIC
from usecases.crop_areas import estimate_farm_crop_areas, farm_fields
from usecases.errors import FarmFieldsNotFoundError


def _farm_with_fields(conn):
    org = create_organization(conn, kind="cooperative", name=f"rs {uuid.uuid4()}")
    farm = create_farm(conn, name="rs farm", cooperative_id=org).id
    for feat in json.loads((SYNTHETIC / "fields.geojson").read_text())["features"]:
        p = feat["properties"]
        add_field(
            conn,
            farm_id=farm,
            external_id=p["field_id"],
            geometry=feat["geometry"],
            declared_crop=p["declared_crop"],
            declared_area_ha=p["declared_ha"],
        )
    return farm


def test_estimate_farm_and_read_back(conn):
    farm = _farm_with_fields(conn)
    fields = farm_fields(conn, farm_id=farm)
    assert [f.field_id for f in fields] == sorted(["crop", "grass", "built", "edge", "outside", "bowtie"])
    assert {f.field_id: f.declared_ha for f in fields}["crop"] == 4.5
    results = estimate_farm_crop_areas(
        conn,
        farm_id=farm,
        scenes=scenes_from_stac(SYNTHETIC / "items.json"),
        season_start=date(2021, 3, 1),
        season_end=date(2021, 8, 31),
    )
    assert len(results) == 6
    stored = {e.external_field_id: e for e in latest_estimates(conn, farm_id=farm)}
    assert set(stored) == {"crop", "grass", "built", "edge", "outside", "bowtie"}
    crop = stored["crop"]
    assert float(crop.area_ha) == pytest.approx(4.5, abs=0.01)
    assert float(crop.cropped_ha) == pytest.approx(4.5, abs=0.01) and float(crop.ratio) == pytest.approx(1.0, abs=0.01)
    assert crop.clear_observations == 5 and crop.season_start == date(2021, 3, 1) and crop.method_version
    assert len(crop.scene_ids) == 6 and len(crop.ndvi_series) == 6 and crop.ndvi_series[2]["ndvi"] is None
    grass = stored["grass"]
    assert float(grass.cropped_ha) == 0 and float(grass.grassland_ha) == pytest.approx(2.25, abs=0.01)
    built = stored["built"]
    assert float(built.cropped_ha) == 0 and Flag.DECLARED_EXCEEDS_OBSERVED.value in built.flags
    linked = conn.execute("SELECT external_id FROM fields WHERE id = %s", (built.field_id,)).fetchone()[0]
    assert linked == "built"  # each row is linked to its fields row
    assert stored["outside"].cropped_ha is None and Flag.NO_COVERAGE.value in stored["outside"].flags


def test_a_farm_without_fields_is_a_clear_error(conn):
    farm = create_farm(conn, name="no fields").id
    with pytest.raises(FarmFieldsNotFoundError, match="has no fields"):
        estimate_farm_crop_areas(conn, farm_id=farm, scenes=scenes_from_stac(SYNTHETIC / "items.json"))


def test_a_season_without_scenes_stores_nothing(conn):
    farm = _farm_with_fields(conn)
    with pytest.raises(SceneError):
        estimate_farm_crop_areas(
            conn,
            farm_id=farm,
            scenes=scenes_from_stac(SYNTHETIC / "items.json"),
            season_start=date(2030, 1, 1),
        )
    assert latest_estimates(conn, farm_id=farm) == []
