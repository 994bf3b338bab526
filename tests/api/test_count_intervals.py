"""Count intervals through the API and the dashboard (vision issue #16): camera profiles, herd, evidence, credit.

``farm_with_data`` counts 12 cattle a day for 60 days; here each count gets the interval 10-15. By hand:
the verified herd is 12 (interval 10-15) and is valued at 10 head; a camera's relative width is 5 / 12 =
0.4167 per day, under the 0.50 a ``wide`` camera may give and over the 0.20 a ``race`` camera may.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from store.rollups import rebuild_daily_rollups
from tests.api.conftest import auth, sign_in


def _with_intervals(world) -> str:
    with psycopg.connect(world["db"]) as conn:
        conn.execute(
            "UPDATE livestock_counts SET count_low = 10, count_high = 15 WHERE farm_id = %s", (world["farm_a"],)
        )
        (device,) = conn.execute("SELECT id FROM devices WHERE farm_id = %s", (world["farm_a"],)).fetchone()
        rebuild_daily_rollups(conn, farm_ids=[world["farm_a"]])  # the rows were changed around the writers
        conn.commit()
    return str(device)


def _consent(world) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = world["client"].post(
        f"/v1/farms/{world['farm_a']}/consents",
        json={"lender_id": str(world["lender"]), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    assert r.status_code == 201, r.text


def test_a_device_is_provisioned_with_a_camera_profile_and_can_change_it(world):
    client, key, farm = world["client"], auth(world["key_a"]), world["farm_a"]
    made = client.post(
        f"/v1/farms/{farm}/devices",
        json={"id": "gate-1", "public_key_hex": "01" * 32, "camera_profile": "race"},
        headers=key,
    )
    assert made.status_code == 201 and made.json()["camera_profile"] == "race"
    plain = client.post(f"/v1/farms/{farm}/devices", json={"id": "barn-1", "public_key_hex": "02" * 32}, headers=key)
    assert plain.json()["camera_profile"] == "wide"
    bad = client.post(
        f"/v1/farms/{farm}/devices",
        json={"id": "x-1", "public_key_hex": "03" * 32, "camera_profile": "drone"},
        headers=key,
    )
    assert bad.status_code == 422 and "camera_profile" in bad.text
    moved = client.put("/v1/devices/barn-1/camera-profile", json={"camera_profile": "pen"}, headers=key)
    assert moved.status_code == 200 and moved.json()["camera_profile"] == "pen"
    listed = {d["id"]: d["camera_profile"] for d in client.get(f"/v1/farms/{farm}/devices", headers=key).json()}
    assert (listed["gate-1"], listed["barn-1"]) == ("race", "pen")
    other = client.put(
        "/v1/devices/barn-1/camera-profile", json={"camera_profile": "race"}, headers=auth(world["key_b"])
    )
    assert other.status_code == 404


def test_herd_and_evidence_answer_with_the_interval(world):
    _with_intervals(world)
    client, key, farm = world["client"], auth(world["key_a"]), world["farm_a"]
    herd = client.get(f"/v1/farms/{farm}/herd?days=90", headers=key).json()["data"]
    assert len(herd) == 60
    assert {(d["head"], d["head_low"], d["head_high"], d["coverage"]) for d in herd} == {(12, 10, 15, 0.9)}
    (latest,) = client.get(f"/v1/farms/{farm}/evidence?limit=1", headers=key).json()
    assert (latest["count"], latest["count_low"], latest["count_high"], latest["coverage"]) == (12, 10, 15, 0.9)
    other = client.get(f"/v1/farms/{world['farm_b']}/evidence?limit=1", headers=auth(world["key_b"])).json()
    assert (other[0]["count_low"], other[0]["count_high"]) == (None, None)  # stored without an interval


def test_the_credit_decision_values_the_lower_end_and_flags_a_race_camera_this_wide(world):
    device = _with_intervals(world)
    _consent(world)
    client, lender = world["client"], auth(world["key_l"])
    first = client.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**lender, "Idempotency-Key": "interval-limit-1"}
    ).json()
    (evidence,) = [r for r in first["reasons"] if r["code"] == "herd_evidence"]
    assert evidence["message"].startswith("Verified cattle herd 12 (90 % interval 10-15, valued at 10): ")
    assert not [r for r in first["reasons"] if r["code"] == "wide_count_interval"]  # wide: 0.4167 <= 0.50
    changed = client.put(
        f"/v1/devices/{device}/camera-profile", json={"camera_profile": "race"}, headers=auth(world["key_a"])
    )
    assert changed.status_code == 200
    second = client.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**lender, "Idempotency-Key": "interval-limit-2"}
    ).json()
    (flag,) = [r for r in second["reasons"] if r["code"] == "wide_count_interval"]
    assert flag["message"] == (
        f"Camera {device}/cam (race) counts cattle with 90 % intervals 42 % of the head wide over 60 day(s), "
        "wider than the 20 % allowed for race cameras: check its counts before relying on them."
    )
    client.cookies.clear()
    sign_in(client, world["key_l"])
    page = client.get("/ui").text
    assert "cattle 12 head\n    (90 % interval 10-15, valued at 10)" in page
    assert 'class="flag">Camera ' in page


def test_the_cooperative_page_shows_the_latest_counts_interval(world):
    _with_intervals(world)
    client = world["client"]
    sign_in(client, world["key_a"])
    page = client.get("/ui").text
    assert "12 cattle\n        (90 % interval 10-15)" in page
