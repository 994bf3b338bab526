"""Estimate the cropped area of a farm's fields from satellite scenes, and store estimates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

import psycopg

from store.crop_areas import NewEstimate, farm_field_geometries, insert_estimates
from usecases.errors import FarmFieldsNotFoundError

if TYPE_CHECKING:
    from remote_sensing.decision import Thresholds
    from remote_sensing.fields import FieldBoundary
    from remote_sensing.result import FieldCropArea
    from remote_sensing.scenes import Scene

__all__ = ["estimate_farm_crop_areas", "farm_fields", "new_estimate", "record_crop_areas"]


def farm_fields(conn: psycopg.Connection, *, farm_id: UUID | str) -> list[FieldBoundary]:
    """The farm's fields from the ``fields`` table as field boundaries (EPSG:4326).

    Raises:
        FarmFieldsNotFoundError: the farm has no fields.
    """
    from remote_sensing.fields import fields_from_geojson

    rows = farm_field_geometries(conn, farm_id=farm_id)
    if not rows:
        raise FarmFieldsNotFoundError(f"Farm {farm_id} has no fields; add fields with a GeoJSON geometry first.")
    return fields_from_geojson(
        {
            "field_id": row.field_id,
            "geometry": row.geometry,
            "declared_ha": None if row.declared_area_ha is None else float(row.declared_area_ha),
            "declared_crop": row.declared_crop,
        }
        for row in rows
    )


def new_estimate(result: FieldCropArea) -> NewEstimate:
    """The row to store for one field's result."""
    return NewEstimate(
        external_field_id=result.field_id,
        area_ha=result.area_ha,
        cropped_ha=result.cropped_ha,
        grassland_ha=result.grassland_ha,
        unknown_ha=result.unknown_ha,
        covered_fraction=result.covered_fraction,
        declared_ha=result.declared_ha,
        ratio=result.ratio,
        ratio_low=result.ratio_low,
        ratio_high=result.ratio_high,
        clear_observations=result.clear_observations,
        flags=tuple(str(f) for f in result.flags),
        ndvi_series=tuple(p.to_dict() for p in result.series),
        scene_ids=tuple(result.scene_ids),
        method_version=result.method_version,
    )


def record_crop_areas(
    conn: psycopg.Connection,
    *,
    results: Sequence[FieldCropArea],
    farm_id: UUID | str | None = None,
    season_start: date | None = None,
    season_end: date | None = None,
) -> list[int]:
    """Store one estimate per result (linked to the farm's field of the same id when ``farm_id`` is given).

    Returns the new estimate ids, in the order of ``results``.
    """
    return insert_estimates(
        conn,
        estimates=[new_estimate(r) for r in results],
        farm_id=farm_id,
        season_start=season_start,
        season_end=season_end,
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
    """Estimate cropped area for every field of ``farm_id`` from the season's ``scenes`` and store the rows.

    Fields come from ``fields``; results go to ``crop_area_estimates``, linked by ``field_id``.

    Raises:
        FarmFieldsNotFoundError: the farm has no fields.
        remote_sensing.errors.SceneError: no scene falls in the season, or the scenes cannot be used.
    """
    from remote_sensing.extract import field_stats
    from remote_sensing.scenes import select_season

    fields = farm_fields(conn, farm_id=farm_id)
    season = select_season(list(scenes), start=season_start, end=season_end)
    results = field_stats(fields=fields, scenes=season, thresholds=thresholds)
    record_crop_areas(conn, results=results, farm_id=farm_id, season_start=season_start, season_end=season_end)
    return results
