"""Count intervals through the API and the dashboard (vision issue #16): camera profiles, herd, evidence, credit.

``farm_with_data`` counts 12 cattle a day for 60 days; here each count gets the interval 10-15. By hand:
the verified herd is 12 (interval 10-15) and is valued at 10 head; a camera's relative width is 5 / 12 =
0.4167 per day, under the 0.50 a ``wide`` camera may give and over the 0.20 a ``race`` camera may.
"""

from __future__ import annotations

import re
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


def test_the_farm_pages_herd_chart_shades_the_90_percent_interval(world):
    _with_intervals(world)
    client = world["client"]
    sign_in(client, world["key_a"])
    page = client.get(f"/ui/farms/{world['farm_a']}").text
    assert "daily maximum of counted head and its 90 % interval" in page
    # 60 days of 12 head in 10-15: the chart's top is ceil(15 x 1.15) = 18 head; y(v) = 184 - 170 v / 18,
    # so 15 -> 42.3 and 10 -> 89.6; the days run from x = 44.0 to 44 + 556 = 600.0
    (band,) = re.findall(r'<polygon class="band"[^>]*points="([^"]*)"', page)
    corners = band.split()
    assert len(corners) == 120  # the upper end left to right, then the lower end back
    assert (corners[0], corners[59], corners[60], corners[-1]) == ("44.0,42.3", "600.0,42.3", "600.0,89.6", "44.0,89.6")
    assert "shaded: 90 % interval" in page
    assert "12 head (10-15)</title>" in page


def test_a_band_breaks_on_a_day_without_an_interval_and_an_unbounded_day_reaches_the_top():
    from datetime import date

    from api.dashboard.svg import Series, line_chart

    days = [date(2026, 5, d) for d in (1, 2, 3, 4)]
    series = Series("sheep", [(d, 4.0) for d in days], [(3.0, 6.0), (3.0, 5.0), None, (2.0, None)])
    svg = line_chart([series], band_label="90 % interval")
    # top = ceil(6 x 1.15) = 7; y(v) = 184 - 170 v / 7: 6 -> 38.3, 5 -> 62.6, 3 -> 111.1, 2 -> 135.4, 7 -> 14.0
    # x over 3 days of 556 px: 1 May 44.0, 2 May 229.3, 4 May 600.0 (a one-day run is drawn 3 px each side)
    assert re.findall(r'<polygon class="band"[^>]*points="([^"]*)"', svg) == [
        "44.0,38.3 229.3,62.6 229.3,111.1 44.0,111.1",
        "597.0,14.0 603.0,14.0 603.0,135.4 597.0,135.4",
    ]
    assert "sheep 2026-05-04: 4 head (2 or more)</title>" in svg
    assert "polygon" not in line_chart([Series("sheep", [(d, 4.0) for d in days])], band_label="90 % interval")
