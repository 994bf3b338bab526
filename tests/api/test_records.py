"""The records routes read through the use cases; coverage means what the credit record means by it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from store.credit_records import read_farm_record
from store.farms import create_farm
from store.ingest_devices import insert_device, rotate_device_key
from store.rollups import rebuild_daily_rollups
from tests.api.conftest import auth


def _message(conn, farm, device, *, epoch, seq, time, kind="telemetry"):
    conn.execute(
        """INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time, key_epoch)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (uuid.uuid4(), farm, device, kind, seq, time, epoch),
    )


def _reading(conn, farm, device, time):
    conn.execute(
        """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
           VALUES (%s, %s, %s, 'water_flow_l_min', 2.0, 'L/min', %s)""",
        (time, farm, device, uuid.uuid4()),
    )


def _rotated_device_farm(conn, cooperative_id) -> tuple[uuid.UUID, str]:
    """A device whose key was rotated once, with a status message, readings on 3 days and gaps."""
    now = datetime.now(UTC)
    farm = create_farm(conn, name="Rotated farm", cooperative_id=cooperative_id).id
    device = f"gw-{uuid.uuid4().hex[:6]}"
    insert_device(conn, device_id=device, farm_id=farm, public_key=bytes([1]) * 32)
    _message(conn, farm, device, epoch=0, seq=0, time=now - timedelta(days=100))  # outside a 30-day window
    conn.execute(  # an old open gap (seq 1..4), before the window's span of epoch 0
        "INSERT INTO device_gaps (device_id, farm_id, seq_from, seq_to, key_epoch) VALUES (%s, %s, 1, 4, 0)",
        (device, farm),
    )
    _message(conn, farm, device, epoch=0, seq=5, time=now - timedelta(days=4), kind="status")  # no data
    _message(conn, farm, device, epoch=0, seq=6, time=now - timedelta(days=3))
    _message(conn, farm, device, epoch=0, seq=8, time=now - timedelta(days=2))
    conn.execute(
        "INSERT INTO device_gaps (device_id, farm_id, seq_from, seq_to, key_epoch) VALUES (%s, %s, 7, 7, 0)",
        (device, farm),
    )
    rotate_device_key(conn, device_id=device, public_key=bytes([2]) * 32)
    yesterday = now - timedelta(days=1)
    _message(conn, farm, device, epoch=1, seq=0, time=yesterday)
    _message(conn, farm, device, epoch=1, seq=1, time=yesterday)
    for days in (3, 2, 1):
        _reading(conn, farm, device, now - timedelta(days=days))
    rebuild_daily_rollups(conn, farm_ids=[farm])  # rows written by hand, not through the store's writers
    return farm, device


def test_coverage_counts_the_window_per_key_epoch_like_the_credit_record(world):
    """Regression: the route counted every message ever, every open gap ever and days with any message."""
    with psycopg.connect(world["db"]) as conn:
        farm, device = _rotated_device_farm(conn, world["coop_a"])
        conn.commit()
    response = world["client"].get(f"/v1/farms/{farm}/coverage?days=30", headers=auth(world["key_a"]))
    assert response.status_code == 200, response.text
    (row,) = response.json()
    # by hand: in the window epoch 0 has seq 5, 6, 8 (expected 4, 3 stored) and epoch 1 seq 0, 1 (2 of 2):
    # 5 messages of 6 expected, 1 missing (the open gap 7..7; the old gap 1..4 lies before the span);
    # readings on 3 UTC days (the status message carries no data)
    assert row == {
        "device_id": device,
        "status": "active",
        "last_seen_at": None,
        "days_with_data": 3,
        "messages": 5,
        "expected_messages": 6,
        "missing_messages": 1,
        "window_days": 30,
    }
    with psycopg.connect(world["db"]) as conn:
        record = read_farm_record(conn, farm_id=farm, as_of=datetime.now(UTC), window_days=30)
    (coverage,) = record.devices
    assert (coverage.messages, coverage.expected_messages, coverage.missing_messages, coverage.days_with_data) == (
        5,
        6,
        1,
        3,
    )
