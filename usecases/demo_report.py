"""Read back what the demo's pipeline stored: herd counts, crop areas, credit decisions and open alerts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg

from store.counts import herd_summaries
from store.credit_records import load_decision
from store.crop_areas import field_crop_areas
from store.loans import list_alerts
from usecases.demo_seed import DemoCast

__all__ = ["DemoReadback", "read_back"]


@dataclass(frozen=True, kw_only=True)
class DemoReadback:
    """The stored results, as rows for the report (farms by name, in the cast's order)."""

    herd: list[dict[str, Any]]
    crops: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    stored_limits: dict[str, Decimal]


def read_back(conn: psycopg.Connection, *, cast: DemoCast, decision_ids: Sequence[UUID | str]) -> DemoReadback:
    """What vision, remote sensing and credit stored for the cast's farms, and each decision's stored limit.

    Raises:
        store.credit_records.DecisionNotFoundError: a decision id is not stored.
    """
    farm_ids = [f.farm_id for f in cast.farms]
    names = {f.farm_id: f.name for f in cast.farms}
    order = {f.farm_id: i for i, f in enumerate(cast.farms)}
    herd = [
        {
            "farm": names[h.farm_id],
            "species": h.species,
            "photos": h.photos,
            "max": h.max_count,
            "latest": h.latest_count,
            "evidence": h.latest_evidence_path,
        }
        for h in sorted(herd_summaries(conn=conn, farm_ids=farm_ids), key=lambda h: (order[h.farm_id], h.species))
    ]
    estimated = [c for c in field_crop_areas(conn, farm_ids=farm_ids) if c.estimated_at is not None]
    estimated.sort(key=lambda c: (order[c.farm_id], -(c.declared_area_ha or 0)))
    crops = [
        {
            "farm": names[c.farm_id],
            "field": c.name,
            "declared_crop": c.declared_crop,
            "declared_ha": c.declared_area_ha,
            "cropped_ha": c.cropped_ha,
            "grassland_ha": c.grassland_ha,
            "ratio": c.ratio,
            "flags": list(c.flags),
        }
        for c in estimated
    ]
    alerts = sorted(
        (
            {**asdict(a), "farm": names[farm.farm_id]}
            for farm in cast.farms
            for a in list_alerts(conn, farm_id=farm.farm_id, open_only=True)
        ),
        key=lambda a: (a["raised_at"], a["farm"]),
    )
    limits = {
        str(d): Decimal(json.loads(load_decision(conn, decision_id=d).output)["limit"]["number"]) for d in decision_ids
    }
    return DemoReadback(
        herd=herd,
        crops=crops,
        alerts=[{k: a[k] for k in ("farm", "code", "severity", "message")} for a in alerts],
        stored_limits=limits,
    )
