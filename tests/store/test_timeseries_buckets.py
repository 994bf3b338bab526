from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta


def test_daily_buckets_with_date_bin_work_on_both_backends(conn):
    farm = uuid.uuid4()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY sensor_readings (time, farm_id, device_id, metric, value, unit, message_id) FROM STDIN"
        ) as cp:
            for hour in range(72):
                cp.write_row(
                    (
                        start + timedelta(hours=hour),
                        farm,
                        "d1",
                        "water_flow",
                        float(hour % 24),
                        "L/min",
                        uuid.uuid4(),
                    )
                )
    rows = conn.execute(
        "SELECT date_bin('1 day', time, '2000-01-01'::timestamptz) AS day, count(*), max(value) "
        "FROM sensor_readings WHERE farm_id = %s GROUP BY day ORDER BY day",
        (farm,),
    ).fetchall()
    assert [r[1] for r in rows] == [24, 24, 24]
    assert [r[2] for r in rows] == [23.0, 23.0, 23.0]
    assert rows[0][0] == start
