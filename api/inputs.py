"""Value types of request bodies, each validated to exactly what the database stores.

A value that would be stored differently from how it was sent (rounded, coerced, closed, truncated) is
refused with a 422 naming the field, never silently changed. Each type's JSON schema says the same as its
validator, so a client (or a generator such as schemathesis) can tell a valid value from the schema alone.

Limits:
    * text: no NUL or control characters (C0, DEL, C1); lengths as each field says;
    * ``declared_area_ha``: a decimal string, 0 to 100000, at most 4 decimal places (``numeric(12, 4)``);
    * herd sizes: whole JSON numbers (``12`` or ``12.0``; not ``true``, not ``"12"``), 0 to ``MAX_HEAD``;
    * field geometry: a GeoJSON Polygon or MultiPolygon in EPSG:4326 whose rings are closed, that is valid
      (no self-intersection), with at most ``MAX_FIELD_VERTICES`` positions in all.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

MAX_FIELD_VERTICES = 10_000
"""Most positions a field's geometry may have, over all its rings (a surveyed field needs a few hundred)."""

MAX_HEAD = 1_000_000
"""Largest declared head count of one species."""


_PLAIN_TEXT = r"^[^\x00-\x1F\x7F-\x9F]*$"


def _plain(value: str) -> str:
    if re.search(r"[\x00-\x1f\x7f-\x9f]", value):
        raise ValueError("must not contain NUL or control characters")
    return value


PlainText = Annotated[str, AfterValidator(_plain), Field(json_schema_extra={"pattern": _PLAIN_TEXT})]
"""One line of text as PostgreSQL ``text`` stores it: no NUL, no control characters."""


def _whole_number(value: Any) -> Any:
    """A JSON integer (``12`` or ``12.0``, equal in JSON); never ``true``, a string or a fraction."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number, not a boolean or a string")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"must be a whole number, got {value}")
        return int(value)
    return value


HeadCount = Annotated[int, Field(strict=True, ge=0, le=MAX_HEAD), BeforeValidator(_whole_number)]
"""Head of one species: a whole number from 0 to ``MAX_HEAD``."""


_AREA_HA = re.compile(r"^(?:[0-9]{1,5}(?:\.[0-9]{1,4})?|100000(?:\.0{1,4})?)$")


def _area_text(value: Any) -> Decimal:
    if not isinstance(value, str) or not _AREA_HA.match(value):
        raise ValueError('must be a decimal string from "0" to "100000" with at most 4 decimal places, e.g. "12.5"')
    return Decimal(value)


AreaHa = Annotated[
    Decimal,
    BeforeValidator(_area_text),
    WithJsonSchema({"type": "string", "pattern": _AREA_HA.pattern, "examples": ["12.5"]}),
]
"""Hectares as stored in ``numeric(12, 4)``, sent as a decimal string (never a float, never rounded)."""


Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Position = tuple[Longitude, Latitude]
# No maxItems: the bound is on all rings together (``_valid_shape``), and a schema bound on each level would
# have generators build arrays of thousands of rings to probe it.
Ring = Annotated[list[Position], Field(min_length=4)]


_BOUND = f"at most {MAX_FIELD_VERTICES} positions over all rings"


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon: an outer ring, then its holes; each ring's last position repeats its first."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["Polygon"]
    coordinates: list[Ring] = Field(min_length=1, description=_BOUND)


class MultiPolygonGeometry(BaseModel):
    """A GeoJSON MultiPolygon: a list of polygons' rings."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["MultiPolygon"]
    coordinates: list[Annotated[list[Ring], Field(min_length=1)]] = Field(min_length=1, description=_BOUND)


def _valid_shape(geometry: PolygonGeometry | MultiPolygonGeometry) -> PolygonGeometry | MultiPolygonGeometry:
    from shapely.geometry import shape
    from shapely.validation import explain_validity

    polygons = [geometry.coordinates] if isinstance(geometry, PolygonGeometry) else geometry.coordinates
    rings = [ring for polygon in polygons for ring in polygon]
    vertices = sum(len(ring) for ring in rings)
    if vertices > MAX_FIELD_VERTICES:
        raise ValueError(f"has {vertices} positions; a field may have at most {MAX_FIELD_VERTICES}")
    for ring in rings:
        if ring[0] != ring[-1]:
            raise ValueError(f"ring is not closed: its last position {list(ring[-1])} must repeat {list(ring[0])}")
    geom = shape(geometry.model_dump())
    if geom.is_empty or not geom.is_valid:
        raise ValueError(f"invalid polygon: {explain_validity(geom)}")
    return geometry


Geometry = Annotated[PolygonGeometry | MultiPolygonGeometry, Field(discriminator="type"), AfterValidator(_valid_shape)]
"""A field's outline, validated as described in the module docstring."""
