"""The one result type: a field's observed cropped area against what was declared."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["METHOD_VERSION", "DatePoint", "FieldCropArea", "Flag"]

METHOD_VERSION = "ndvi-profile-1"
"""Version of the decision method; stored with every estimate so results from other versions stay apart."""


class Flag(StrEnum):
    """Why a field's estimate needs a second look."""

    DECLARED_EXCEEDS_OBSERVED = "declared_exceeds_observed"
    """The declared area is above the upper end of the observed band by more than the tolerance."""
    INSUFFICIENT_CLEAR_OBSERVATIONS = "insufficient_clear_observations"
    """Fewer clear observations of the field than ``min_clear_observations``: no firm decision."""
    NO_COVERAGE = "no_coverage"
    """No scene covers the field (or it has no usable geometry)."""
    PARTIAL_COVERAGE = "partial_coverage"
    """The scenes cover only part of the field (less than 98 %)."""
    GEOMETRY_REPAIRED = "geometry_repaired"
    """The field's geometry was invalid and was repaired with ``make_valid``."""


@dataclass(frozen=True, kw_only=True)
class DatePoint:
    """One acquisition as seen over one field.

    Attributes:
        acquired_at: acquisition time (UTC).
        scene_id: the scene's id.
        clear_fraction: coverage-weighted share of the field that is clear (0-1).
        ndvi: coverage-weighted mean NDVI over the clear part, or None when nothing is clear.
        evi: the same for EVI where the scene has a blue band, else None.
    """

    acquired_at: datetime
    scene_id: str
    clear_fraction: float
    ndvi: float | None
    evi: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in ``crop_area_estimates.ndvi_series``."""
        out: dict[str, Any] = {
            "date": self.acquired_at.date().isoformat(),
            "datetime": self.acquired_at.isoformat(),
            "scene_id": self.scene_id,
            "ndvi": None if self.ndvi is None else round(self.ndvi, 4),
            "clear_fraction": round(self.clear_fraction, 4),
        }
        if self.evi is not None:
            out["evi"] = round(self.evi, 4)
        return out


@dataclass(frozen=True, kw_only=True)
class FieldCropArea:
    """Observed cropped and grassland area of one field over a season, with its uncertainty and flags.

    Areas are hectares measured in an equal-area CRS (EPSG:6933), never in degrees.

    Attributes:
        field_id: the field's id as given.
        area_ha: the field's area.
        cropped_ha: area whose pixels were decided temporary (annual) crop; None without coverage.
        grassland_ha: area decided permanent grassland; None without coverage.
        unknown_ha: covered area whose pixels had too few clear observations for a decision.
        covered_fraction: share of the field inside the scenes (0-1).
        declared_ha: the declared area, or None.
        declared_crop: the declared crop, or None.
        ratio: cropped_ha / declared_ha, or None without a declaration or coverage.
        ratio_low: lower end of the ratio band (mixed boundary pixels and unknown pixels as not cropped).
        ratio_high: upper end (mixed boundary, unknown and uncovered area as cropped); with too few clear
            observations the band is everything possible, 0 to area_ha / declared_ha.
        clear_observations: dates on which at least ``min_clear_fraction`` of the field was clear.
        series: one :class:`DatePoint` per scene, in time order.
        flags: the :class:`Flag` values raised, sorted.
        scene_ids: ids of the scenes used.
        method_version: :data:`METHOD_VERSION`.
    """

    field_id: str
    area_ha: float
    cropped_ha: float | None
    grassland_ha: float | None
    unknown_ha: float | None
    covered_fraction: float
    declared_ha: float | None
    declared_crop: str | None
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    clear_observations: int
    series: tuple[DatePoint, ...] = ()
    flags: tuple[Flag, ...] = ()
    scene_ids: tuple[str, ...] = ()
    method_version: str = METHOD_VERSION

    def to_dict(self, *, with_series: bool = True) -> dict[str, Any]:
        """JSON-ready form with the keys of ``farmtrust rs crop-area --json``."""

        def r(value: float | None, digits: int = 4) -> float | None:
            return None if value is None else round(value, digits)

        out: dict[str, Any] = {
            "field_id": self.field_id,
            "cropped_ha": r(self.cropped_ha),
            "grassland_ha": r(self.grassland_ha),
            "unknown_ha": r(self.unknown_ha),
            "area_ha": r(self.area_ha),
            "covered_fraction": r(self.covered_fraction),
            "declared_ha": r(self.declared_ha),
            "declared_crop": self.declared_crop,
            "ratio": r(self.ratio),
            "ratio_low": r(self.ratio_low),
            "ratio_high": r(self.ratio_high),
            "clear_observations": self.clear_observations,
            "clear_observations_by_date": {p.acquired_at.isoformat(): round(p.clear_fraction, 4) for p in self.series},
            "flags": [str(f) for f in self.flags],
            "scene_ids": list(self.scene_ids),
            "method_version": self.method_version,
        }
        if with_series:
            out["ndvi_series"] = [p.to_dict() for p in self.series]
        return out
