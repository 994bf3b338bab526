"""Fraud score beside the credit score: independent signals, each with its evidence.

Signals (severity 0..1 each; the fraud score is their noisy-or, ``1 - prod(1 - s)``):

- ``recycled_frames``: counted frames whose perceptual hash repeats one from an earlier day;
- ``count_jump``: the herd counted in the last days before the application is far above the earlier median;
- ``declared_over_observed``: the declared herd is far above what the cameras count;
- ``flat_sensor``: sensor days with many readings and zero spread (flat-lined or synthetic series);
- ``device_outside_farm``: a device reports a position outside every field of the farm.

The fraud score never changes the limit; from the policy's ``refer_at`` the decision goes to a person.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from statistics import median_low
from typing import Any

from credit.money import ONE, ZERO
from credit.policy import Policy
from credit.record import FarmRecord, FieldRecord, FrameSeen

__all__ = ["FraudAssessment", "FraudSignal", "assess_fraud", "point_in_field"]

_PLACES = Decimal("0.0001")


@functools.cache
def _band_layout(max_distance: int) -> tuple[tuple[int, int, int, int], ...]:
    """``(index, width, shift, mask)`` of each of the ``max_distance + 1`` bands of a 64-bit hash."""
    n = max_distance + 1
    edges = [64 * i // n for i in range(n + 1)]
    return tuple((i, edges[i + 1] - edges[i], edges[i], (1 << (edges[i + 1] - edges[i])) - 1) for i in range(n))


def _bands(value: int, max_distance: int) -> list[tuple[int, int, int]]:
    """Split a 64-bit hash into ``max_distance + 1`` bands (as ``(index, width, bits)``).

    Pigeonhole: two hashes that differ in at most ``max_distance`` bits cannot differ in every one of
    ``max_distance + 1`` disjoint bands, so they share at least one band exactly; only hashes sharing a
    band are compared bit by bit.
    """
    return [(i, width, (value >> shift) & mask) for i, width, shift, mask in _band_layout(max_distance)]


@dataclass(frozen=True)
class FraudSignal:
    """One fraud signal: its code, severity 0..1, a plain message and the evidence behind it."""

    code: str
    severity: Decimal
    message: str
    evidence: dict[str, Any]


@dataclass(frozen=True)
class FraudAssessment:
    """The fraud score (noisy-or of the signals) and every signal that fired."""

    score: Decimal
    signals: tuple[FraudSignal, ...]


def _ramp(value: Decimal, start: Decimal, full: Decimal) -> Decimal:
    """0 below ``start``, 1 from ``full``, linear between."""
    if value < start:
        return ZERO
    if full <= start or value >= full:
        return ONE
    return ((value - start) / (full - start)).quantize(_PLACES)


def _recycled(record: FarmRecord, policy: Policy) -> FraudSignal | None:
    # a decision's counterfactuals change the herd, never the frames: the same frames are assessed once
    return _recycled_frames(
        record.frames,
        int(policy.param("fraud", "recycled_phash_max_distance")),
        policy.param("fraud", "recycled_share_full"),
    )


@functools.lru_cache(maxsize=4)
def _recycled_frames(all_frames: tuple[FrameSeen, ...], max_distance: int, share_full: Decimal) -> FraudSignal | None:
    frames = [f for f in all_frames if f.phash]
    if not frames:
        return None
    index: dict[tuple[int, int, int], list[tuple[int, object, str]]] = {}
    seen_sha: dict[str, object] = {}
    examples: list[dict[str, str]] = []
    n_reused = 0
    for f in frames:
        try:
            value = int(f.phash, 16)
        except ValueError:
            continue
        day = f.time.date()
        hit: str | None = None
        if f.frame_sha256 and f.frame_sha256 in seen_sha and seen_sha[f.frame_sha256] != day:
            hit = f"same bytes as a frame of {seen_sha[f.frame_sha256]}"
        bands = _bands(value, max_distance)
        if hit is None:
            for key in bands:
                for other, other_day, other_hash in index.get(key, ()):
                    if other_day != day and (value ^ other).bit_count() <= max_distance:
                        hit = f"phash {f.phash} matches {other_hash} of {other_day}"
                        break
                if hit:
                    break
        if hit:
            n_reused += 1
            if len(examples) < 5:
                examples.append({"time": f.time.isoformat(), "device_id": f.device_id, "match": hit})
        for key in bands:
            index.setdefault(key, []).append((value, day, f.phash))
        if f.frame_sha256:
            seen_sha.setdefault(f.frame_sha256, day)
    if not n_reused:
        return None
    share = (Decimal(n_reused) / Decimal(len(frames))).quantize(_PLACES)
    severity = _ramp(share, ZERO, share_full)
    return FraudSignal(
        "recycled_frames",
        severity,
        f"{n_reused} of {len(frames)} counted frames repeat a frame from an earlier day",
        {"reused": n_reused, "frames": len(frames), "share": share, "examples": examples},
    )


def _jump(record: FarmRecord, policy: Policy) -> FraudSignal | None:
    days = int(policy.param("fraud", "jump_days"))
    cut = (record.as_of - timedelta(days=days)).date()
    start, full = policy.param("fraud", "jump_ratio"), policy.param("fraud", "jump_ratio_full")
    worst: FraudSignal | None = None
    for species in record.species():
        early = [d.head for d in record.herd_days if d.species == species and d.day < cut]
        late = [d.head for d in record.herd_days if d.species == species and d.day >= cut]
        if not early or not late:
            continue
        e, lt = median_low(early), median_low(late)
        if lt == 0:
            continue
        ratio = Decimal(lt) / Decimal(e) if e else Decimal(99)
        severity = _ramp(ratio, start, full)
        if severity > ZERO and (worst is None or severity > worst.severity):
            worst = FraudSignal(
                "count_jump",
                severity,
                f"{species} counted {lt} in the last {days} days against {e} before",
                {"species": species, "late_median": lt, "early_median": e, "ratio": ratio.quantize(Decimal("0.01"))},
            )
    return worst


def _declared(record: FarmRecord, policy: Policy) -> FraudSignal | None:
    start = policy.param("fraud", "declared_over_observed")
    full = policy.param("fraud", "declared_over_observed_full")
    worst: FraudSignal | None = None
    for species, declared in record.declared_herd:
        counted = [d.head for d in record.herd_days if d.species == species]
        if not declared or not counted:
            continue
        head = median_low(counted)
        ratio = Decimal(declared) / Decimal(head) if head else Decimal(99)
        severity = _ramp(ratio, start, full)
        if severity > ZERO and (worst is None or severity > worst.severity):
            worst = FraudSignal(
                "declared_over_observed",
                severity,
                f"{declared} {species} declared but {head} counted",
                {"species": species, "declared": declared, "counted": head, "ratio": ratio.quantize(Decimal("0.01"))},
            )
    return worst


def _flat(record: FarmRecord, policy: Policy) -> FraudSignal | None:
    min_readings = int(policy.param("fraud", "flatline_min_readings"))
    eligible = [
        s for s in record.sensor_days if s.readings >= min_readings and s.metric not in {"gps_lat_deg", "gps_lon_deg"}
    ]
    flat = [s for s in eligible if s.stdev == ZERO]
    if not flat:
        return None
    share = (Decimal(len(flat)) / Decimal(len(eligible))).quantize(_PLACES)
    return FraudSignal(
        "flat_sensor",
        _ramp(share, ZERO, policy.param("fraud", "flatline_share_full")),
        f"{len(flat)} of {len(eligible)} sensor-days are flat (zero spread)",
        {
            "flat_days": len(flat),
            "sensor_days": len(eligible),
            "share": share,
            "examples": [f"{s.device_id} {s.metric} {s.day}" for s in flat[:5]],
        },
    )


def point_in_field(lon: Decimal, lat: Decimal, field: FieldRecord, tolerance_deg: Decimal) -> bool:
    """Whether (lon, lat) lies inside the field's outer ring or within ``tolerance_deg`` of its bounding box."""
    ring = field.boundary
    if len(ring) < 3:
        return False
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    if not (
        min(xs) - tolerance_deg <= lon <= max(xs) + tolerance_deg
        and min(ys) - tolerance_deg <= lat <= max(ys) + tolerance_deg
    ):
        return False
    if tolerance_deg > ZERO:
        return True
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (xi, yi), (xj, yj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _outside(record: FarmRecord, policy: Policy) -> FraudSignal | None:
    fields = [f for f in record.fields if len(f.boundary) >= 3]
    if not fields:
        return None
    tolerance = policy.param("fraud", "outside_tolerance_deg")
    located = [d for d in record.devices if d.lat_deg is not None and d.lon_deg is not None]
    outside = [d for d in located if not any(point_in_field(d.lon_deg, d.lat_deg, f, tolerance) for f in fields)]  # type: ignore[arg-type]
    if not outside:
        return None
    return FraudSignal(
        "device_outside_farm",
        ONE,
        f"{len(outside)} device(s) report from outside the farm's fields",
        {"devices": [f"{d.device_id} at {d.lat_deg},{d.lon_deg}" for d in outside]},
    )


def assess_fraud(record: FarmRecord, policy: Policy) -> FraudAssessment:
    """Run every fraud check over ``record`` and combine the severities into one score."""
    signals = [
        s
        for s in (
            _recycled(record, policy),
            _jump(record, policy),
            _declared(record, policy),
            _flat(record, policy),
            _outside(record, policy),
        )
        if s is not None and s.severity > ZERO
    ]
    keep = ONE
    for s in signals:
        keep *= ONE - s.severity
    return FraudAssessment((ONE - keep).quantize(_PLACES), tuple(signals))
