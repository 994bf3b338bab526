import uuid

from store.ingest_devices import ensure_farm
from store.messages import count_messages


def _message(conn, farm, device, kind, seq):
    conn.execute(
        "INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time) "
        "VALUES (%s, %s, %s, %s, %s, now())",
        (uuid.uuid4(), farm, device, kind, seq),
    )


def test_count_messages_of_some_devices_without_status(conn):
    farm = uuid.uuid4()
    ensure_farm(conn, farm_id=farm, name="messages farm")
    a, b, c = (f"dev-{uuid.uuid4().hex[:8]}" for _ in range(3))
    for seq, kind in enumerate(("telemetry", "frame", "status", "count")):
        _message(conn, farm, a, kind, seq)
    _message(conn, farm, b, "telemetry", 0)
    _message(conn, farm, c, "telemetry", 0)
    assert count_messages(conn, device_ids=[a, b]) == 4  # a: 3 of 4 (status left out), b: 1
    assert count_messages(conn, device_ids=[a], exclude_kinds=()) == 4
    assert count_messages(conn, device_ids=[a], exclude_kinds=("status", "frame")) == 2
    assert count_messages(conn, device_ids=[]) == 0
