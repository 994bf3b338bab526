"""A cooperative's overview of its member farms: herd, device health, data coverage and open alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import psycopg

from store.farms import cooperative_farms
from store.herd import latest_head_counts, latest_head_intervals
from store.ingest_devices import list_devices
from store.loans import open_alert_counts
from usecases.farm_records import coverage

__all__ = ["COVERAGE_DAYS", "SILENT_AFTER", "MemberRow", "member_overview"]

SILENT_AFTER = timedelta(hours=48)
"""An active device not seen for longer than this is silent."""

COVERAGE_DAYS = 60
"""The window of the overview's days with data."""


@dataclass(frozen=True)
class MemberRow:
    """One member farm on the cooperative's overview."""

    farm_id: UUID
    name: str
    declared_herd: dict[str, int]
    latest_counts: dict[str, int]
    devices: int
    devices_silent: int
    coverage_days: int
    """UTC days of the window on which at least one of the farm's devices had data (:mod:`store.coverage`)."""
    open_alerts: int
    latest_intervals: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    """Per species, the interval of its latest count (at ``vocabulary.cameras.INTERVAL_COVERAGE``), where it has one
    (upper end None: unbounded above)."""


def member_overview(
    conn: psycopg.Connection, *, cooperative_id: UUID, days: int = COVERAGE_DAYS, now: datetime | None = None
) -> list[MemberRow]:
    """The cooperative's member farms by name, with latest counts, devices, days with data and open alerts.

    ``devices`` counts the active devices, ``devices_silent`` those of them not seen for ``SILENT_AFTER``;
    days with data are counted over the last ``days`` before ``now``.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    farms = cooperative_farms(conn, cooperative_id=cooperative_id)
    ids = [f.id for f in farms]
    counts = latest_head_counts(conn, farm_ids=ids)
    intervals = latest_head_intervals(conn, farm_ids=ids)
    alerts = open_alert_counts(conn, farm_ids=ids)
    active: dict[UUID, int] = {}
    silent: dict[UUID, int] = {}
    for device in list_devices(conn, farm_ids=ids):
        if device.status != "active":
            continue
        active[device.farm_id] = active.get(device.farm_id, 0) + 1
        if device.last_seen_at is None or device.last_seen_at < now - SILENT_AFTER:
            silent[device.farm_id] = silent.get(device.farm_id, 0) + 1
    days_seen: dict[UUID, set[date]] = {}
    for row in coverage(conn, farm_ids=ids, days=days, now=now):
        days_seen.setdefault(row.farm_id, set()).update(row.days)
    return [
        MemberRow(
            farm_id=f.id,
            name=f.name,
            declared_herd=f.declared_herd or {},
            latest_counts=counts.get(f.id, {}),
            devices=active.get(f.id, 0),
            devices_silent=silent.get(f.id, 0),
            coverage_days=len(days_seen.get(f.id, ())),
            open_alerts=alerts.get(f.id, 0),
            latest_intervals=intervals.get(f.id, {}),
        )
        for f in farms
    ]
