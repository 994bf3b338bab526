"""Plain factories that write a small farm's production data with SQL (shapes of migration 0001)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from store.rollups import rebuild_daily_rollups

AS_OF = datetime(2025, 6, 30, tzinfo=UTC)


def make_farm(conn, *, cattle: int = 12, declared: int = 12, days: int = 60, region: str = "nakuru") -> str:
    farm = conn.execute(
        "INSERT INTO farms (name, region, declared_herd) VALUES ('Test farm', %s, %s::jsonb) RETURNING id",
        (region, json.dumps({"cattle": declared})),
    ).fetchone()[0]
    device = f"cam-{uuid.uuid4().hex[:8]}"
    conn.execute("INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)", (device, farm, bytes(32)))
    rows, readings = [], []
    for d in range(days):
        t = AS_OF - timedelta(days=d + 1) + timedelta(hours=10)
        for k, n in enumerate((cattle - 1, cattle, cattle - 2)):
            rows.append(
                (t + timedelta(hours=k), farm, device, "cam", "cattle", n, "snapshot", f"{(d * 7919 + k):016x}")
            )
        for h in range(0, 24, 2):
            readings.append(
                (
                    t + timedelta(hours=h - 10),
                    farm,
                    device,
                    "water_flow_l_min",
                    0.4 + 0.01 * (h % 5),
                    "L/min",
                    uuid.uuid4(),
                )
            )
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method, phash)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
        cur.executemany(
            """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            readings,
        )
        # the ingest ledger: one signed message per reading, in sequence (as ingest would have stored them)
        cur.executemany(
            """INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time)
               VALUES (%s, %s, %s, 'telemetry', %s, %s)""",
            [(r[6], farm, device, seq, r[0]) for seq, r in enumerate(sorted(readings, key=lambda r: r[0]))],
        )
    rebuild_daily_rollups(conn, farm_ids=[farm])  # rows written by hand, not through the store's writers
    conn.execute(
        """INSERT INTO fields (farm_id, external_id, geometry, declared_crop, declared_area_ha)
           VALUES (%s, 'F1', %s::jsonb, 'maize', 1.5)""",
        (
            farm,
            json.dumps(
                {"type": "Polygon", "coordinates": [[[36.0, -0.3], [36.01, -0.3], [36.01, -0.29], [36.0, -0.3]]]}
            ),
        ),
    )
    conn.execute(
        """INSERT INTO coop_deliveries (farm_id, delivered_on, product, quantity, unit, amount, currency)
           VALUES (%s, %s, 'milk', 300, 'L', 15000, 'KES')""",
        (farm, (AS_OF - timedelta(days=5)).date()),
    )
    return str(farm)
