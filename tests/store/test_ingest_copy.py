"""The hand-encoded binary COPY of readings round-trips exactly through PostgreSQL."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from edge.protocol import TelemetryMessage
from store.ingest_copy import READINGS_COPY_SQL, encode_readings


def message(readings, device_id="barn-1"):
    return TelemetryMessage.model_validate_json(
        json.dumps(
            {
                "schema_version": 1,
                "message_id": str(uuid.uuid4()),
                "farm_id": str(uuid.uuid4()),
                "device_id": device_id,
                "seq": 0,
                "device_time": datetime.now(UTC).isoformat(),
                "signature": "A" * 88,
                "kind": "telemetry",
                "body": {"readings": readings},
            }
        )
    )


def test_binary_copy_round_trips_times_values_text_and_ids(conn):
    readings = [
        {
            "metric": "barn_temperature_c",
            "value": -12.345678901234,
            "unit": "degC",
            "time": "1999-12-31T23:59:59.999999Z",
        },
        {"metric": "humidity_pct", "value": 100.0, "unit": "%", "time": "2026-05-01T12:00:00.000001+02:00"},
        {"metric": "gps_lon_deg", "value": 4.3517103, "unit": "°", "time": "2026-05-01T12:00:00Z"},  # UTF-8 text
    ]
    msgs = [message(readings), message(readings[:1], device_id="d2")]
    data, rows = encode_readings(msgs)
    assert rows == 4
    with conn.cursor().copy(READINGS_COPY_SQL) as copy:
        copy.write(data)
    got = conn.execute(
        "SELECT time, farm_id, device_id, metric, value, unit, message_id FROM sensor_readings "
        "WHERE message_id = ANY(%s) ORDER BY device_id, time",
        ([m.message_id for m in msgs],),
    ).fetchall()
    expected = sorted(
        [
            (r.time, m.farm_id, m.device_id, r.metric, r.value, r.unit, m.message_id)
            for m in msgs
            for r in m.body.readings
        ],
        key=lambda row: (row[2], row[0]),
    )
    assert got == expected
