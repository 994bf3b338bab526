"""Paths of the repository samples and of the shared real data that exists on this machine."""

from __future__ import annotations

from pathlib import Path

from farmtrust.demo_samples import FLANDERS_2018
from tests.conftest import SHARED_DATA, TEST_DATA

SYNTHETIC = TEST_DATA / "remote_sensing" / "synthetic"
FLANDERS_SAMPLE = FLANDERS_2018  # the demo's package data: one copy for the demo and the tests
FLANDERS_SHARED = SHARED_DATA / "remote_sensing" / "flanders_worldcereal_2018"
FLANDERS_HOLDOUT = SHARED_DATA.parent / "holdout" / "remote_sensing" / "flanders_worldcereal_2019"


def flanders_seasons() -> list[tuple[str, Path, Path, str, str]]:
    """(name, reference parcels, ItemCollection, season start, season end) for every copy that exists."""
    out = [
        (
            "repo-sample-2018",
            FLANDERS_SAMPLE / "ref_parcels.geojson",
            FLANDERS_SAMPLE / "stac" / "items.json",
            "2018-01-01",
            "2018-10-31",
        )
    ]
    for name, folder, year in (("shared-2018", FLANDERS_SHARED, 2018), ("holdout-2019", FLANDERS_HOLDOUT, 2019)):
        items = folder / "stac" / "items.json"
        if items.is_file():
            out.append((name, folder / "ref_parcels.geojson", items, f"{year}-01-01", f"{year}-10-31"))
    return out
