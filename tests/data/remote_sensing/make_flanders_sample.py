"""Copy the 2018 season of the Flanders WorldCereal sample into the repository (run from the repo root).

Source: ../shared/data/remote_sensing/flanders_worldcereal_2018/ (see PROVENANCE.md in the target folder).
Keeps the acquisitions from 2018-01-01 to 2018-10-31 whose SCL clear fraction is at least 0.3, and the
assets FarmTrust uses (blue, red, nir, scl), unchanged; rewrites the ItemCollection with those items.

    python tests/data/remote_sensing/make_flanders_sample.py
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[3] / "shared" / "data" / "remote_sensing" / "flanders_worldcereal_2018"
TARGET = HERE.parents[2] / "farmtrust" / "demo_data" / "flanders_2018"  # package data: the demo ships it
ASSETS = ("blue", "red", "nir", "scl")


def main() -> None:
    """Write farmtrust/demo_data/flanders_2018/ from the shared data."""
    with (SOURCE / "dates.csv").open() as fh:
        keep = {
            row["datetime_utc"].replace("-", "").replace(":", "")
            for row in csv.DictReader(fh)
            if "2018-01-01" <= row["datetime_utc"] < "2018-11-01" and float(row["scl_clear_fraction"]) >= 0.3
        }
    collection = json.loads((SOURCE / "stac" / "items.json").read_text())
    items = []
    for item in collection["features"]:
        stamp = item["id"].rsplit("_", 1)[1]
        if stamp not in keep:
            continue
        item["assets"] = {k: v for k, v in item["assets"].items() if k in ASSETS}
        for key, asset in item["assets"].items():
            target = TARGET / "stac" / asset["href"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(SOURCE / "stac" / asset["href"], target)
            assert asset["href"] == f"{stamp}/{key}.tif"
        items.append(item)
    collection["features"] = items
    (TARGET / "stac" / "items.json").write_text(json.dumps(collection, indent=1) + "\n")
    shutil.copyfile(SOURCE / "ref_parcels.geojson", TARGET / "ref_parcels.geojson")
    print(f"kept {len(items)} acquisitions in {TARGET}")


if __name__ == "__main__":
    main()
