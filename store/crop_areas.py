"""Persistence of crop-area estimates and the reads of fields that remote sensing needs.

Queries only: the estimate itself is computed in :mod:`usecases.crop_areas` with ``remote_sensing``.
Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import class_row

log = logging.getLogger(__name__)

__all__ = [
    "FarmFieldGeometry",
    "FieldCropAreaRow",
    "NewEstimate",
    "StoredEstimate",
    "farm_field_geometries",
    "field_crop_areas",
    "insert_estimates",
    "latest_estimates",
]


@dataclass(frozen=True, kw_only=True)
class NewEstimate:
    """One estimate to store: the observed areas of one field over a season (hectares, ratios 0..).

    Values are stored at the columns' precision (4 decimals); a ratio above 9999 is stored as 9999.
    """

    external_field_id: str
    area_ha: float
    cropped_ha: float | None
    grassland_ha: float | None
    unknown_ha: float | None
    covered_fraction: float
    declared_ha: float | None
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    clear_observations: int
    flags: tuple[str, ...] = ()
    ndvi_series: tuple[dict[str, Any], ...] = ()
    scene_ids: tuple[str, ...] = ()
    method_version: str


@dataclass(frozen=True, kw_only=True)
class StoredEstimate:
    """One row of ``crop_area_estimates`` as read back."""

    id: int
    field_id: UUID | None
    farm_id: UUID | None
    external_field_id: str | None
    estimated_at: datetime
    season_start: date | None
    season_end: date | None
    cropped_ha: Decimal | None
    grassland_ha: Decimal | None
    area_ha: Decimal
    declared_ha: Decimal | None
    ratio: Decimal | None
    ratio_low: Decimal | None
    ratio_high: Decimal | None
    clear_observations: int
    flags: tuple[str, ...]
    ndvi_series: list[dict[str, Any]]
    scene_ids: tuple[str, ...]
    method_version: str


@dataclass(frozen=True, kw_only=True)
class FarmFieldGeometry:
    """A field of a farm as remote sensing reads it: id, GeoJSON geometry (EPSG:4326) and declarations.

    ``field_id`` is the field's ``external_id`` where set, else its uuid as text.
    """

    field_id: str
    geometry: dict[str, Any]
    declared_area_ha: Decimal | None
    declared_crop: str | None


@dataclass(frozen=True, kw_only=True)
class FieldCropAreaRow:
    """A field next to its latest crop-area estimate (estimate columns are None when it has none)."""

    field_id: UUID
    farm_id: UUID
    external_id: str | None
    name: str | None
    geometry: dict[str, Any]
    declared_crop: str | None
    declared_area_ha: Decimal | None
    cropped_ha: Decimal | None
    grassland_ha: Decimal | None
    area_ha: Decimal | None
    ratio: Decimal | None
    ratio_low: Decimal | None
    ratio_high: Decimal | None
    clear_observations: int | None
    flags: list[str]
    ndvi_series: list[dict[str, Any]]
    estimated_at: datetime | None
    method_version: str | None


def _dec(value: float | None, places: str = "0.0001") -> Decimal | None:
    return None if value is None else Decimal(repr(float(value))).quantize(Decimal(places))


def _ratio(value: float | None) -> Decimal | None:
    # numeric(8, 4) holds at most 9999.9999; a ratio beyond that is meaningless (declared ~ 0).
    return None if value is None else _dec(min(value, 9999.0))


def insert_estimates(
    conn: psycopg.Connection,
    *,
    estimates: Sequence[NewEstimate],
    farm_id: UUID | str | None = None,
    season_start: date | None = None,
    season_end: date | None = None,
) -> list[int]:
    """Insert one row per estimate and return the new ids, in order.

    When ``farm_id`` is given, each row is linked to the ``fields`` row of that farm whose
    ``external_id`` (or id) equals the estimate's ``external_field_id``.
    """
    ids: list[int] = []
    with conn.cursor() as cur:
        for e in estimates:
            cur.execute(
                """
                INSERT INTO crop_area_estimates (
                    field_id, farm_id, external_field_id, season_start, season_end, cropped_ha, grassland_ha,
                    area_ha, declared_ha, ratio, ratio_low, ratio_high, clear_observations, flags, ndvi_series,
                    scene_ids, method_version, covered_fraction, unknown_ha)
                VALUES (
                    (SELECT id FROM fields WHERE farm_id = %(farm)s
                        AND (external_id = %(ext)s OR id::text = %(ext)s) LIMIT 1),
                    %(farm)s, %(ext)s, %(ss)s, %(se)s, %(crop)s, %(grass)s, %(area)s, %(decl)s, %(ratio)s,
                    %(low)s, %(high)s, %(clear)s, %(flags)s, %(series)s, %(scenes)s, %(method)s, %(cov)s, %(unknown)s)
                RETURNING id
                """,
                {
                    "farm": str(farm_id) if farm_id else None,
                    "ext": e.external_field_id,
                    "ss": season_start,
                    "se": season_end,
                    "crop": _dec(e.cropped_ha),
                    "grass": _dec(e.grassland_ha),
                    "area": _dec(e.area_ha),
                    "decl": _dec(e.declared_ha),
                    "ratio": _ratio(e.ratio),
                    "low": _ratio(e.ratio_low),
                    "high": _ratio(e.ratio_high),
                    "clear": e.clear_observations,
                    "flags": list(e.flags),
                    "series": json.dumps(list(e.ndvi_series)),
                    "scenes": list(e.scene_ids),
                    "method": e.method_version,
                    "cov": _dec(e.covered_fraction),
                    "unknown": _dec(e.unknown_ha),
                },
            )
            row = cur.fetchone()
            assert row is not None  # RETURNING always yields a row
            ids.append(int(row[0]))
    log.info("Stored %d crop-area estimate(s) for farm %s", len(ids), farm_id)
    return ids


_COLUMNS = (
    "id, field_id, farm_id, external_field_id, estimated_at, season_start, season_end, cropped_ha, grassland_ha, "
    "area_ha, declared_ha, ratio, ratio_low, ratio_high, clear_observations, flags, ndvi_series, scene_ids, "
    "method_version"
)


def latest_estimates(conn: psycopg.Connection, *, farm_id: UUID | str) -> list[StoredEstimate]:
    """The most recent estimate of each field of ``farm_id``, ordered by external field id."""
    rows = conn.execute(
        f"""
        SELECT DISTINCT ON (external_field_id) {_COLUMNS}
        FROM crop_area_estimates WHERE farm_id = %s
        ORDER BY external_field_id, estimated_at DESC, id DESC
        """,
        (str(farm_id),),
    ).fetchall()
    return [
        StoredEstimate(
            id=row[0],
            field_id=row[1],
            farm_id=row[2],
            external_field_id=row[3],
            estimated_at=row[4],
            season_start=row[5],
            season_end=row[6],
            cropped_ha=row[7],
            grassland_ha=row[8],
            area_ha=row[9],
            declared_ha=row[10],
            ratio=row[11],
            ratio_low=row[12],
            ratio_high=row[13],
            clear_observations=row[14],
            flags=tuple(row[15]),
            ndvi_series=row[16],
            scene_ids=tuple(row[17]),
            method_version=row[18],
        )
        for row in rows
    ]


def farm_field_geometries(conn: psycopg.Connection, *, farm_id: UUID | str) -> list[FarmFieldGeometry]:
    """The farm's fields with their geometry and declarations, ordered by field id (empty when it has none)."""
    with conn.cursor(row_factory=class_row(FarmFieldGeometry)) as cur:
        cur.execute(
            """SELECT coalesce(external_id, id::text) AS field_id, geometry, declared_area_ha, declared_crop
               FROM fields WHERE farm_id = %s ORDER BY 1""",
            (str(farm_id),),
        )
        return cur.fetchall()


def field_crop_areas(
    conn: psycopg.Connection, *, farm_ids: Sequence[UUID | str], estimated_before: datetime | None = None
) -> list[FieldCropAreaRow]:
    """Every field of ``farm_ids`` with its latest estimate (by ``estimated_at``, then id), by farm and external id.

    Only estimates made before ``estimated_before`` count when it is given (a credit record's as-of).
    The one latest-estimate-per-field query: the API's crop areas, the dashboard, the credit record and
    the demo's report read it.
    """
    with conn.cursor(row_factory=class_row(FieldCropAreaRow)) as cur:
        cur.execute(
            """SELECT f.id AS field_id, f.farm_id, f.external_id, f.name, f.geometry, f.declared_crop,
                      f.declared_area_ha, e.cropped_ha, e.grassland_ha, e.area_ha, e.ratio, e.ratio_low, e.ratio_high,
                      e.clear_observations, coalesce(e.flags, '{}') AS flags,
                      coalesce(e.ndvi_series, '[]'::jsonb) AS ndvi_series, e.estimated_at, e.method_version
               FROM fields f LEFT JOIN LATERAL (
                   SELECT * FROM crop_area_estimates c
                   WHERE c.field_id = f.id AND (%(before)s::timestamptz IS NULL OR c.estimated_at < %(before)s)
                   ORDER BY c.estimated_at DESC, c.id DESC LIMIT 1) e ON true
               WHERE f.farm_id = ANY(%(farms)s::uuid[]) ORDER BY f.farm_id, f.external_id, f.id""",
            {"farms": [str(f) for f in farm_ids], "before": estimated_before},
        )
        return cur.fetchall()
