"""Early warning, before payments slip: each alert with its severity and evidence.

Signals: herd decline, NDVI under the seasonal norm, silent devices, heat stress, water failure, missed
instalments, and cameras whose count intervals are too wide for their profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from statistics import median_low
from typing import Any

from credit.count_intervals import too_wide
from credit.money import ONE, ZERO
from credit.policy import Policy
from credit.record import FarmRecord
from credit.servicing import LoanStatus
from vocabulary.lending import SEVERITY_RANK

__all__ = ["SEVERITY_RANK", "Alert", "early_warnings"]

_RECENT_DAYS = 7


@dataclass(frozen=True)
class Alert:
    """One early-warning alert: a stable code, severity, plain message, the source input and its evidence."""

    code: str
    severity: str
    message: str
    source: str
    evidence: dict[str, Any]
    raised_at: datetime


def _herd(record: FarmRecord, policy: Policy, baseline: dict[str, int], at: datetime) -> list[Alert]:
    share = policy.param("early_warning", "herd_drop_share")
    cut = (record.as_of - timedelta(days=_RECENT_DAYS)).date()
    out = []
    for species, base in sorted(baseline.items()):
        recent = [d.head for d in record.herd_days if d.species == species and d.day >= cut]
        if base <= 0 or not recent:
            continue
        now = median_low(recent)
        drop = (Decimal(base - now) / Decimal(base)).quantize(Decimal("0.01"))
        if drop >= share:
            severity = "high" if drop >= 2 * share else "warning"
            out.append(
                Alert(
                    "herd_decline",
                    severity,
                    f"{species} herd down {drop * 100:.0f}% ({base} to {now})",
                    "livestock_counts",
                    {
                        "species": species,
                        "baseline": base,
                        "recent_median": now,
                        "drop_share": drop,
                        "days": len(recent),
                    },
                    at,
                )
            )
    return out


def _ndvi(record: FarmRecord, policy: Policy, at: datetime) -> list[Alert]:
    share = policy.param("early_warning", "ndvi_below_norm")
    cut = (record.as_of - timedelta(days=int(policy.param("early_warning", "ndvi_days")))).date()
    crops = dict(policy.crops)
    out = []
    for f in record.fields:
        terms = crops.get(f.declared_crop or "")
        recent = [p for p in f.ndvi if p.day >= cut]
        if terms is None or not recent:
            continue
        norm = dict(terms.ndvi_norm).get(recent[-1].day.month)
        if norm is None:
            continue
        mean = (sum((p.ndvi for p in recent), ZERO) / len(recent)).quantize(Decimal("0.001"))
        if mean < norm * (ONE - share):
            out.append(
                Alert(
                    "ndvi_below_norm",
                    "warning",
                    f"field {f.field_id} ({f.declared_crop}) NDVI {mean} is below the seasonal norm {norm}",
                    "crop_area_estimates",
                    {"field_id": f.field_id, "ndvi_mean": mean, "norm": norm, "observations": len(recent)},
                    at,
                )
            )
    return out


def _silent(record: FarmRecord, policy: Policy, at: datetime) -> list[Alert]:
    hours = int(policy.param("early_warning", "silent_hours"))
    active = [d for d in record.devices if d.status == "active"]
    silent = [d for d in active if d.last_seen is None or record.as_of - d.last_seen > timedelta(hours=hours)]
    if not silent:
        return []
    severity = "critical" if len(silent) == len(active) else "warning"
    return [
        Alert(
            "device_silent",
            severity,
            f"{len(silent)} of {len(active)} device(s) silent for over {hours} h",
            "devices",
            {
                "devices": [
                    f"{d.device_id} last seen {d.last_seen.isoformat() if d.last_seen else 'never'}" for d in silent
                ]
            },
            at,
        )
    ]


def _sensors(record: FarmRecord, policy: Policy, at: datetime) -> list[Alert]:
    out = []
    cut = (record.as_of - timedelta(days=_RECENT_DAYS)).date()
    hot_c = policy.param("early_warning", "heat_stress_c")
    hot = sorted(
        {s.day for s in record.sensor_days if s.metric == "barn_temperature_c" and s.day >= cut and s.max >= hot_c}
    )
    if len(hot) >= int(policy.param("early_warning", "heat_days")):
        out.append(
            Alert(
                "heat_stress",
                "warning",
                f"barn above {hot_c} °C on {len(hot)} of the last {_RECENT_DAYS} days",
                "sensor_readings",
                {"days": [d.isoformat() for d in hot], "threshold_c": hot_c},
                at,
            )
        )
    water: dict[Any, Decimal] = {}
    for s in record.sensor_days:
        if s.metric == "water_flow_l_min":
            water[s.day] = water.get(s.day, ZERO) + s.mean * 1440
    if len(water) >= 3:
        days = sorted(water)
        last = water[days[-1]]
        usual = median_low(sorted(water[d] for d in days[:-1]))
        drop = policy.param("early_warning", "water_drop_share")
        if usual > ZERO and last < usual * (ONE - drop):
            severity = "critical" if last == ZERO else "high"
            out.append(
                Alert(
                    "water_failure",
                    severity,
                    f"water draw {last.quantize(Decimal(1))} L on {days[-1]} against a usual "
                    f"{usual.quantize(Decimal(1))} L",
                    "sensor_readings",
                    {
                        "day": days[-1].isoformat(),
                        "litres": last.quantize(Decimal(1)),
                        "usual_litres": usual.quantize(Decimal(1)),
                    },
                    at,
                )
            )
    return out


def _missed(loan: LoanStatus, policy: Policy, at: datetime) -> list[Alert]:
    if loan.days_past_due < int(policy.param("early_warning", "missed_instalment_dpd")):
        return []
    severity = {"1-30": "warning", "31-60": "high", "61-90": "high"}.get(loan.bucket, "critical")
    return [
        Alert(
            "missed_instalment",
            severity,
            f"instalment {loan.days_past_due} days past due ({loan.arrears} in arrears)",
            "repayments",
            {"days_past_due": loan.days_past_due, "bucket": loan.bucket, "arrears": loan.arrears},
            at,
        )
    ]


def _wide_intervals(record: FarmRecord, policy: Policy, at: datetime) -> list[Alert]:
    """A warning per camera whose count intervals are wider than its profile allows (:mod:`credit.count_intervals`)."""
    return [
        Alert(
            "wide_count_interval",
            "warning",
            f"camera {c.device_id}/{c.camera_id or '-'} ({c.profile}) {c.species} count intervals "
            f"{c.describe()} (limit {limit * 100:.0f} % of the head)",
            "livestock_counts",
            {
                "device_id": c.device_id,
                "camera_id": c.camera_id,
                "species": c.species,
                "profile": c.profile,
                "relative_width": c.relative_width,
                "max_relative_width": limit,
                "days": c.days,
                "unbounded_days": c.unbounded_days,
            },
            at,
        )
        for c, limit in too_wide(record.camera_intervals, dict(policy.max_relative_width))
    ]


def early_warnings(
    *, record: FarmRecord, policy: Policy, baseline_herd: dict[str, int] | None = None, loan: LoanStatus | None = None
) -> tuple[Alert, ...]:
    """Every early-warning alert for ``record`` (and ``loan``), most severe first.

    Args:
        record: the farm's current rolling record.
        policy: thresholds come from its ``[early_warning]`` table.
        baseline_herd: verified head per species when the limit was decided (herd decline is measured from it).
        loan: the loan's current status (missed instalments).
    """
    at = record.as_of
    alerts = [
        *_herd(record, policy, baseline_herd or {}, at),
        *_ndvi(record, policy, at),
        *_silent(record, policy, at),
        *_sensors(record, policy, at),
        *(_missed(loan, policy, at) if loan else []),
        *_wide_intervals(record, policy, at),
    ]
    return tuple(sorted(alerts, key=lambda a: (-SEVERITY_RANK[a.severity], a.code)))
