import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from store.crop_areas import (
    NewEstimate,
    farm_field_geometries,
    field_crop_areas,
    insert_estimates,
    latest_estimates,
)
from store.farms import add_field, create_farm

SQUARE = {"type": "Polygon", "coordinates": [[[3.0, 50.0], [3.001, 50.0], [3.001, 50.001], [3.0, 50.001], [3.0, 50.0]]]}


def _estimate(field_id, cropped_ha, **extra):
    values = {
        "external_field_id": field_id,
        "area_ha": 2.0,
        "cropped_ha": cropped_ha,
        "grassland_ha": 0.5,
        "unknown_ha": 0.0,
        "covered_fraction": 1.0,
        "declared_ha": 2.0,
        "ratio": None if cropped_ha is None else cropped_ha / 2.0,
        "ratio_low": None,
        "ratio_high": None,
        "clear_observations": 4,
        "flags": ("declared_exceeds_observed",),
        "ndvi_series": ({"date": "2021-06-01", "ndvi": 0.71, "clear_fraction": 0.98},),
        "scene_ids": ("s1", "s2"),
        "method_version": "test-1",
    }
    return NewEstimate(**{**values, **extra})


def _farm(conn):
    return create_farm(conn, name=f"rs farm {uuid.uuid4()}").id


def test_insert_links_rows_to_the_farms_fields_at_column_precision(conn):
    farm = _farm(conn)
    field = add_field(conn, farm_id=farm, external_id="north", geometry=SQUARE)
    ids = insert_estimates(
        conn,
        estimates=[_estimate("north", 1.23456789, ratio=123456.0), _estimate("gone", None)],
        farm_id=farm,
        season_start=datetime(2021, 3, 1, tzinfo=UTC).date(),
    )
    assert len(ids) == 2 and ids[0] < ids[1]
    rows = conn.execute(
        "SELECT external_field_id, field_id, cropped_ha, ratio, flags, ndvi_series, scene_ids, season_start "
        "FROM crop_area_estimates WHERE id = ANY(%s) ORDER BY id",
        (ids,),
    ).fetchall()
    north, gone = rows
    # 1.23456789 ha is stored to the column's 4 decimals; a ratio above 9999 is stored as 9999
    assert north[:4] == ("north", field.id, Decimal("1.2346"), Decimal("9999.0000"))
    assert north[4] == ["declared_exceeds_observed"] and north[6] == ["s1", "s2"]
    assert north[5] == [{"date": "2021-06-01", "ndvi": 0.71, "clear_fraction": 0.98}]
    assert str(north[7]) == "2021-03-01"
    assert gone[:3] == ("gone", None, None)  # no such field: stored, not linked


def test_insert_without_farm_links_nothing(conn):
    (estimate_id,) = insert_estimates(conn, estimates=[_estimate("crop", 1.0)])
    row = conn.execute(
        "SELECT field_id, farm_id, external_field_id FROM crop_area_estimates WHERE id = %s", (estimate_id,)
    ).fetchone()
    assert row == (None, None, "crop")


def test_latest_estimate_per_field(conn):
    farm = _farm(conn)
    add_field(conn, farm_id=farm, external_id="a", geometry=SQUARE, declared_area_ha=Decimal("2.5"), name="A")
    add_field(conn, farm_id=farm, external_id="b", geometry=SQUARE)
    _first, second = insert_estimates(conn, estimates=[_estimate("a", 1.0), _estimate("a", 1.5)], farm_id=farm)
    # the same transaction gives both rows the same estimated_at: the later id wins the tie
    assert [e.id for e in latest_estimates(conn, farm_id=farm)] == [second]
    rows = field_crop_areas(conn, farm_ids=[farm])
    assert [(r.external_id, r.cropped_ha, r.ratio) for r in rows] == [
        ("a", Decimal("1.5000"), Decimal("0.7500")),
        ("b", None, None),
    ]
    a, b = rows
    assert (a.name, a.declared_area_ha, a.flags, a.method_version) == (
        "A",
        Decimal("2.5000"),
        ["declared_exceeds_observed"],
        "test-1",
    )
    assert b.flags == [] and b.estimated_at is None and b.farm_id == farm
    assert field_crop_areas(conn, farm_ids=[uuid.uuid4()]) == []


def test_farm_field_geometries(conn):
    farm = _farm(conn)
    assert farm_field_geometries(conn, farm_id=farm) == []
    named = add_field(conn, farm_id=farm, external_id="z-field", geometry=SQUARE, declared_crop="maize")
    unnamed = add_field(conn, farm_id=farm, geometry=SQUARE, declared_area_ha=Decimal("1.25"))
    rows = farm_field_geometries(conn, farm_id=farm)
    by_id = {r.field_id: r for r in rows}
    assert set(by_id) == {"z-field", str(unnamed.id)}  # the uuid stands in for a missing external id
    assert [r.field_id for r in rows] == sorted(by_id)
    assert by_id["z-field"].geometry == SQUARE and by_id["z-field"].declared_crop == "maize"
    assert by_id[str(unnamed.id)].declared_area_ha == Decimal("1.2500")
    assert json.dumps(named.geometry, sort_keys=True) == json.dumps(SQUARE, sort_keys=True)
