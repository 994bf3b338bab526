"""Count intervals: split-conformal calibration per camera profile, so every count carries an honest range.

A calibration is fitted from ``(predicted, true)`` head-count pairs of labelled frames the model did
not train on, one set of pairs per camera profile (``vocabulary.cameras``). For a coverage ``1 - a``
(``INTERVAL_COVERAGE``, 90 %) and ``n`` calibration frames, split-conformal prediction takes the
``k = ceil((n + 1)(1 - a))``-th smallest nonconformity score as the interval's half-width; on a new
frame exchangeable with the calibration frames the true count then lies in the interval with
probability at least ``1 - a`` (Vovk et al. 2005; Angelopoulos & Bates 2021, section 1.1).

Scores are normalised by a *scale* so intervals can grow with crowding (errors grow with the count):

- ``constant``: ``|y - p|`` (the same width at every count);
- ``sqrt``: ``|y - p| / sqrt(p + 1)`` (Poisson-like growth);
- ``linear``: ``|y - p| / (p + 1)`` (errors proportional to the count).

A profile may also be *two-sided* (``asymmetric=True``): the lower and upper ends come from the signed
scores at ``a / 2`` each, so a detector that undercounts crowds gets an interval that lies above its
count instead of a wide one around it. That needs ``ceil((n + 1)(1 - a / 2)) <= n`` frames.

**Too few frames.** When ``k > n`` (fewer than 9 frames at 90 %, or 19 two-sided) no finite quantile
gives the coverage: the profile's interval is *unbounded above* (``CountInterval.high is None``) with
a lower end of 0, and the calibration says so in ``ProfileCalibration.bounded``. It is never narrowed
silently.

**Beyond the calibrated counts.** The guarantee needs the new frame to resemble the calibration
frames. A predicted count above every calibration frame's (``ProfileCalibration.max_predicted``: a
race camera calibrated on frames of one or two cows now seeing six) has its lower end as usual and
no upper end (``high is None``): nothing tells how far such a count errs upwards.

Counts are whole animals, so the interval ``[p + q_low * s, p + q_high * s]`` is reported as the
integers inside it (``ceil`` of the lower end, ``floor`` of the upper end, lower end at least 0): the
same true counts are covered, so the coverage holds unchanged.

Example:
    >>> cal = IntervalCalibration.fit({"race": ([1] * 9, [1] * 8 + [2])}, coverage=0.9)
    >>> cal.interval(1, "race")
    CountInterval(low=0, high=2)
    >>> cal.interval(3, "race")  # above every calibrated count (1): no upper end is known
    CountInterval(low=2, high=None)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vision.errors import CalibrationError
from vocabulary.cameras import CAMERA_PROFILES, INTERVAL_COVERAGE

SCALES: tuple[str, ...] = ("constant", "sqrt", "linear")
"""How a score is normalised by the predicted count ``p``: 1, sqrt(p + 1), p + 1."""

_EPS = 1e-9  # float slack so that 2.9999999999 still counts as the whole animal 3


@dataclass(frozen=True)
class CountInterval:
    """A head-count range at the calibration's coverage.

    Attributes:
        low: least plausible head count (0 or more).
        high: greatest plausible head count; ``None`` means unbounded above (too few calibration frames).
    """

    low: int
    high: int | None

    @property
    def width(self) -> int | None:
        """``high - low`` in head; ``None`` when unbounded."""
        return None if self.high is None else self.high - self.low

    def contains(self, count: int) -> bool:
        """Whether ``count`` lies in the interval (ends included)."""
        return count >= self.low and (self.high is None or count <= self.high)


@dataclass(frozen=True)
class IntervalMethod:
    """The nonconformity score of a profile: its scale and whether the two ends are fitted separately."""

    scale: str = "constant"
    asymmetric: bool = False

    def __post_init__(self) -> None:
        """Reject an unknown scale."""
        if self.scale not in SCALES:
            raise CalibrationError(f"Interval scale {self.scale!r} is not one of {list(SCALES)}")


def _scale(predicted: np.ndarray, scale: str) -> np.ndarray:
    p = np.maximum(np.asarray(predicted, dtype=float), 0.0)
    if scale == "sqrt":
        return np.sqrt(p + 1.0)
    if scale == "linear":
        return p + 1.0
    return np.ones_like(p)


def conformal_rank(n: int, alpha: float) -> int:
    """The 1-based rank ``ceil((n + 1)(1 - alpha))`` of the score that bounds ``n`` calibration frames.

    A rank above ``n`` means ``n`` frames cannot support the coverage ``1 - alpha``.
    """
    return math.ceil((n + 1) * (1 - alpha) - _EPS)


@dataclass(frozen=True)
class ProfileCalibration:
    """One camera profile's fitted interval.

    Attributes:
        method: the score (scale, two-sided or not).
        frames: number of calibration frames.
        q_low: lower end offset in scale units (``<= 0`` for a symmetric score); ``None``: no bound.
        q_high: upper end offset in scale units; ``None``: unbounded above (too few frames).
        max_predicted: the largest predicted count among the calibration frames; a count above it lies
            outside what the calibration saw, so its interval is unbounded above (``None``: no limit).
    """

    method: IntervalMethod
    frames: int
    q_low: float | None
    q_high: float | None
    max_predicted: float | None = None

    @property
    def bounded(self) -> bool:
        """Whether the profile had enough frames for a finite interval."""
        return self.q_high is not None

    @classmethod
    def fit(
        cls, predicted: Sequence[float], true: Sequence[int], *, coverage: float, method: IntervalMethod
    ) -> ProfileCalibration:
        """Fit from paired predicted and true counts of calibration frames.

        Raises:
            CalibrationError: the sequences differ in length, or the coverage is outside (0, 1).
        """
        if len(predicted) != len(true):
            raise CalibrationError(f"predicted ({len(predicted)}) and true ({len(true)}) counts must pair up")
        if not 0 < coverage < 1:
            raise CalibrationError(f"coverage must lie strictly between 0 and 1, got {coverage}")
        p, y = np.asarray(predicted, dtype=float), np.asarray(true, dtype=float)
        signed = np.sort((y - p) / _scale(p, method.scale))
        n, alpha = len(signed), 1 - coverage
        top = float(p.max()) if n else None
        if not method.asymmetric:
            k = conformal_rank(n, alpha)
            if k > n:
                return cls(method, n, None, None, top)
            q = float(np.sort(np.abs(signed))[k - 1])
            return cls(method, n, -q, q, top)
        k = conformal_rank(n, alpha / 2)
        if k > n:
            return cls(method, n, None, None, top)
        # upper end: the k-th smallest signed score; lower end: the k-th largest
        return cls(method, n, float(signed[n - k]), float(signed[k - 1]), top)

    def interval(self, predicted: float) -> CountInterval:
        """The whole-animal interval around one predicted count."""
        p = max(float(predicted), 0.0)
        if self.q_high is None or self.q_low is None:
            return CountInterval(0, None)
        s = float(_scale(np.array([p]), self.method.scale)[0])
        low = max(0, math.ceil(p + self.q_low * s - _EPS))
        high = math.floor(p + self.q_high * s + _EPS)
        if high < low:  # no whole count inside the real interval: keep the nearest one
            low = high = max(0, round(p))
        if self.max_predicted is not None and p > self.max_predicted + _EPS:
            return CountInterval(low, None)  # beyond the calibrated counts: no upper end is known
        return CountInterval(low, max(high, 0))


@dataclass(frozen=True)
class IntervalCalibration:
    """Count intervals for every camera profile at one coverage.

    Attributes:
        coverage: share of frames whose true count lies in the interval (e.g. 0.9).
        profiles: fitted calibration per camera profile name.
        model_sha256: the weights whose counts were calibrated (``None`` when unknown).
        fitted_on: what the pairs came from (set names, splits), for the record.
        counting: per profile, how the calibrated counts were made (inference setup and count rule,
            as ``farmtrust vision eval --folds`` chose them); the interval holds for counts made that way.
    """

    coverage: float
    profiles: Mapping[str, ProfileCalibration]
    model_sha256: str | None = None
    fitted_on: tuple[str, ...] = field(default=())
    counting: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        pairs: Mapping[str, tuple[Sequence[float], Sequence[int]]],
        *,
        coverage: float = INTERVAL_COVERAGE,
        methods: Mapping[str, IntervalMethod] | None = None,
        model_sha256: str | None = None,
        fitted_on: Sequence[str] = (),
        counting: Mapping[str, Mapping[str, object]] | None = None,
    ) -> IntervalCalibration:
        """Fit each profile from its ``(predicted counts, true counts)``.

        Args:
            pairs: per camera profile, the predicted and the true head count of each calibration frame.
            coverage: the stated coverage, in (0, 1).
            methods: the score per profile; default constant, symmetric.
            model_sha256: the weights that predicted the counts.
            fitted_on: labels of the data the pairs came from.
            counting: per profile, how the counts were made (recorded, not interpreted).

        Raises:
            CalibrationError: an unknown profile, unpaired counts, or a coverage outside (0, 1).
        """
        unknown = sorted(set(pairs) - set(CAMERA_PROFILES))
        if unknown:
            raise CalibrationError(f"Camera profiles {unknown} are unknown; use one of {list(CAMERA_PROFILES)}")
        methods = methods or {}
        fitted = {
            name: ProfileCalibration.fit(p, t, coverage=coverage, method=methods.get(name, IntervalMethod()))
            for name, (p, t) in pairs.items()
        }
        return cls(coverage, fitted, model_sha256, tuple(fitted_on), dict(counting or {}))

    def interval(self, count: float, profile: str) -> CountInterval:
        """The interval of one frame's count on a camera of ``profile``.

        Raises:
            CalibrationError: the profile was not calibrated.
        """
        try:
            fitted = self.profiles[str(profile)]
        except KeyError:
            raise CalibrationError(
                f"Camera profile {profile!r} has no interval calibration; calibrated: {sorted(self.profiles)}"
            ) from None
        return fitted.interval(count)

    def to_json(self) -> str:
        """JSON text (see :meth:`from_json`)."""
        data = {
            "coverage": self.coverage,
            "model_sha256": self.model_sha256,
            "fitted_on": list(self.fitted_on),
            "profiles": {name: asdict(p) for name, p in sorted(self.profiles.items())},
            "counting": {name: dict(c) for name, c in sorted(self.counting.items())},
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> IntervalCalibration:
        """Read what :meth:`to_json` wrote.

        Raises:
            CalibrationError: not valid JSON of that shape.
        """
        try:
            data = json.loads(text)
            profiles = {
                str(name): ProfileCalibration(
                    IntervalMethod(**p["method"]),
                    int(p["frames"]),
                    None if p["q_low"] is None else float(p["q_low"]),
                    None if p["q_high"] is None else float(p["q_high"]),
                    None if p.get("max_predicted") is None else float(p["max_predicted"]),
                )
                for name, p in data["profiles"].items()
            }
            return cls(
                float(data["coverage"]),
                profiles,
                data.get("model_sha256"),
                tuple(data.get("fitted_on", ())),
                {str(k): dict(v) for k, v in data.get("counting", {}).items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CalibrationError(f"Interval calibration is not valid JSON of the expected shape ({exc})") from None

    def save(self, path: Path) -> Path:
        """Write the JSON to ``path``."""
        path.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: Path) -> IntervalCalibration:
        """Read a calibration file.

        Raises:
            CalibrationError: the file is missing or malformed (the message names it).
        """
        try:
            return cls.from_json(path.read_text())
        except OSError as exc:
            raise CalibrationError(f"Interval calibration file {path} is unreadable ({exc.strerror})") from None
        except CalibrationError as exc:
            raise CalibrationError(f"Interval calibration file {path}: {exc}") from None


def intervals_path(model_path: Path) -> Path:
    """Where a model's interval calibration lives: ``<stem>.intervals.json`` beside the weights."""
    return model_path.with_name(f"{model_path.stem}.intervals.json")
