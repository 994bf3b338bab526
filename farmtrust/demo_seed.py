"""The demo's cast: a cooperative, a lender, member farms with fields and devices."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import psycopg

from edge.keys import DeviceKey

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"


@dataclass(frozen=True)
class DemoDevice:
    """A simulated farm device and its signing key."""

    device_id: str
    key: DeviceKey = field(repr=False)


@dataclass(frozen=True)
class DemoFarm:
    """One member farm: its story in the demo, declared herd, fields and device."""

    farm_id: UUID
    name: str
    story: str
    declared_herd: dict[str, int]
    device: DemoDevice
    field_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoCast:
    """Everyone the demo creates."""

    cooperative_id: UUID
    lender_id: UUID
    admin_id: UUID
    farms: tuple[DemoFarm, ...]


FARMS: tuple[tuple[str, str, dict[str, int]], ...] = (
    ("Wierda sheep farm", "steady herd, good data", {"sheep": 10}),
    ("Hoekstra sheep farm", "herd drops after the decision", {"sheep": 5}),
    ("Bakker mixed farm", "declares far more sheep than its camera sees", {"sheep": 12}),
)


def _org(conn: psycopg.Connection, kind: str, name: str) -> UUID:
    row = conn.execute(
        """INSERT INTO organizations (kind, name) VALUES (%s, %s)
           ON CONFLICT (kind, name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
        (kind, name),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def seed_cast(conn: psycopg.Connection, *, run_tag: str) -> DemoCast:
    """Create the cooperative, lender, admin, farms and devices (``run_tag`` keeps reruns apart)."""
    coop = _org(conn, "cooperative", "Noorderveld Livestock Cooperative")
    lender = _org(conn, "lender", "Harvest Rural Credit")
    admin = _org(conn, "admin", "FarmTrust operations")
    farms = []
    for index, (name, story, herd) in enumerate(FARMS, start=1):
        row = conn.execute(
            """INSERT INTO farms (cooperative_id, name, country, region, declared_herd)
               VALUES (%s, %s, 'NL', 'default', %s) RETURNING id""",
            (coop, name, json.dumps(herd)),
        ).fetchone()
        assert row is not None
        farm_id = UUID(str(row[0]))
        device = DemoDevice(f"demo-{run_tag}-farm{index}-cam", DeviceKey.generate())
        conn.execute(
            "INSERT INTO devices (id, farm_id, public_key) VALUES (%s, %s, %s)",
            (device.device_id, farm_id, device.key.public_raw),
        )
        farms.append(DemoFarm(farm_id, name, story, herd, device))
    return DemoCast(coop, lender, admin, tuple(farms))


def sheep_frames() -> list[tuple[Path, int]]:
    """The demo's real herd photos with their true head count (label lines), fewest animals first."""
    root = DEMO_DATA / "sheep_thermal"
    out = []
    for image in sorted((root / "images").rglob("*.jpg")):
        label = root / "labels" / image.parent.name / f"{image.stem}.txt"
        count = sum(1 for line in label.read_text().splitlines() if line.strip()) if label.exists() else 0
        out.append((image, count))
    return sorted(out, key=lambda item: (item[1], item[0].name))
