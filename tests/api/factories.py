"""Plain factories for API tests: organizations with keys, and a member farm with 60 days of device data."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta

from store.rollups import rebuild_daily_rollups
from store.tenants import create_api_key, create_organization


def org_with_key(conn, kind: str, name: str | None = None) -> tuple[uuid.UUID, str]:
    org = create_organization(conn, kind=kind, name=name or f"{kind}-{uuid.uuid4().hex[:6]}")
    return org, create_api_key(conn, organization_id=org)[1]


def farm_with_data(conn, *, cooperative_id: uuid.UUID, cattle: int = 12, days: int = 60) -> uuid.UUID:
    """A member farm whose camera counted ``cattle`` head daily and whose water meter ran for ``days`` days."""
    now = datetime.now(UTC)
    farm = conn.execute(
        """INSERT INTO farms (cooperative_id, name, region, declared_herd) VALUES (%s, 'Data farm', 'nakuru', %s)
           RETURNING id""",
        (cooperative_id, json.dumps({"cattle": cattle})),
    ).fetchone()[0]
    device = f"cam-{uuid.uuid4().hex[:8]}"
    conn.execute("INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)", (device, farm, bytes(32)))
    counts, readings = [], []
    rng = random.Random(str(farm))
    for d in range(days):
        t = (now - timedelta(days=d + 1)).replace(hour=10, minute=0, second=0, microsecond=0)
        phash = f"{rng.getrandbits(64):016x}"  # a different photo every day
        counts.append((t, farm, device, "cam", "cattle", cattle, "snapshot", phash))
        for h in range(0, 24, 2):
            flow = round(cattle * 60 / 1440 * (1 + rng.uniform(-0.1, 0.1)), 4)  # about 60 L/head/day, never flat
            readings.append(
                (t + timedelta(hours=h - 10), farm, device, "water_flow_l_min", flow, "L/min", uuid.uuid4())
            )
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO livestock_counts (time, farm_id, device_id, camera_id, species, count, method, phash)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            counts,
        )
        cur.executemany(
            """INSERT INTO sensor_readings (time, farm_id, device_id, metric, value, unit, message_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            readings,
        )
        cur.executemany(
            """INSERT INTO ingest_messages (message_id, farm_id, device_id, kind, seq, device_time)
               VALUES (%s, %s, %s, 'telemetry', %s, %s)""",
            [(r[6], farm, device, seq, r[0]) for seq, r in enumerate(sorted(readings, key=lambda r: r[0]))],
        )
    rebuild_daily_rollups(conn, farm_ids=[farm])  # rows written by hand, not through the store's writers
    return farm


SQUARE = {"type": "Polygon", "coordinates": [[[3.0, 50.8], [3.01, 50.8], [3.01, 50.81], [3.0, 50.81], [3.0, 50.8]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[3.0, 50.8], [3.01, 50.81], [3.01, 50.8], [3.0, 50.81], [3.0, 50.8]]]}
