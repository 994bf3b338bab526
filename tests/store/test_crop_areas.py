import json
import uuid
from datetime import date

import pytest

from remote_sensing import Flag, read_fields, scenes_from_stac
from store.crop_areas import (
    FarmFieldsNotFoundError,
    estimate_farm_crop_areas,
    insert_estimates,
    latest_estimates,
    load_farm_fields,
)
from tests.remote_sensing.samples import SYNTHETIC


def _farm_with_fields(conn):
    org = conn.execute(
        "INSERT INTO organizations (kind, name) VALUES ('cooperative', %s) RETURNING id", (f"rs {uuid.uuid4()}",)
    ).fetchone()[0]
    farm = conn.execute(
        "INSERT INTO farms (cooperative_id, name) VALUES (%s, 'rs farm') RETURNING id", (org,)
    ).fetchone()[0]
    features = json.loads((SYNTHETIC / "fields.geojson").read_text())["features"]
    for feat in features:
        p = feat["properties"]
        conn.execute(
            "INSERT INTO fields (farm_id, external_id, geometry, declared_crop, declared_area_ha) "
            "VALUES (%s, %s, %s, %s, %s)",
            (farm, p["field_id"], json.dumps(feat["geometry"]), p["declared_crop"], p["declared_ha"]),
        )
    return farm


def test_estimate_farm_and_read_back(conn):
    farm = _farm_with_fields(conn)
    fields = load_farm_fields(conn, farm_id=farm)
    assert [f.field_id for f in fields] == sorted(["crop", "grass", "built", "edge", "outside", "bowtie"])
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
    built = stored["built"]
    assert built.flags == ("declared_exceeds_observed",) and float(built.cropped_ha) == 0
    assert built.field_id is not None  # linked to the fields row
    linked = conn.execute("SELECT external_id FROM fields WHERE id = %s", (built.field_id,)).fetchone()[0]
    assert linked == "built"
    crop = stored["crop"]
    assert float(crop.cropped_ha) == pytest.approx(4.5036, abs=1e-3) and crop.clear_observations == 5
    assert crop.season_start == date(2021, 3, 1) and len(crop.scene_ids) == 6 and crop.method_version
    assert len(crop.ndvi_series) == 6 and crop.ndvi_series[2]["ndvi"] is None
    assert stored["outside"].cropped_ha is None and Flag.NO_COVERAGE.value in stored["outside"].flags


def test_insert_without_farm_and_missing_farm(conn):
    fields = read_fields(SYNTHETIC / "fields.geojson")
    from remote_sensing import field_stats

    results = field_stats(fields=fields[:2], scenes=scenes_from_stac(SYNTHETIC / "items.json"))
    ids = insert_estimates(conn, results=results)
    assert len(ids) == 2
    row = conn.execute(
        "SELECT field_id, farm_id, external_field_id FROM crop_area_estimates WHERE id = %s", (ids[0],)
    ).fetchone()
    assert row == (None, None, "crop")
    with pytest.raises(FarmFieldsNotFoundError, match="has no fields"):
        load_farm_fields(conn, farm_id=uuid.uuid4())
