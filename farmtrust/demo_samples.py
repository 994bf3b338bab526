"""The demo's sample data, shipped as package data in ``farmtrust/demo_data/`` (provenance beside each set)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from usecases.demo_seed import DemoParcel

DEMO_DATA = Path(__file__).resolve().parent / "demo_data"
SHEEP_THERMAL = DEMO_DATA / "sheep_thermal"
FLANDERS_2018 = DEMO_DATA / "flanders_2018"
"""A real Sentinel-2 season (``stac/items.json``) and 19 LPIS parcels (``ref_parcels.geojson``)."""


def sheep_frames() -> list[tuple[Path, int]]:
    """The demo's real herd photos with their true head count (label lines), fewest animals first."""
    out = []
    for image in sorted((SHEEP_THERMAL / "images").rglob("*.jpg")):
        label = SHEEP_THERMAL / "labels" / image.parent.name / f"{image.stem}.txt"
        count = sum(1 for line in label.read_text().splitlines() if line.strip()) if label.exists() else 0
        out.append((image, count))
    return sorted(out, key=lambda item: (item[1], item[0].name))


def flanders_parcels() -> list[DemoParcel]:
    """The sample's LPIS parcels with GeoJSON geometries in EPSG:4326, largest first."""
    import geopandas as gpd

    frame = gpd.read_file(FLANDERS_2018 / "ref_parcels.geojson").to_crs(4326)
    frame = frame.sort_values("ref_area_ha", ascending=False)
    return [
        DemoParcel(
            parcel_id=str(feature["properties"]["parcel_id"]),
            crop_name=feature["properties"]["ct_name"],
            area_ha=Decimal(str(feature["properties"]["ref_area_ha"])).quantize(Decimal("0.0001")),
            geometry=feature["geometry"],
        )
        for feature in json.loads(frame.to_json())["features"]
    ]
