"""Issue #12 (items 7, 9, 10): bad values are refused with a 422 naming the field and store nothing; database
data errors are 422s; oversized bodies and polygons are refused; scope and tenants do not leak."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi import FastAPI

from api.deps import Conn
from tests.api.conftest import auth, sign_in
from tests.api.factories import SQUARE

UNCLOSED = {"type": "Polygon", "coordinates": [[[3.0, 50.8], [3.01, 50.8], [3.01, 50.81], [3.0, 50.81]]]}


def _count(world, table: str) -> int:
    with psycopg.connect(world["db"]) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _paths(response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["path"] for e in response.json().get("errors", [])}


def _in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"geometry": SQUARE, "declared_area_ha": "1.1234567891"}, "body/declared_area_ha"),  # stored 1.1235
        ({"geometry": SQUARE, "declared_area_ha": 1.5}, "body/declared_area_ha"),  # a float, not a decimal string
        ({"geometry": SQUARE, "declared_area_ha": ""}, "body/declared_area_ha"),
        ({"geometry": SQUARE, "declared_area_ha": "100000.1"}, "body/declared_area_ha"),
        ({"geometry": UNCLOSED}, "body/geometry"),
        ({"geometry": {}}, "body/geometry"),
        ({"geometry": SQUARE, "external_id": "F\x001"}, "body/external_id"),
        ({"geometry": SQUARE, "name": "North\x1b[31m"}, "body/name"),
    ],
)
def test_a_field_stored_differently_from_how_it_was_sent_is_refused(world, body, field):
    r = world["client"].post(f"/v1/farms/{world['farm_a']}/fields", json=body, headers=auth(world["key_a"]))
    assert field in _paths(r)
    assert _count(world, "fields") == 0


def test_a_field_answer_shows_the_area_as_stored(world):
    body = {"geometry": SQUARE, "external_id": "F1", "declared_area_ha": "1.1235"}
    r = world["client"].post(f"/v1/farms/{world['farm_a']}/fields", json=body, headers=auth(world["key_a"]))
    assert r.status_code == 201, r.text
    with psycopg.connect(world["db"]) as conn:
        stored = conn.execute("SELECT declared_area_ha::text FROM fields").fetchone()[0]
    assert stored == "1.1235" and r.json()["declared_area_ha"] == "1.1235"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Herd", "declared_herd": {"cattle": True}}, "body/declared_herd/cattle"),  # was stored as 1
        ({"name": "Herd", "declared_herd": {"cattle": 12.5}}, "body/declared_herd/cattle"),
        ({"name": "Herd", "declared_herd": {"cattle": "12"}}, "body/declared_herd/cattle"),
        ({"name": "Herd", "declared_herd": {"cattle": 10**7}}, "body/declared_herd/cattle"),
        ({"name": "Nul\x00farm"}, "body/name"),
        ({"name": "Farm", "region": "rift\x00valley"}, "body/region"),
        ({"name": "Farm", "country": "K\x00"}, "body/country"),
    ],
)
def test_a_farm_stored_differently_from_how_it_was_sent_is_refused(world, body, field):
    before = _count(world, "farms")
    r = world["client"].post("/v1/farms", json=body, headers=auth(world["key_a"]))
    assert field in _paths(r)
    assert _count(world, "farms") == before


def test_a_lone_surrogate_is_refused(world):
    body = b'{"name": "Lone \\ud800 surrogate"}'  # valid JSON, but not text PostgreSQL stores
    r = world["client"].post(
        "/v1/farms", content=body, headers={**auth(world["key_a"]), "Content-Type": "application/json"}
    )
    assert "body/name" in _paths(r)
    assert _count(world, "farms") == 2


@pytest.mark.parametrize(
    "expires_at",
    [
        (datetime.now(UTC) - timedelta(days=1)).isoformat(),  # already expired
        (datetime.now(UTC) + timedelta(days=30)).replace(tzinfo=None).isoformat(),  # naive: whose midnight?
        "2030-01-01",  # a date, not a time
    ],
)
def test_a_consent_expired_or_naive_is_refused(world, expires_at):
    body = {"lender_id": str(world["lender"]), "expires_at": expires_at}
    r = world["client"].post(f"/v1/farms/{world['farm_a']}/consents", json=body, headers=auth(world["key_a"]))
    assert "body/expires_at" in _paths(r)
    assert _count(world, "consents") == 0


def test_a_consent_in_another_offset_is_kept_and_answered_in_utc(world):
    body = {"lender_id": str(world["lender"]), "expires_at": "2099-06-01T12:00:00+03:00"}
    r = world["client"].post(f"/v1/farms/{world['farm_a']}/consents", json=body, headers=auth(world["key_a"]))
    assert r.status_code == 201, r.text
    assert datetime.fromisoformat(r.json()["expires_at"]) == datetime(2099, 6, 1, 9, tzinfo=UTC)
    assert r.json()["expires_at"].endswith("Z") or r.json()["expires_at"].endswith("+00:00")


def test_nul_in_an_organization_name_or_a_path_is_a_422_not_a_500(world):
    c = world["client"]
    r = c.post("/v1/organizations", json={"kind": "lender", "name": "Bank\x00"}, headers=auth(world["key_admin"]))
    assert "body/name" in _paths(r)
    r = c.post("/v1/devices/cam%00x/revoke", headers=auth(world["key_a"]))  # reaches the database as is
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 422 and "NUL" in r.json()["detail"]


def test_a_database_data_error_anywhere_is_a_422_problem(world):
    app: FastAPI = world["client"].app

    @app.get("/test-only/overflow")
    def overflow(conn: Conn) -> dict[str, str]:
        conn.execute("SELECT %s::numeric(12, 4)", ("1e20",))  # what a repayment of 1e20 did
        return {}

    r = world["client"].get("/test-only/overflow")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Unprocessable value" and "overflow" in r.json()["detail"]


def _circle(positions: int) -> dict:
    """A valid ring of ``positions`` positions (the last repeats the first) around Nakuru."""
    ring = [
        [
            36.0 + 0.01 * math.cos(2 * math.pi * i / (positions - 1)),
            -0.3 + 0.01 * math.sin(2 * math.pi * i / (positions - 1)),
        ]
        for i in range(positions - 1)
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def test_field_vertices_are_bounded_at_10000(world):
    c, url = world["client"], f"/v1/farms/{world['farm_a']}/fields"
    r = c.post(url, json={"geometry": _circle(10_001)}, headers=auth(world["key_a"]))
    assert any(p.startswith("body/geometry") for p in _paths(r)) and "10000" in r.json()["detail"]
    east = _circle(5_001)
    west = {"type": "Polygon", "coordinates": [[[x - 1, y] for x, y in east["coordinates"][0]]]}
    both = {"type": "MultiPolygon", "coordinates": [east["coordinates"], west["coordinates"]]}
    r = c.post(url, json={"geometry": both}, headers=auth(world["key_a"]))
    assert "body/geometry" in _paths(r) and "10002 positions" in r.json()["detail"]
    assert _count(world, "fields") == 0
    r = c.post(url, json={"geometry": _circle(10_000)}, headers=auth(world["key_a"]))
    assert r.status_code == 201, r.text[:500]


def test_a_body_over_one_mebibyte_is_refused_with_413(world):
    body = b'{"name": "' + b"x" * 1_048_576 + b'"}'
    r = world["client"].post(
        "/v1/farms", content=body, headers={**auth(world["key_a"]), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413
    chunks = iter([b'{"name": "', *([b"x" * 65_536] * 17), b'"}'])  # streamed, with no Content-Length
    r = world["client"].post(
        "/v1/farms", content=chunks, headers={**auth(world["key_a"]), "Content-Type": "application/json"}
    )
    assert r.status_code == 413 and "Content-Length" not in r.request.headers
    assert _count(world, "farms") == 2


def test_a_credit_only_consent_does_not_list_the_farm(world):
    c = world["client"]
    body = {"lender_id": str(world["lender"]), "expires_at": _in_days(30), "scope": ["credit"]}
    assert c.post(f"/v1/farms/{world['farm_a']}/consents", json=body, headers=auth(world["key_a"])).status_code == 201
    listed = c.get("/v1/farms", headers=auth(world["key_l"])).json()
    assert listed["count"] == 0 and listed["data"] == []
    assert c.get(f"/v1/farms/{world['farm_a']}", headers=auth(world["key_l"])).status_code == 404


def test_a_404_for_another_tenants_device_names_none_of_its_ids(world):
    with psycopg.connect(world["db"]) as conn:
        device = conn.execute("SELECT id FROM devices WHERE farm_id = %s", (world["farm_a"],)).fetchone()[0]
    c = world["client"]
    for r in (
        c.post(f"/v1/devices/{device}/revoke", headers=auth(world["key_b"])),
        c.post(f"/v1/devices/{device}/rotate-key", json={"public_key_hex": "ab" * 32}, headers=auth(world["key_b"])),
    ):
        assert r.status_code == 404
        assert str(world["farm_a"]) not in r.text and str(world["coop_a"]) not in r.text
    # ... and reads the same as a device that does not exist at all
    missing = c.post("/v1/devices/no-such-device/revoke", headers=auth(world["key_b"])).json()
    mine = c.post(f"/v1/devices/{device}/revoke", headers=auth(world["key_b"])).json()
    assert mine["detail"].replace(device, "X") == missing["detail"].replace("no-such-device", "X")


def test_evidence_is_looked_up_within_the_callers_farms(world, tmp_path):
    sha = "ab" * 32
    root = tmp_path / "evidence"
    for name, data in (("b.jpg", b"farm B's frame"), ("a.jpg", b"farm A's frame")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    now = datetime.now(UTC)
    with psycopg.connect(world["db"]) as conn:
        # another cooperative's device cites the same frame hash, first and more recently
        for farm, path, age in ((world["farm_b"], "b.jpg", 1), (world["farm_a"], "a.jpg", 2)):
            conn.execute(
                """INSERT INTO livestock_counts (time, farm_id, species, count, method, frame_sha256, evidence_path)
                   VALUES (%s, %s, 'cattle', 3, 'snapshot', %s, %s)""",
                (now - timedelta(hours=age), farm, sha, path),
            )
    c = world["client"]
    for key, expected in (("key_a", b"farm A's frame"), ("key_b", b"farm B's frame")):
        c.cookies.clear()
        sign_in(c, world[key])
        r = c.get(f"/ui/evidence/{sha}.jpg")
        assert r.status_code == 200 and r.content == expected
    c.cookies.clear()
    sign_in(c, world["key_l"])
    assert c.get(f"/ui/evidence/{sha}.jpg").status_code == 404  # no consent: neither farm's evidence
    c.cookies.clear()


def test_a_405_keeps_its_allow_header(world):
    r = world["client"].delete("/v1/farms", headers=auth(world["key_a"]))
    assert r.status_code == 405 and r.headers["content-type"].startswith("application/problem+json")
    assert set(r.headers["allow"].replace(" ", "").split(",")) - {"HEAD"} == {"GET", "POST"}  # both routes


def test_problem_responses_are_documented_as_problem_json(world):
    paths = world["client"].get("/openapi.json").json()["paths"]
    operation = paths["/v1/farms/{farm_id}/fields"]["post"]
    for code in ("401", "403", "404", "409", "413", "422"):
        assert "application/problem+json" in operation["responses"][code]["content"], code
    assert "application/json" not in operation["responses"]["422"]["content"]
