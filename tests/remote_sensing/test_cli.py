import json
import subprocess
import sys

from tests.remote_sensing.samples import FLANDERS_SAMPLE, SYNTHETIC

CLI = [sys.executable, "-m", "farmtrust.cli", "rs"]


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_crop_area_json_out_and_quicklook(tmp_path):
    out = run(
        "crop-area",
        "--fields",
        SYNTHETIC / "fields.geojson",
        "--scene",
        SYNTHETIC / "items.json",
        "--out",
        tmp_path / "r.geojson",
        "--quicklook",
        tmp_path / "q.png",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["field_id"] for r in rows] == ["crop", "grass", "built", "edge", "outside", "bowtie"]
    keys = {
        "field_id",
        "cropped_ha",
        "grassland_ha",
        "area_ha",
        "declared_ha",
        "ratio",
        "ratio_low",
        "ratio_high",
        "clear_observations",
        "clear_observations_by_date",
        "ndvi_series",
        "flags",
        "scene_ids",
    }
    assert keys <= set(rows[0])
    assert rows[2]["flags"] == ["declared_exceeds_observed"]
    assert (tmp_path / "r.geojson").stat().st_size > 0 and (tmp_path / "q.png").stat().st_size > 0
    assert "fields" in out.stderr  # the progress bar goes to stderr


def test_geotiff_scene_and_table():
    out = run(
        "crop-area",
        "--fields",
        SYNTHETIC / "fields.geojson",
        "--scene",
        SYNTHETIC / "plain_date4.tif",
        "--bands",
        "red=3,nir=4,blue=1",
        "--date",
        "2021-06-01",
        "--scale",
        "0.0001",
    )
    assert out.returncode == 0, out.stderr
    assert "insufficient_clear_observations" in out.stdout.replace("\n", "") or "insuff" in out.stdout


def test_bad_input_is_one_line_without_traceback(tmp_path):
    noprj = tmp_path / "f.shp"
    import geopandas as gpd

    gpd.read_file(SYNTHETIC / "fields.geojson")[["field_id", "geometry"]].to_file(noprj)
    (tmp_path / "f.prj").unlink()
    cases = [
        (["--fields", noprj, "--scene", SYNTHETIC / "items.json"], "has no CRS"),
        (
            [
                "--fields",
                SYNTHETIC / "fields.geojson",
                "--scene",
                SYNTHETIC / "plain_date4.tif",
                "--date",
                "2021-06-01",
            ],
            "--bands red=3,nir=4",
        ),
        (
            ["--fields", SYNTHETIC / "fields.geojson", "--scene", SYNTHETIC / "plain_date4.tif", "--bands", "red=3"],
            "lacks nir",
        ),
        (["--fields", SYNTHETIC / "fields.geojson", "--scene", tmp_path / "missing.json"], "does not exist"),
        (
            ["--fields", SYNTHETIC / "fields.geojson", "--scene", SYNTHETIC / "items.json", "--bare-ndvi-max", "0.9"],
            "must be below green_ndvi_min",
        ),
        (["--fields", SYNTHETIC / "fields.geojson"], "No --scene given"),
        (
            ["--fields", SYNTHETIC / "fields.geojson", "--scene", SYNTHETIC / "items.json", "--id-field", "nope"],
            "is not a column",
        ),
    ]
    for args, message in cases:
        out = run("crop-area", *args)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert message in out.stderr.replace("\n", " "), (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_eval_on_repository_sample():
    out = run(
        "eval",
        "--reference",
        FLANDERS_SAMPLE / "ref_parcels.geojson",
        "--scene",
        FLANDERS_SAMPLE / "stac" / "items.json",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    assert figures["n_fields"] == 19 and figures["mae_ha"] < 0.25 and len(figures["rows"]) == 19


def test_farm_estimates_and_stores_every_field(fresh_db_url):
    import psycopg

    from store.farms import add_field, create_farm

    features = json.loads((SYNTHETIC / "fields.geojson").read_text())["features"]
    with psycopg.connect(fresh_db_url) as conn:
        farm = create_farm(conn, name="rs cli farm").id
        empty = create_farm(conn, name="rs cli farm without fields").id
        for feat in features:
            props = feat["properties"]
            add_field(conn, farm_id=farm, external_id=props["field_id"], geometry=feat["geometry"])
    out = run("farm", farm, "--scene", SYNTHETIC / "items.json", "--json", "--db-url", fresh_db_url)
    assert out.returncode == 0, out.stderr
    assert sorted(r["field_id"] for r in json.loads(out.stdout)) == sorted(
        f["properties"]["field_id"] for f in features
    )
    with psycopg.connect(fresh_db_url) as conn:
        linked = conn.execute(
            "SELECT count(*) FROM crop_area_estimates WHERE farm_id = %s AND field_id IS NOT NULL", (farm,)
        ).fetchone()[0]
    assert linked == len(features) == 6
    out = run("farm", empty, "--scene", SYNTHETIC / "items.json", "--db-url", fresh_db_url)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert f"Farm {empty} has no fields" in out.stderr.replace("\n", " ")
