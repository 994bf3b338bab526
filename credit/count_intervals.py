"""Count intervals in credit: how wide each camera's intervals were, and when that is too wide to lend on.

Every camera count may carry an interval at the stated coverage (``vocabulary.cameras.INTERVAL_COVERAGE``,
90 %). Credit uses them three ways: the valuation lends on the lower end (``HerdDay.valued_head``), the
verification score's ``count_precision`` component falls as the intervals widen, and a camera whose
intervals are wider than its profile's limit (the policy's ``[count_intervals]``, defaulting to
:data:`DEFAULT_MAX_RELATIVE_WIDTH`) is flagged on the decision's reasons and as an early warning.

A camera's relative width is its summed interval widths over its summed daily head figures: a camera
that saw 42 head on each of two days with intervals 39-46 and 40-45 has (7 + 5) / 84 = 0.1429. A day
whose interval is unbounded above (its profile was calibrated on too few frames) is infinitely wide: the
camera is flagged whatever its other days say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from credit.errors import RecordError
from vocabulary.cameras import CAMERA_PROFILES, INTERVAL_COVERAGE, CameraProfile
from vocabulary.species import SPECIES

__all__ = ["DEFAULT_MAX_RELATIVE_WIDTH", "INTERVAL_PERCENT", "CameraInterval", "interval_text", "too_wide"]

INTERVAL_PERCENT = round(INTERVAL_COVERAGE * 100)
"""The stated coverage of every count interval in whole percent, as messages write it (90)."""

DEFAULT_MAX_RELATIVE_WIDTH: dict[str, Decimal] = {
    CameraProfile.RACE.value: Decimal("0.20"),
    CameraProfile.PEN.value: Decimal("0.30"),
    CameraProfile.WIDE.value: Decimal("0.50"),
    CameraProfile.AERIAL.value: Decimal("0.40"),
}
"""The widest interval, per counted head, that each camera profile may give before it is flagged (a policy
without a ``[count_intervals]`` table uses these). A race camera sees animals one by one, so its counts
must be tight; a wide barn or pasture view is allowed the most."""


@dataclass(frozen=True, order=True)
class CameraInterval:
    """How wide one camera's count intervals of one species were over the record's window.

    Attributes:
        device_id: the device that sent the camera's frames.
        camera_id: the camera (empty when the frames named none).
        species: what was counted.
        profile: the device's camera profile (``vocabulary.cameras.CameraProfile``).
        days: the days whose figure carries an interval (bounded or not).
        head_total: the camera's daily head figures summed over its days with a bounded interval.
        width_total: the widths (``head_high - head_low``) of those bounded intervals, summed.
        unbounded_days: the days whose interval is unbounded above.
    """

    device_id: str
    camera_id: str
    species: str
    profile: str
    days: int
    head_total: int
    width_total: int
    unbounded_days: int = 0

    def __post_init__(self) -> None:
        where = f"camera {self.device_id}/{self.camera_id} {self.species}"
        if self.species not in SPECIES:
            raise RecordError(f"{where} has unknown species {self.species!r}; use one of {', '.join(SPECIES)}")
        if self.profile not in CAMERA_PROFILES:
            raise RecordError(f"{where} has profile {self.profile!r}; use one of {', '.join(CAMERA_PROFILES)}")
        if self.days < 1 or min(self.head_total, self.width_total) < 0 or not 0 <= self.unbounded_days <= self.days:
            raise RecordError(
                f"{where}: days={self.days} head_total={self.head_total} width_total={self.width_total} "
                f"unbounded_days={self.unbounded_days}; days must be >= 1, the totals >= 0, "
                "unbounded_days 0 to days"
            )

    @property
    def relative_width(self) -> Decimal:
        """Interval width per counted head over the bounded days, to 4 places (over no head, the width itself)."""
        return (Decimal(self.width_total) / Decimal(max(self.head_total, 1))).quantize(Decimal("0.0001"))

    def describe(self) -> str:
        """How wide its intervals were, in words: "36 % of the head" or "unbounded above on 3 of 5 days"."""
        if self.unbounded_days:
            return f"unbounded above on {self.unbounded_days} of {self.days} day(s)"
        return f"{self.relative_width * 100:.0f} % of the head wide over {self.days} day(s)"


def too_wide(
    cameras: tuple[CameraInterval, ...] | None, limits: Mapping[str, Decimal]
) -> tuple[tuple[CameraInterval, Decimal], ...]:
    """The cameras wider than their profile's limit (or unbounded on a day), each with that limit, in record order."""
    return tuple(
        (c, limits[c.profile]) for c in cameras or () if c.unbounded_days or c.relative_width > limits[c.profile]
    )


def interval_text(low: int, high: int | None) -> str:
    """An interval as the dashboard and the reasons write it: ``39-46``, or ``39 or more`` when unbounded above."""
    return f"{low}-{high}" if high is not None else f"{low} or more"
