"""store.coverage: the one definition of device coverage, against hand-counted data."""

import uuid
from datetime import UTC, date, datetime, timedelta

from store.coverage import device_coverage
from store.farms import create_farm
from store.ingest_devices import insert_device, rotate_device_key

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 3, 11, tzinfo=UTC)


def _at(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def _message(conn, farm, device, *, epoch, seq, time, kind="telemetry"):
    conn.execute(
        """INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time, key_epoch)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (uuid.uuid4(), farm, device, kind, seq, time, epoch),
    )


def _gap(conn, farm, device, *, epoch, seq_from, seq_to, closed=False):
    conn.execute(
        """INSERT INTO device_gaps (device_id, farm_id, seq_from, seq_to, key_epoch, closed_at)
           VALUES (%s, %s, %s, %s, %s, CASE WHEN %s THEN now() END)""",
        (device, farm, seq_from, seq_to, epoch, closed),
    )


def _reading(conn, farm, device, time):
    conn.execute(
        """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
           VALUES (%s, %s, %s, 'water_flow_l_min', 1.0, 'L/min', %s)""",
        (time, farm, device, uuid.uuid4()),
    )


def _count(conn, farm, device, time):
    conn.execute(
        """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method)
           VALUES (%s, %s, %s, 'cam', 'cattle', 3, 'snapshot')""",
        (time, farm, device),
    )


def _device(conn, farm, name):
    device = f"{name}-{uuid.uuid4().hex[:6]}"
    insert_device(conn, device_id=device, farm_id=farm, public_key=bytes([1]) * 32)
    return device


def test_messages_expected_and_missing_are_counted_per_key_epoch_inside_the_window(conn):
    farm = create_farm(conn, name="Coverage farm").id
    d1 = _device(conn, farm, "d1")
    rotate_device_key(conn, device_id=d1, public_key=bytes([2]) * 32)  # the device is now in epoch 1
    # epoch 0: seq 0, 1, 2, 4 in the window (3 never came), seq 9 before it
    for seq, time in ((0, _at(2)), (1, _at(3)), (2, _at(3, 13)), (4, _at(4))):
        _message(conn, farm, d1, epoch=0, seq=seq, time=time)
    _message(conn, farm, d1, epoch=0, seq=9, time=datetime(2026, 2, 20, tzinfo=UTC))
    # epoch 1 restarts at 0: seq 0 and 5 in the window
    _message(conn, farm, d1, epoch=1, seq=0, time=_at(5))
    _message(conn, farm, d1, epoch=1, seq=5, time=_at(6))
    _gap(conn, farm, d1, epoch=0, seq_from=3, seq_to=3)
    _gap(conn, farm, d1, epoch=0, seq_from=10, seq_to=12)  # open, but outside the window's span
    _gap(conn, farm, d1, epoch=1, seq_from=1, seq_to=4, closed=True)
    # d2: seq 0..2 all stored, yet ingest still holds 1..2 open (late arrivals): the gap is the larger
    d2 = _device(conn, farm, "d2")
    for seq in range(3):
        _message(conn, farm, d2, epoch=0, seq=seq, time=_at(7))
    _gap(conn, farm, d2, epoch=0, seq_from=1, seq_to=2)
    idle = _device(conn, farm, "idle")
    other_farm = create_farm(conn, name="Elsewhere").id
    _device(conn, other_farm, "other")

    rows = {r.device_id: r for r in device_coverage(conn, farm_ids=[farm], start=START, end=END)}

    assert set(rows) == {d1, d2, idle}
    # by hand: messages 4 + 2 = 6; expected (4 - 0 + 1) + (5 - 0 + 1) = 11; missing max(11 - 6, 1) = 5
    assert (rows[d1].messages, rows[d1].expected, rows[d1].missing) == (6, 11, 5)
    # d2: 3 messages, expected 3, missing max(0, 2) = 2
    assert (rows[d2].messages, rows[d2].expected, rows[d2].missing) == (3, 3, 2)
    assert (rows[idle].messages, rows[idle].expected, rows[idle].missing, rows[idle].days) == (0, 0, 0, [])
    assert rows[d1].farm_id == farm and rows[d1].status == "active"


def test_a_day_with_data_is_a_utc_day_with_a_reading_or_a_count_of_the_device(conn):
    farm = create_farm(conn, name="Days farm").id
    device = _device(conn, farm, "cam")
    _reading(conn, farm, device, _at(2, 0, 5))
    _reading(conn, farm, device, _at(2, 23, 55))  # the same UTC day
    _reading(conn, farm, device, _at(4))
    _count(conn, farm, device, _at(9, 23, 59))
    _reading(conn, farm, device, datetime(2026, 2, 28, 23, 59, tzinfo=UTC))  # before the window
    _reading(conn, farm, device, END)  # the window's end is excluded
    other_farm = create_farm(conn, name="Other farm").id
    _reading(conn, other_farm, device, _at(6))  # another farm's row naming the device does not count
    _message(conn, farm, device, epoch=0, seq=0, time=_at(8), kind="status")  # a message without data

    (row,) = device_coverage(conn, farm_ids=[farm], start=START, end=END)

    assert row.days == [date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 9)]
    assert (row.messages, row.expected, row.missing) == (1, 1, 0)


def test_devices_of_several_farms_come_by_farm_then_id(conn):
    farms = sorted(create_farm(conn, name=f"F{i}").id for i in range(2))
    devices = [_device(conn, farms[1], "b"), _device(conn, farms[1], "a"), _device(conn, farms[0], "z")]
    rows = device_coverage(conn, farm_ids=farms, start=START, end=END - timedelta(days=1))
    assert [(r.farm_id, r.device_id) for r in rows] == [
        (farms[0], devices[2]),
        (farms[1], devices[1]),
        (farms[1], devices[0]),
    ]
