"""A cooperative's member farms: list and create farms, add fields, grant lenders consent.

Tenancy is the caller's: the API checks that the caller may see or change the farm (``store.tenants``)
before it calls these; the use cases check what the data must satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from store.farms import FarmRow, FieldRow, add_field, create_farm, get_farm, list_farms, list_fields
from store.tenants import Principal, grant_consent, visible_farm_ids
from usecases.errors import FarmNotFoundError

__all__ = [
    "FarmPage",
    "add_farm_field",
    "create_member_farm",
    "farm_fields",
    "grant_lender_consent",
    "load_farm",
    "visible_farms",
]


@dataclass(frozen=True)
class FarmPage:
    """One page of the farms a caller may see: the rows, how many there are in all, whether more follow."""

    farms: list[FarmRow]
    total: int
    has_more: bool


def visible_farms(
    conn: psycopg.Connection, *, principal: Principal, after: UUID | None = None, limit: int = 50
) -> FarmPage:
    """The farms ``principal`` may see with the ``records`` scope, by id, after ``after``, ``limit`` at a time."""
    ids = visible_farm_ids(conn, principal=principal, scope="records")
    rows = list_farms(conn, farm_ids=ids, after=after, limit=limit + 1)
    return FarmPage(rows[:limit], len(ids), len(rows) > limit)


def load_farm(conn: psycopg.Connection, *, farm_id: UUID) -> FarmRow:
    """The farm ``farm_id``.

    Raises:
        FarmNotFoundError: no farm has ``farm_id``.
    """
    farm = get_farm(conn, farm_id=farm_id)
    if farm is None:
        raise FarmNotFoundError(f"Farm {farm_id} does not exist.")
    return farm


def create_member_farm(
    conn: psycopg.Connection,
    *,
    cooperative_id: UUID,
    name: str,
    country: str | None = None,
    region: str | None = None,
    declared_herd: dict[str, int] | None = None,
) -> FarmRow:
    """Add a member farm to the cooperative ``cooperative_id``."""
    return create_farm(
        conn, cooperative_id=cooperative_id, name=name, country=country, region=region, declared_herd=declared_herd
    )


def add_farm_field(
    conn: psycopg.Connection,
    *,
    farm_id: UUID,
    geometry: dict[str, Any],
    external_id: str | None = None,
    name: str | None = None,
    declared_crop: str | None = None,
    declared_area_ha: Decimal | None = None,
) -> FieldRow:
    """Add a field (GeoJSON geometry in EPSG:4326) to the farm and return it as stored.

    Raises:
        store.farms.FieldExistsError: the farm already has a field ``external_id``.
    """
    return add_field(
        conn,
        farm_id=farm_id,
        geometry=geometry,
        external_id=external_id,
        name=name,
        declared_crop=declared_crop,
        declared_area_ha=declared_area_ha,
    )


def farm_fields(conn: psycopg.Connection, *, farm_id: UUID) -> list[FieldRow]:
    """The farm's fields by external id."""
    return list_fields(conn, farm_id=farm_id)


def grant_lender_consent(
    conn: psycopg.Connection,
    *,
    farm_id: UUID,
    lender_id: UUID,
    cooperative_id: UUID,
    expires_at: datetime,
    scope: tuple[str, ...],
) -> UUID:
    """Let ``lender_id`` see the member farm until ``expires_at`` within ``scope``; return the consent's id.

    Raises:
        store.tenants.TenantError: the farm is not a member of ``cooperative_id``, or the lender does not exist.
    """
    return grant_consent(
        conn, farm_id=farm_id, lender_id=lender_id, granted_by=cooperative_id, expires_at=expires_at, scope=scope
    )
