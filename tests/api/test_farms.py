"""The farm routes through the use cases: a duplicate device or field is a 409 and changes nothing."""

from __future__ import annotations

from tests.api.conftest import auth
from tests.api.factories import SQUARE


def test_a_duplicate_device_is_refused_and_the_first_stays(world):
    client, key, farm = world["client"], auth(world["key_a"]), world["farm_a"]
    first = client.post(f"/v1/farms/{farm}/devices", json={"id": "gw-dup", "public_key_hex": "01" * 32}, headers=key)
    assert first.status_code == 201, first.text
    assert first.json()["mqtt_topic_prefix"] == f"farmtrust/v1/{farm}/gw-dup/"
    again = client.post(f"/v1/farms/{farm}/devices", json={"id": "gw-dup", "public_key_hex": "02" * 32}, headers=key)
    assert again.status_code == 409 and "gw-dup" in again.json()["detail"]
    listed = client.get(f"/v1/farms/{farm}/devices", headers=key).json()
    assert [d["public_key_hex"] for d in listed if d["id"] == "gw-dup"] == ["01" * 32]
    rotated = client.post("/v1/devices/gw-dup/rotate-key", json={"public_key_hex": "03" * 32}, headers=key)
    assert rotated.status_code == 200 and rotated.json()["public_key_hex"] == "03" * 32
    revoked = client.post("/v1/devices/gw-dup/revoke", headers=key)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert client.post("/v1/devices/nobody/revoke", headers=key).status_code == 404
    # another cooperative's key: the device does not exist for it
    assert client.post("/v1/devices/gw-dup/revoke", headers=auth(world["key_b"])).status_code == 404


def test_a_duplicate_field_is_a_conflict(world):
    client, key, farm = world["client"], auth(world["key_a"]), world["farm_a"]
    body = {"external_id": "P-9", "name": "North", "geometry": SQUARE, "declared_area_ha": "1.5"}
    made = client.post(f"/v1/farms/{farm}/fields", json=body, headers=key)
    assert made.status_code == 201, made.text
    assert made.json()["declared_area_ha"] in ("1.5000", 1.5)
    assert client.post(f"/v1/farms/{farm}/fields", json=body, headers=key).status_code == 409
    assert [f["external_id"] for f in client.get(f"/v1/farms/{farm}/fields", headers=key).json()] == ["P-9"]


def test_farms_page_by_cursor(world):
    client, key = world["client"], auth(world["key_a"])
    made = [client.post("/v1/farms", json={"name": f"New {i}"}, headers=key).json()["id"] for i in range(2)]
    expected = sorted([str(world["farm_a"]), *made])
    first = client.get("/v1/farms?limit=2", headers=key).json()
    assert [f["id"] for f in first["data"]] == expected[:2] and first["count"] == 3
    rest = client.get(f"/v1/farms?limit=2&cursor={first['next_cursor']}", headers=key).json()
    assert [f["id"] for f in rest["data"]] == expected[2:] and rest["next_cursor"] is None
