"""Seed the demo's cast: a cooperative, a lender, an admin, member farms with signed devices and real fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from edge.keys import DeviceKey
from store.farms import add_field, create_farm
from store.ingest_devices import insert_device
from store.tenants import create_api_key, create_organization, grant_consent
from vocabulary.cameras import CameraProfile

__all__ = [
    "CONSENT_DAYS",
    "CROP_OF",
    "FARMS",
    "MIN_PARCEL_HA",
    "OVERSTATED_AREA_FACTOR",
    "DemoCast",
    "DemoDevice",
    "DemoFarm",
    "DemoParcel",
    "DemoSeed",
    "seed_cast",
    "seed_demo",
    "seed_fields",
]

FARMS: tuple[tuple[str, str, dict[str, int]], ...] = (
    ("Wierda sheep farm", "steady herd, good data", {"sheep": 10}),
    ("Hoekstra sheep farm", "herd drops after the decision", {"sheep": 5}),
    ("Bakker mixed farm", "declares far more sheep than its camera sees", {"sheep": 12}),
)
"""Name, story and declared herd of each member farm."""

CROP_OF = {"Maize": "maize", "Potatoes": "potato", "Permanent grass crops": "grass", "Other leguminous crops": "beans"}
"""Flemish LPIS crop names -> the credit policy's crops (absent: no crop of the policy, not valued)."""

MIN_PARCEL_HA = Decimal("0.2")
"""Parcels smaller than this are left out (a handful of 10 m pixels say little)."""

OVERSTATED_AREA_FACTOR = Decimal("1.6")
"""The third farm declares its fields 60 % larger than they are."""

CONSENT_DAYS = 90
"""How long each farmer lets the demo's lender see their record."""


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


@dataclass(frozen=True, kw_only=True)
class DemoParcel:
    """A reference parcel the demo hands to a farm as a field (geometry: GeoJSON, EPSG:4326)."""

    parcel_id: str
    crop_name: str
    area_ha: Decimal
    geometry: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class DemoSeed:
    """The seeded cast, the number of fields, and one API key per role (tokens shown once)."""

    cast: DemoCast
    fields: int
    api_keys: dict[str, str]


def seed_cast(conn: psycopg.Connection, *, run_tag: str) -> DemoCast:
    """Create the cooperative, lender, admin, farms and their devices (``run_tag`` keeps reruns' devices apart)."""
    coop = create_organization(conn, kind="cooperative", name="Noorderveld Livestock Cooperative")
    lender = create_organization(conn, kind="lender", name="Harvest Rural Credit")
    admin = create_organization(conn, kind="admin", name="FarmTrust operations")
    farms = []
    for index, (name, story, herd) in enumerate(FARMS, start=1):
        farm = create_farm(conn, name=name, cooperative_id=coop, country="NL", region="default", declared_herd=herd)
        device = DemoDevice(f"demo-{run_tag}-farm{index}-cam", DeviceKey.generate())
        insert_device(  # the demo's photos are thermal drone shots of sheep: aerial cameras
            conn,
            device_id=device.device_id,
            farm_id=farm.id,
            public_key=device.key.public_raw,
            replace=True,
            camera_profile=CameraProfile.AERIAL.value,
        )
        farms.append(DemoFarm(farm.id, name, story, herd, device))
    return DemoCast(coop, lender, admin, tuple(farms))


def seed_fields(conn: psycopg.Connection, *, cast: DemoCast, parcels: Sequence[DemoParcel]) -> int:
    """Deal the parcels of at least ``MIN_PARCEL_HA`` to the farms in turn; return how many fields were added.

    The third farm declares each of its fields ``OVERSTATED_AREA_FACTOR`` times its real area.
    """
    kept = [p for p in parcels if p.area_ha >= MIN_PARCEL_HA]
    for index, parcel in enumerate(kept):
        farm = cast.farms[index % len(cast.farms)]
        area = parcel.area_ha
        if len(cast.farms) > 2 and farm is cast.farms[2]:
            area = (area * OVERSTATED_AREA_FACTOR).quantize(Decimal("0.0001"))
        add_field(
            conn,
            farm_id=farm.farm_id,
            external_id=parcel.parcel_id,
            name=f"{parcel.crop_name} #{parcel.parcel_id}",
            geometry=parcel.geometry,
            declared_crop=CROP_OF.get(parcel.crop_name),
            declared_area_ha=area,
        )
    return len(kept)


def seed_demo(conn: psycopg.Connection, *, run_tag: str, parcels: Sequence[DemoParcel], now: datetime) -> DemoSeed:
    """Seed the cast and fields, let the lender see every farm for ``CONSENT_DAYS``, and make an API key per role."""
    cast = seed_cast(conn, run_tag=run_tag)
    fields = seed_fields(conn, cast=cast, parcels=parcels)
    for farm in cast.farms:
        grant_consent(
            conn,
            farm_id=farm.farm_id,
            lender_id=cast.lender_id,
            granted_by=cast.cooperative_id,
            expires_at=now + timedelta(days=CONSENT_DAYS),
        )
    keys = {
        role: create_api_key(conn, organization_id=org, label="demo")[1]
        for role, org in (("cooperative", cast.cooperative_id), ("lender", cast.lender_id), ("admin", cast.admin_id))
    }
    return DemoSeed(cast=cast, fields=fields, api_keys=keys)
