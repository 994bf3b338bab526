"""Accuracy of observed cropped area against reference parcels (e.g. LPIS declarations with crop codes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remote_sensing.result import FieldCropArea

__all__ = ["Accuracy", "ReferenceParcel", "accuracy"]


@dataclass(frozen=True, kw_only=True)
class ReferenceParcel:
    """Ground truth for one field: whether it is an annual (temporary) crop, and its reference area.

    The true cropped area is ``ref_area_ha`` for an annual crop and 0 for anything else.
    """

    field_id: str
    is_annual_crop: bool
    ref_area_ha: float
    label: str = ""

    @property
    def cropped_ha(self) -> float:
        """The true cropped area in ha."""
        return self.ref_area_ha if self.is_annual_crop else 0.0


@dataclass(frozen=True, kw_only=True)
class Accuracy:
    """Errors of observed cropped area over the fields that have a reference.

    Attributes:
        n_fields: fields compared.
        mae_ha: mean absolute error of cropped_ha per field.
        mae_pct: the same as a percentage of the mean reference field area.
        total_cropped_ha: observed cropped area summed over the fields.
        total_reference_ha: true cropped area summed over the fields.
        total_error_pct: (observed - true) / true total, in percent.
        agreement: share of fields whose majority decision (cropped_ha above half the area) matches the truth.
        rows: one dict per field (field_id, label, truth, observed, error) for reports.
    """

    n_fields: int
    mae_ha: float
    mae_pct: float
    total_cropped_ha: float
    total_reference_ha: float
    total_error_pct: float
    agreement: float
    rows: tuple[dict[str, Any], ...]

    def summary(self) -> dict[str, float | int]:
        """The figures without the rows."""
        return {
            "n_fields": self.n_fields,
            "mae_ha": round(self.mae_ha, 4),
            "mae_pct": round(self.mae_pct, 2),
            "total_cropped_ha": round(self.total_cropped_ha, 3),
            "total_reference_ha": round(self.total_reference_ha, 3),
            "total_error_pct": round(self.total_error_pct, 2),
            "agreement": round(self.agreement, 4),
        }


def accuracy(*, results: Sequence[FieldCropArea], reference: Mapping[str, ReferenceParcel]) -> Accuracy:
    """Compare each result that has a reference parcel with it (fields without coverage count as 0 ha).

    Raises:
        ValueError: no result matches a reference parcel.
    """
    rows = []
    for r in results:
        ref = reference.get(r.field_id)
        if ref is None:
            continue
        observed = r.cropped_ha or 0.0
        rows.append(
            {
                "field_id": r.field_id,
                "label": ref.label,
                "is_annual_crop": ref.is_annual_crop,
                "ref_area_ha": round(ref.ref_area_ha, 4),
                "true_cropped_ha": round(ref.cropped_ha, 4),
                "cropped_ha": round(observed, 4),
                "grassland_ha": round(r.grassland_ha or 0.0, 4),
                "error_ha": round(observed - ref.cropped_ha, 4),
                "agrees": (observed > 0.5 * r.area_ha) == ref.is_annual_crop,
            }
        )
    if not rows:
        raise ValueError("No result has a reference parcel with the same field id; check --id-field.")
    n = len(rows)
    abs_err = sum(abs(row["cropped_ha"] - row["true_cropped_ha"]) for row in rows)
    mean_area = sum(row["ref_area_ha"] for row in rows) / n
    total_obs = sum(row["cropped_ha"] for row in rows)
    total_ref = sum(row["true_cropped_ha"] for row in rows)
    return Accuracy(
        n_fields=n,
        mae_ha=abs_err / n,
        mae_pct=100.0 * (abs_err / n) / mean_area if mean_area else 0.0,
        total_cropped_ha=total_obs,
        total_reference_ha=total_ref,
        total_error_pct=100.0 * (total_obs - total_ref) / total_ref if total_ref else 0.0,
        agreement=sum(bool(row["agrees"]) for row in rows) / n,
        rows=tuple(rows),
    )
