"""Field boundaries from any vector file geopandas reads, or from GeoJSON geometries (EPSG:4326).

Geometries are repaired with ``make_valid`` (and the repair is reported on the field), and each
:class:`FieldBoundary` carries its CRS. GeoDataFrames stay inside this module and the extractor.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from remote_sensing.errors import FieldsError

__all__ = ["FieldBoundary", "fields_from_geojson", "geometries_in_crs", "read_fields"]

log = logging.getLogger(__name__)

_DECLARED_AREA_COLUMNS = ("declared_ha", "declared_area_ha")
_DECLARED_CROP_COLUMNS = ("declared_crop", "crop")


@dataclass(frozen=True, kw_only=True)
class FieldBoundary:
    """One field: its id, polygon (in ``crs``) and what the farmer declared.

    Attributes:
        field_id: the farmer's or registry's id (text).
        geometry: polygon or multipolygon in ``crs``; empty when the input had no usable geometry.
        crs: the CRS of ``geometry`` as an authority string or WKT (e.g. ``EPSG:4326``).
        declared_ha: declared area in hectares, or None.
        declared_crop: declared crop, or None.
        repaired: True when the input geometry was invalid and was repaired with ``make_valid``.
    """

    field_id: str
    geometry: BaseGeometry
    crs: str
    declared_ha: float | None = None
    declared_crop: str | None = None
    repaired: bool = False


def _polygonal(geom: BaseGeometry | None) -> tuple[BaseGeometry, bool]:
    """Return (polygonal geometry, repaired?) — invalid input repaired, non-polygon parts dropped."""
    if geom is None or geom.is_empty:
        return shapely.Polygon(), False
    repaired = False
    if not geom.is_valid:
        geom, repaired = shapely.make_valid(geom), True
    if geom.geom_type == "GeometryCollection":
        parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        geom = shapely.union_all(parts) if parts else shapely.Polygon()
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return shapely.Polygon(), repaired
    return geom, repaired


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN -> None


def _crs_text(crs: Any) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def read_fields(
    path: Path,
    *,
    id_field: str | None = None,
    declared_area_field: str | None = None,
    declared_crop_field: str | None = None,
) -> list[FieldBoundary]:
    """Read field boundaries from ``path`` (GeoJSON, GeoPackage, Shapefile, GeoParquet, ...).

    Args:
        path: the vector file.
        id_field: column holding the field id; default ``field_id``, else ``id``, else the feature id.
        declared_area_field: column with the declared area in ha; default ``declared_ha``/``declared_area_ha``.
        declared_crop_field: column with the declared crop; default ``declared_crop``/``crop``.

    Raises:
        FieldsError: the file is missing or unreadable, has no CRS, lacks a named column, or repeats an id.
    """
    import geopandas as gpd

    if not path.exists():
        raise FieldsError(f"--fields {path} does not exist; pass a GeoJSON, GeoPackage, Shapefile or GeoParquet file.")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path, fid_as_index=True)
    except Exception as exc:  # pyogrio/arrow raise many types for unreadable files
        raise FieldsError(f"--fields {path} cannot be read as vector data ({exc}); check the file format.") from None
    if frame.crs is None:
        raise FieldsError(
            f"--fields {path} has no CRS; add one (e.g. a .prj file, or `ogr2ogr -a_srs EPSG:4326 out.gpkg in.shp`)."
        )
    columns = [c for c in frame.columns if c != frame.geometry.name]
    for option, name in (
        ("--id-field", id_field),
        ("--declared-area-field", declared_area_field),
        ("--declared-crop-field", declared_crop_field),
    ):
        if name is not None and name not in frame.columns:
            raise FieldsError(
                f"{option} {name!r} is not a column of {path}; columns are: {', '.join(columns) or 'none'}."
            )
    id_col = id_field or next((c for c in ("field_id", "id") if c in frame.columns), None)
    area_col = declared_area_field or next((c for c in _DECLARED_AREA_COLUMNS if c in frame.columns), None)
    crop_col = declared_crop_field or next((c for c in _DECLARED_CROP_COLUMNS if c in frame.columns), None)
    ids = [str(v) for v in (frame[id_col] if id_col else frame.index)]
    seen: set[str] = set()
    duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
    if duplicates:
        raise FieldsError(
            f"--fields {path}: field id(s) {', '.join(duplicates[:5])} appear more than once in "
            f"{id_col or 'the feature ids'}; choose a unique column with --id-field."
        )
    crs = _crs_text(frame.crs)
    out = []
    for i, (field_id, geom) in enumerate(zip(ids, frame.geometry, strict=True)):
        polygon, repaired = _polygonal(geom)
        if repaired:
            log.warning("Field %s in %s had an invalid geometry; repaired with make_valid", field_id, path)
        crop = frame[crop_col].iloc[i] if crop_col else None
        out.append(
            FieldBoundary(
                field_id=field_id,
                geometry=polygon,
                crs=crs,
                declared_ha=_number(frame[area_col].iloc[i]) if area_col else None,
                declared_crop=None if crop is None or crop != crop else str(crop),
                repaired=repaired,
            )
        )
    log.info("Read %d field(s) from %s (CRS %s)", len(out), path, crs)
    return out


def fields_from_geojson(records: Iterable[dict[str, Any]]) -> list[FieldBoundary]:
    """Build fields from dicts with ``field_id``, ``geometry`` (GeoJSON, EPSG:4326) and optional declarations.

    Each record may carry ``declared_ha`` and ``declared_crop``; this is the shape of the ``fields`` table.
    """
    out = []
    for record in records:
        geometry = record.get("geometry")
        polygon, repaired = _polygonal(shapely.geometry.shape(geometry) if geometry else None)
        out.append(
            FieldBoundary(
                field_id=str(record["field_id"]),
                geometry=polygon,
                crs="EPSG:4326",
                declared_ha=_number(record.get("declared_ha")),
                declared_crop=record.get("declared_crop"),
                repaired=repaired,
            )
        )
    return out


def geometries_in_crs(fields: Sequence[FieldBoundary], crs_wkt: str) -> list[BaseGeometry]:
    """Return the fields' geometries reprojected to ``crs_wkt`` (any CRS string pyproj reads), in order."""
    import geopandas as gpd

    out: list[BaseGeometry] = [shapely.Polygon()] * len(fields)
    by_crs: dict[str, list[int]] = defaultdict(list)
    for i, f in enumerate(fields):
        by_crs[f.crs].append(i)
    for crs, idx in by_crs.items():
        series = gpd.GeoSeries([fields[i].geometry for i in idx], crs=crs).to_crs(crs_wkt)
        for i, geom in zip(idx, series, strict=True):
            out[i] = geom
    return out
