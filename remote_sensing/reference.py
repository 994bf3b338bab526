"""Reference parcels (ground truth) read from a vector file with ``is_annual_crop`` and ``ref_area_ha``."""

from __future__ import annotations

from pathlib import Path

from remote_sensing.errors import FieldsError
from remote_sensing.evaluate import ReferenceParcel

__all__ = ["read_reference"]


def read_reference(path: Path, *, id_field: str = "parcel_id") -> dict[str, ReferenceParcel]:
    """Read reference parcels keyed by id; labels come from ``ct_name`` or ``crop`` where present.

    Raises:
        FieldsError: the file lacks the id, ``is_annual_crop`` or ``ref_area_ha`` column.
    """
    import geopandas as gpd

    frame = gpd.read_file(path)
    missing = [c for c in (id_field, "is_annual_crop", "ref_area_ha") if c not in frame.columns]
    if missing:
        raise FieldsError(
            f"--reference {path} lacks column(s) {', '.join(missing)}; a reference needs an id, "
            "is_annual_crop (true/false) and ref_area_ha."
        )
    label = next((c for c in ("ct_name", "crop", "declared_crop") if c in frame.columns), None)
    return {
        str(row[id_field]): ReferenceParcel(
            field_id=str(row[id_field]),
            is_annual_crop=bool(row["is_annual_crop"]),
            ref_area_ha=float(row["ref_area_ha"]),
            label=str(row[label]) if label else "",
        )
        for _, row in frame.iterrows()
    }
