"""A farm's herd from its camera-days in the count rollups: each camera's day, the daily herd, interval widths.

The figures are those :func:`store.counts.daily_window_counts` and the raw-row record defined (issue #16):
a camera's day is the low median (``percentile_disc(0.5)``) of its frames' counts, its interval the low
medians of their lower and of their upper ends when every frame has one (an unbounded upper end counts as
the largest, :data:`store.rollups.UNBOUNDED`); the day's herd sums the cameras, each seeing other animals.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import date

from credit.count_intervals import CameraInterval
from credit.record import HerdDay
from store.rollup_reads import CountDayRow
from store.rollups import UNBOUNDED

__all__ = ["CameraFigures", "camera_day", "camera_intervals", "herd_days", "low_median"]


def low_median(heads: Counter[int]) -> int:
    """``percentile_disc(0.5)`` of a histogram {head: frames}: the value at row ceil(frames / 2)."""
    rank, seen = math.ceil(sum(heads.values()) / 2), 0
    for head in sorted(heads):
        seen += heads[head]
        if seen >= rank:
            return head
    raise ValueError("empty histogram")


@dataclass(frozen=True)
class CameraFigures:
    """One registered camera's figures on one day, as ``store.counts.CameraDay`` defines them."""

    day: date
    device_id: str
    camera_id: str
    species: str
    profile: str
    head: int
    frames: int
    head_low: int | None
    head_high: int | None


def camera_day(c: CountDayRow, profile: str) -> CameraFigures:
    """A camera-day from its histograms: the interval only when every frame has one, unbounded above as None."""
    frames = sum(c.heads.values())
    whole = sum(c.lows.values()) == frames
    high = low_median(c.highs) if whole else None
    return CameraFigures(
        c.day,
        c.device_id,
        c.camera_id,
        c.species,
        profile,
        low_median(c.heads),
        frames,
        low_median(c.lows) if whole else None,
        None if high == UNBOUNDED else high,
    )


def herd_days(cameras: list[CameraFigures]) -> tuple[HerdDay, ...]:
    """Per day and species: each camera's low median summed over the cameras (each sees other animals).

    The day's interval sums the cameras' intervals: none when a camera has none, unbounded above when one is.
    """
    days: dict[tuple[date, str], list[CameraFigures]] = {}
    for c in cameras:
        days.setdefault((c.day, c.species), []).append(c)
    out = []
    for (day, species), seen in days.items():
        whole = all(c.head_low is not None for c in seen)
        bounded = whole and all(c.head_high is not None for c in seen)
        out.append(
            HerdDay(
                day,
                species,
                sum(c.head for c in seen),
                sum(c.frames for c in seen),
                cameras=len(seen),
                head_low=sum(c.head_low or 0 for c in seen) if whole else None,
                head_high=sum(c.head_high or 0 for c in seen) if bounded else None,
            )
        )
    return tuple(out)


def camera_intervals(cameras: list[CameraFigures]) -> tuple[CameraInterval, ...] | None:
    """Per camera and species: its days with an interval and a head, their head and widths summed (None: none)."""
    totals: dict[tuple[str, str, str, str], tuple[int, int, int, int]] = {}
    for c in cameras:
        if c.head_low is not None and c.head > 0:
            key = (c.device_id, c.camera_id, c.species, c.profile)
            days, head, width, unbounded = totals.get(key, (0, 0, 0, 0))
            if c.head_high is None:
                totals[key] = (days + 1, head, width, unbounded + 1)
            else:
                totals[key] = (days + 1, head + c.head, width + c.head_high - c.head_low, unbounded)
    return tuple(CameraInterval(*key, *sums) for key, sums in totals.items()) or None
