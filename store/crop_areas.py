"""Persistence of crop-area estimates, and the estimate for a farm's fields stored in ``fields``.

Functions never commit; the caller owns the transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg

from store.errors import StoreError

if TYPE_CHECKING:
    from remote_sensing.decision import Thresholds
    from remote_sensing.fields import FieldBoundary
    from remote_sensing.result import FieldCropArea
    from remote_sensing.scenes import Scene

log = logging.getLogger(__name__)

__all__ = [
    "FarmFieldsNotFoundError",
    "StoredEstimate",
    "estimate_farm_crop_areas",
    "insert_estimates",
    "latest_estimates",
    "load_farm_fields",
]


class FarmFieldsNotFoundError(StoreError, LookupError):
    """The farm has no fields with a geometry in the ``fields`` table."""


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


def _dec(value: float | None, places: str = "0.0001") -> Decimal | None:
    return None if value is None else Decimal(repr(float(value))).quantize(Decimal(places))


def _ratio(value: float | None) -> Decimal | None:
    # numeric(8, 4) holds at most 9999.9999; a ratio beyond that is meaningless (declared ~ 0).
    return None if value is None else _dec(min(value, 9999.0))


def insert_estimates(
    conn: psycopg.Connection,
    *,
    results: Sequence[FieldCropArea],
    farm_id: UUID | str | None = None,
    season_start: date | None = None,
    season_end: date | None = None,
) -> list[int]:
    """Insert one row per result and return the new ids, in order.

    When ``farm_id`` is given, each row is linked to the ``fields`` row of that farm whose
    ``external_id`` (or id) equals the result's field id.
    """
    ids: list[int] = []
    with conn.cursor() as cur:
        for r in results:
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
                    "ext": r.field_id,
                    "ss": season_start,
                    "se": season_end,
                    "crop": _dec(r.cropped_ha),
                    "grass": _dec(r.grassland_ha),
                    "area": _dec(r.area_ha),
                    "decl": _dec(r.declared_ha),
                    "ratio": _ratio(r.ratio),
                    "low": _ratio(r.ratio_low),
                    "high": _ratio(r.ratio_high),
                    "clear": r.clear_observations,
                    "flags": [str(f) for f in r.flags],
                    "series": json.dumps([p.to_dict() for p in r.series]),
                    "scenes": list(r.scene_ids),
                    "method": r.method_version,
                    "cov": _dec(r.covered_fraction),
                    "unknown": _dec(r.unknown_ha),
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


def load_farm_fields(conn: psycopg.Connection, *, farm_id: UUID | str) -> list[FieldBoundary]:
    """The farm's fields from the ``fields`` table (GeoJSON in EPSG:4326) as field boundaries.

    The field id is ``external_id`` where set, else the row's uuid.

    Raises:
        FarmFieldsNotFoundError: the farm has no fields.
    """
    from remote_sensing.fields import fields_from_geojson

    rows = conn.execute(
        "SELECT coalesce(external_id, id::text), geometry, declared_area_ha, declared_crop "
        "FROM fields WHERE farm_id = %s ORDER BY coalesce(external_id, id::text)",
        (str(farm_id),),
    ).fetchall()
    if not rows:
        raise FarmFieldsNotFoundError(f"Farm {farm_id} has no fields; add fields with a GeoJSON geometry first.")
    return fields_from_geojson(
        {
            "field_id": ext,
            "geometry": geom if isinstance(geom, dict) else json.loads(geom),
            "declared_ha": None if declared is None else float(declared),
            "declared_crop": crop,
        }
        for ext, geom, declared, crop in rows
    )


def estimate_farm_crop_areas(
    conn: psycopg.Connection,
    *,
    farm_id: UUID | str,
    scenes: Sequence[Scene],
    thresholds: Thresholds | None = None,
    season_start: date | None = None,
    season_end: date | None = None,
) -> list[FieldCropArea]:
    """Estimate cropped area for every field of ``farm_id`` from ``scenes`` and store the rows.

    This is the call for the API and the demo: fields come from ``fields``, results go to
    ``crop_area_estimates`` (linked by ``field_id``). The caller commits.

    Raises:
        FarmFieldsNotFoundError: the farm has no fields.
        remote_sensing.errors.SceneError: the scenes cannot be used.
    """
    from remote_sensing.extract import field_stats
    from remote_sensing.scenes import select_season

    fields = load_farm_fields(conn, farm_id=farm_id)
    season = select_season(list(scenes), start=season_start, end=season_end)
    results = field_stats(fields=fields, scenes=season, thresholds=thresholds)
    insert_estimates(conn, results=results, farm_id=farm_id, season_start=season_start, season_end=season_end)
    return results
