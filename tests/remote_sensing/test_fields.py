import json

import geopandas as gpd
import pytest
import shapely

from remote_sensing import FieldsError, fields_from_geojson, geometries_in_crs, read_fields
from tests.remote_sensing.samples import SYNTHETIC


def test_geojson_with_declarations_and_repair():
    fields = read_fields(SYNTHETIC / "fields.geojson")
    by_id = {f.field_id: f for f in fields}
    assert list(by_id) == ["crop", "grass", "built", "edge", "outside", "bowtie"]
    assert by_id["crop"].declared_ha == 4.5 and by_id["crop"].declared_crop == "maize"
    assert by_id["bowtie"].declared_ha is None
    assert by_id["bowtie"].repaired and by_id["bowtie"].geometry.is_valid
    assert not by_id["crop"].repaired and by_id["crop"].crs == "EPSG:4326"


@pytest.mark.parametrize("suffix", ["gpkg", "parquet", "shp"])
def test_other_formats_and_crs(tmp_path, suffix):
    frame = (
        gpd.read_file(SYNTHETIC / "fields.geojson")
        .to_crs("EPSG:3035")
        .rename(columns={"field_id": "name", "declared_ha": "decl_ha"})
    )
    path = tmp_path / f"fields.{suffix}"
    if suffix == "parquet":
        frame.to_parquet(path)
    else:
        frame.to_file(path)
    fields = read_fields(path, id_field="name", declared_area_field="decl_ha")
    assert fields[0].field_id == "crop" and fields[0].crs == "EPSG:3035"
    assert fields[0].declared_ha == 4.5


def test_feature_id_is_the_default_id(tmp_path):
    frame = gpd.read_file(SYNTHETIC / "fields.geojson").drop(columns=["field_id"])
    path = tmp_path / "noid.gpkg"
    frame.to_file(path)
    assert [f.field_id for f in read_fields(path)][:2] == ["1", "2"]


def test_bad_inputs(tmp_path):
    with pytest.raises(FieldsError, match="does not exist"):
        read_fields(tmp_path / "missing.geojson")
    frame = gpd.read_file(SYNTHETIC / "fields.geojson")[["field_id", "geometry"]]
    frame.to_file(tmp_path / "a.shp")
    (tmp_path / "a.prj").unlink()
    with pytest.raises(FieldsError, match="has no CRS; add one"):
        read_fields(tmp_path / "a.shp")
    with pytest.raises(FieldsError, match=r"--id-field 'nope' is not a column .* columns are: field_id"):
        read_fields(SYNTHETIC / "fields.geojson", id_field="nope")
    with pytest.raises(FieldsError, match="appear more than once"):
        read_fields(SYNTHETIC / "fields.geojson", id_field="declared_crop")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not geojson")
    with pytest.raises(FieldsError, match="cannot be read as vector data"):
        read_fields(junk)


def test_from_geojson_records_and_reprojection():
    ring = [[3.0, 50.0], [3.001, 50.0], [3.001, 50.001], [3.0, 50.001], [3.0, 50.0]]
    [f] = fields_from_geojson(
        [{"field_id": 7, "geometry": {"type": "Polygon", "coordinates": [ring]}, "declared_ha": "1.5"}]
    )
    assert f.field_id == "7" and f.declared_ha == 1.5 and f.crs == "EPSG:4326"
    [utm] = geometries_in_crs([f], "EPSG:32631")
    assert 500_000 < utm.bounds[0] < 510_000  # metres, not degrees
    [empty] = fields_from_geojson([{"field_id": "e", "geometry": None}])
    assert empty.geometry.is_empty
    line = json.loads(json.dumps(shapely.geometry.mapping(shapely.LineString([(0, 0), (1, 1)]))))
    [lf] = fields_from_geojson([{"field_id": "l", "geometry": line}])
    assert lf.geometry.is_empty
