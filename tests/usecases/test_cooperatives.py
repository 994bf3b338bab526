"""usecases.cooperatives: the member overview of the dashboard, against hand-counted data."""

import uuid
from datetime import UTC, datetime, timedelta

from store.farms import create_farm
from store.ingest_devices import insert_device, revoke_device
from store.tenants import create_organization
from usecases.cooperatives import member_overview

NOW = datetime.now(UTC)


def _device(conn, farm, name, *, last_seen=None):
    device = f"{name}-{uuid.uuid4().hex[:6]}"
    insert_device(conn, device_id=device, farm_id=farm, public_key=bytes(32))
    conn.execute("UPDATE devices SET last_seen_at = %s WHERE id = %s", (last_seen, device))
    return device


def _count(conn, farm, device, species, head, time):
    conn.execute(
        """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method)
           VALUES (%s, %s, %s, 'cam', %s, %s, 'snapshot')""",
        (time, farm, device, species, head),
    )


def _reading(conn, farm, device, time):
    conn.execute(
        """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
           VALUES (%s, %s, %s, 'water_flow_l_min', 1.0, 'L/min', %s)""",
        (time, farm, device, uuid.uuid4()),
    )


def _alert(conn, farm, code, *, resolved=False):
    conn.execute(
        """INSERT INTO credit_alerts (farm_id, code, severity, message, resolved_at)
           VALUES (%s, %s, 'warning', 'check', CASE WHEN %s THEN now() END)""",
        (farm, code, resolved),
    )


def test_member_overview_counts_devices_days_with_data_and_open_alerts(conn):
    coop = create_organization(conn, kind="cooperative", name=f"coop {uuid.uuid4()}")
    other = create_organization(conn, kind="cooperative", name=f"other {uuid.uuid4()}")
    beta = create_farm(conn, name="Beta", cooperative_id=coop).id
    alpha = create_farm(conn, name="Alpha", cooperative_id=coop, declared_herd={"cattle": 5}).id
    create_farm(conn, name="Aardvark", cooperative_id=other)
    cam = _device(conn, alpha, "cam", last_seen=NOW - timedelta(hours=1))
    gw = _device(conn, alpha, "gw")  # active, never seen: silent
    old = _device(conn, alpha, "old", last_seen=NOW - timedelta(days=30))
    revoke_device(conn, device_id=old)  # revoked: neither counted nor silent
    day = timedelta(days=1)
    _count(conn, alpha, cam, "cattle", 10, NOW - 3 * day)
    _count(conn, alpha, cam, "sheep", 4, NOW - 2 * day)
    _count(conn, alpha, cam, "cattle", 12, NOW - day)
    _count(conn, alpha, cam, "cattle", 9, NOW - 70 * day)  # older than the window, and not the latest
    _reading(conn, alpha, gw, NOW - 5 * day)
    _reading(conn, alpha, gw, NOW - day)  # the same day as a count: one day
    _alert(conn, alpha, "herd_drop")
    _alert(conn, alpha, "silent_device")
    _alert(conn, alpha, "old_alert", resolved=True)

    rows = member_overview(conn, cooperative_id=coop, now=NOW)

    assert [r.name for r in rows] == ["Alpha", "Beta"]
    a, b = rows
    assert a.farm_id == alpha and a.declared_herd == {"cattle": 5}
    assert a.latest_counts == {"cattle": 12, "sheep": 4}
    # 2 active devices, of which gw was never seen; days with data: now-5, -3, -2, -1 (counts count too)
    assert (a.devices, a.devices_silent, a.coverage_days, a.open_alerts) == (2, 1, 4, 2)
    assert (b.farm_id, b.latest_counts, b.devices, b.devices_silent, b.coverage_days, b.open_alerts) == (
        beta,
        {},
        0,
        0,
        0,
        0,
    )
