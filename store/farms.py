"""Farms and their fields: the one place that inserts them (the demo, the CLI and the API call these).

Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row

from store.errors import StoreError

log = logging.getLogger(__name__)

__all__ = [
    "FarmRow",
    "FieldExistsError",
    "FieldRow",
    "add_field",
    "cooperative_farms",
    "create_farm",
    "farm_exists",
    "get_farm",
    "list_farms",
    "list_fields",
]


class FieldExistsError(StoreError, ValueError):
    """The farm already has a field with that external id (nothing was written)."""


@dataclass(frozen=True, kw_only=True)
class FarmRow:
    """One row of ``farms``."""

    id: UUID
    name: str
    country: str | None
    region: str | None
    declared_herd: dict[str, int]
    cooperative_id: UUID | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class FieldRow:
    """One row of ``fields``: a GeoJSON geometry in EPSG:4326 and what the farmer declared."""

    id: UUID
    farm_id: UUID
    external_id: str | None
    name: str | None
    geometry: dict[str, Any]
    declared_crop: str | None
    declared_area_ha: Decimal | None
    created_at: datetime


_FARM_COLUMNS = "id, name, country, region, declared_herd, cooperative_id, created_at"
_FIELD_COLUMNS = "id, farm_id, external_id, name, geometry, declared_crop, declared_area_ha, created_at"


def create_farm(
    conn: psycopg.Connection,
    *,
    name: str,
    cooperative_id: UUID | None = None,
    country: str | None = None,
    region: str | None = None,
    declared_herd: dict[str, int] | None = None,
    farm_id: UUID | str | None = None,
    exist_ok: bool = False,
) -> FarmRow:
    """Insert a farm (a member of ``cooperative_id`` when given) and return its row.

    ``declared_herd`` is head per species, e.g. ``{"sheep": 10}``. ``farm_id`` picks the id (a new
    uuid otherwise); with ``exist_ok`` an existing farm of that id is returned as it is stored.
    """
    with conn.cursor(row_factory=class_row(FarmRow)) as cur:
        cur.execute(
            f"""INSERT INTO farms (id, cooperative_id, name, country, region, declared_herd)
                VALUES (coalesce(%s::uuid, gen_random_uuid()), %s, %s, %s, %s, %s)
                {"ON CONFLICT (id) DO NOTHING" if exist_ok else ""} RETURNING {_FARM_COLUMNS}""",
            (farm_id, cooperative_id, name, country, region, json.dumps(declared_herd or {})),
        )
        row = cur.fetchone()
    if row is None:  # exist_ok and the farm was there already
        existing = get_farm(conn, farm_id=farm_id) if farm_id is not None else None
        assert existing is not None
        return existing
    log.info("created farm %s (%s)", row.id, name)
    return row


def get_farm(conn: psycopg.Connection, *, farm_id: UUID | str) -> FarmRow | None:
    """The farm ``farm_id``, or None."""
    with conn.cursor(row_factory=class_row(FarmRow)) as cur:
        cur.execute(f"SELECT {_FARM_COLUMNS} FROM farms WHERE id = %s", (farm_id,))
        return cur.fetchone()


def cooperative_farms(conn: psycopg.Connection, *, cooperative_id: UUID) -> list[FarmRow]:
    """The member farms of ``cooperative_id``, by name."""
    with conn.cursor(row_factory=class_row(FarmRow)) as cur:
        cur.execute(f"SELECT {_FARM_COLUMNS} FROM farms WHERE cooperative_id = %s ORDER BY name, id", (cooperative_id,))
        return cur.fetchall()


def list_farms(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID], after: UUID | None = None, limit: int | None = None
) -> list[FarmRow]:
    """The farms of ``farm_ids`` by id, those after ``after`` only when given, at most ``limit``."""
    with conn.cursor(row_factory=class_row(FarmRow)) as cur:
        cur.execute(
            f"""SELECT {_FARM_COLUMNS} FROM farms WHERE id = ANY(%s::uuid[]) AND (%s::uuid IS NULL OR id > %s::uuid)
                ORDER BY id LIMIT %s""",
            ([str(f) for f in farm_ids], after, after, limit),
        )
        return cur.fetchall()


def farm_exists(conn: psycopg.Connection, *, farm_id: UUID) -> bool:
    """Whether a farm has ``farm_id``."""
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM farms WHERE id = %s)", (farm_id,)).fetchone()
    return bool(row and row[0])


def add_field(
    conn: psycopg.Connection,
    *,
    farm_id: UUID,
    geometry: dict[str, Any],
    external_id: str | None = None,
    name: str | None = None,
    declared_crop: str | None = None,
    declared_area_ha: Decimal | None = None,
) -> FieldRow:
    """Insert a field of ``farm_id`` (``geometry`` is a GeoJSON geometry in EPSG:4326) and return its row.

    Raises:
        FieldExistsError: the farm already has a field ``external_id``; the transaction stays usable.
    """
    with conn.cursor(row_factory=class_row(FieldRow)) as cur:
        cur.execute(
            f"""INSERT INTO fields (farm_id, external_id, name, geometry, declared_crop, declared_area_ha)
                VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (farm_id, external_id) DO NOTHING
                RETURNING {_FIELD_COLUMNS}""",
            (farm_id, external_id, name, json.dumps(geometry), declared_crop, declared_area_ha),
        )
        row = cur.fetchone()
    if row is None:
        raise FieldExistsError(f"Farm {farm_id} already has a field {external_id!r}; pick another external id.")
    return row


def list_fields(conn: psycopg.Connection, *, farm_id: UUID | str) -> list[FieldRow]:
    """The fields of ``farm_id`` by external id (then id)."""
    with conn.cursor(row_factory=class_row(FieldRow)) as cur:
        cur.execute(f"SELECT {_FIELD_COLUMNS} FROM fields WHERE farm_id = %s ORDER BY external_id, id", (farm_id,))
        return cur.fetchall()
