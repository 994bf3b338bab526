"""Grouped, stratified k-fold validation of counting: every choice made on a fold's training part only.

For each camera profile, inside each fold, the training part picks the inference setup (size cap,
tiling, NMS), the counting rule (score threshold, or score mass times a fitted factor) and the
interval score (:mod:`vision.intervals`); the held-out part is then scored with those choices: count
MAE and MAPE, and the share of frames whose true count lies in the 90 % interval and its mean width.
Figures are the mean and standard deviation over the folds that hold frames of a set.

Only frames the model was not trained on take part (:attr:`vision.folds.Frame.trained_on`): the
model's own training frames would make every figure optimistic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from vision.counting import tiled_detections
from vision.folds import Frame
from vision.images import read_image
from vision.intervals import SCALES, IntervalCalibration, IntervalMethod
from vision.model import DEFAULT_THRESHOLD
from vocabulary.cameras import INTERVAL_COVERAGE

if TYPE_CHECKING:
    from vision.model import LivestockModel

SCORE_FLOOR = 0.01
"""Boxes below this score are never counted by any rule, so they are not kept."""


@dataclass(frozen=True)
class InferenceSetup:
    """How the detector runs on a frame.

    Attributes:
        name: a short label for reports.
        max_imgsz: largest inference size in pixels (``None``: the model's training size).
        tiled: detect tile by tile (tiles of the training size, 20 % overlap) and merge at borders.
        nms_iou: IoU above which NMS merges two boxes (higher keeps more touching animals).
        agnostic: NMS across species (one box per animal even when two species score it).
        profiles: the camera profiles this setup is tried on (``()``: all).
    """

    name: str
    max_imgsz: int | None = None
    tiled: bool = False
    nms_iou: float = 0.7
    agnostic: bool = False
    profiles: tuple[str, ...] = ()


SETUPS: tuple[InferenceSetup, ...] = (
    InferenceSetup("416"),
    InferenceSetup("640", max_imgsz=640),
    InferenceSetup("832", max_imgsz=832, profiles=("wide", "aerial", "pen")),
    InferenceSetup("416-nms0.5", nms_iou=0.5),
    InferenceSetup("416-nms0.85", nms_iou=0.85),
    InferenceSetup("416-agnostic", agnostic=True),
    InferenceSetup("tiled-416", tiled=True, profiles=("wide", "aerial")),
)
"""Every setup tried; the first is the committed behaviour (docs/vision.md records each one's fold figures)."""

DEFAULT_SETUPS: tuple[str, ...] = ("416", "640", "tiled-416")
"""The setups ``eval --folds`` chooses from by default: those that won folds (docs/vision.md, fold runs)."""

MASS_PROFILES: tuple[str, ...] = ("wide", "aerial")
"""Profiles whose counts may be a calibrated soft count: views where the detector misses hidden animals."""

THRESHOLDS: tuple[float, ...] = tuple(round(float(x), 2) for x in np.arange(0.05, 0.91, 0.05))
MASS_FLOORS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
ALL_INTERVAL_METHODS: tuple[IntervalMethod, ...] = tuple(
    IntervalMethod(scale, asymmetric) for asymmetric in (False, True) for scale in SCALES
)
"""Every interval score tried (docs/vision.md records each one's fold coverage and width)."""

INTERVAL_METHODS: tuple[IntervalMethod, ...] = (IntervalMethod("sqrt"),)
"""The interval scores a fold chooses from: ``sqrt`` alone, which the folds proved (coverage at least
0.9 on every set and narrower than ``constant``; choosing the narrowest per fold lost coverage)."""


@dataclass(frozen=True)
class CountRule:
    """How box scores become a count.

    Attributes:
        floor: boxes scoring at least this take part.
        mass: ``False``: count them; ``True``: sum their scores times ``factor``, rounded (a calibrated
            soft count).
        factor: the soft count's scale, fitted as true head over score mass on the training part.
    """

    floor: float
    mass: bool = False
    factor: float = 1.0

    def count(self, scores: np.ndarray) -> int:
        """The head count of one frame from its box scores for the frame's species."""
        kept = scores[scores >= self.floor]
        return round(self.factor * float(kept.sum())) if self.mass else len(kept)


@dataclass(frozen=True)
class ProfileChoice:
    """What a fold's training part chose for one camera profile."""

    setup: str
    rule: CountRule
    interval: IntervalMethod


Scores = Mapping[str, list[np.ndarray]]
"""Per setup name, the box scores (of the frame's species) of every frame, in frame order."""

Chooser = Callable[[Sequence[Frame], Sequence[int], Scores, str], ProfileChoice]
"""Picks a profile's setup, rule and interval score from frames ``index`` (see :func:`choose`)."""


def setup_applies(setup: InferenceSetup, profile: str) -> bool:
    """Whether the folds try ``setup`` on cameras of ``profile``."""
    return not setup.profiles or profile in setup.profiles


def predict_scores(
    model: LivestockModel,
    frames: Sequence[Frame],
    setup: InferenceSetup,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Box scores of each frame's species under ``setup`` (empty for frames of profiles it does not apply to)."""
    run = model.profiled(max_imgsz=setup.max_imgsz, nms_iou=setup.nms_iou, agnostic_nms=setup.agnostic)
    out: list[np.ndarray] = []
    for frame in frames:
        if not setup_applies(setup, frame.profile):
            out.append(np.zeros(0, np.float32))
        else:
            image = read_image(frame.path)
            if setup.tiled:
                found = tiled_detections(
                    image,
                    detect=lambda tile: run.predict([tile], conf=SCORE_FLOOR)[0],
                    slice_px=run.imgsz,
                    overlap_px=run.imgsz // 5,
                )
            else:
                (found,) = run.predict([image], conf=SCORE_FLOOR)
            mine = np.array([s == frame.species for s in found.species], dtype=bool)
            out.append(found.confidence[mine].astype(np.float32) if len(found) else np.zeros(0, np.float32))
        if progress:
            progress(1)
    return out


def relative_error(predicted: Sequence[float], true: Sequence[int]) -> float:
    """Mean of ``|p - t| / max(t, 1)`` over frames: MAPE that also charges frames without animals."""
    p, t = np.asarray(predicted, float), np.asarray(true, float)
    return float(np.mean(np.abs(p - t) / np.maximum(t, 1))) if len(t) else math.inf


def _rules(scores: list[np.ndarray], true: list[int], profile: str) -> list[CountRule]:
    rules = [CountRule(t) for t in THRESHOLDS]
    for floor in MASS_FLOORS if profile in MASS_PROFILES else ():
        mass = sum(float(s[s >= floor].sum()) for s in scores)
        if mass > 0:
            rules.append(CountRule(floor, mass=True, factor=round(sum(true) / mass, 4)))
    return rules


def choose(frames: Sequence[Frame], index: Sequence[int], scores: Scores, profile: str) -> ProfileChoice:
    """The setup, count rule and interval score with the least error on ``index`` (one profile's frames).

    Ties keep the earlier candidate (the committed setup, a plain threshold), so a change must win.
    """
    true = [frames[i].true_count for i in index]
    best: tuple[float, str, CountRule] | None = None
    for setup in SETUPS:
        if not setup_applies(setup, profile) or setup.name not in scores:
            continue
        part = [scores[setup.name][i] for i in index]
        for rule in _rules(part, true, profile):
            error = relative_error([rule.count(s) for s in part], true)
            if best is None or error < best[0] - 1e-9:
                best = (error, setup.name, rule)
    assert best is not None, "no setup was run"
    _, setup_name, rule = best
    predicted = [rule.count(scores[setup_name][i]) for i in index]
    return ProfileChoice(setup_name, rule, _interval_method(predicted, true))


def committed_chooser(thresholds: Mapping[str, float]) -> Chooser:
    """No choice but the interval score: the committed setup (416) and species thresholds, for a baseline."""

    def chooser(frames: Sequence[Frame], index: Sequence[int], scores: Scores, profile: str) -> ProfileChoice:
        rule = CountRule(thresholds.get(frames[index[0]].species, DEFAULT_THRESHOLD))
        true = [frames[i].true_count for i in index]
        predicted = [rule.count(scores[SETUPS[0].name][i]) for i in index]
        return ProfileChoice(SETUPS[0].name, rule, _interval_method(predicted, true))

    return chooser


def _interval_method(predicted: list[int], true: list[int]) -> IntervalMethod:
    """The interval score with the least mean width on these frames (a bounded one before unbounded)."""

    def width(method: IntervalMethod) -> float:
        fitted = IntervalCalibration.fit({"race": (predicted, true)}, methods={"race": method}).profiles["race"]
        widths = [fitted.interval(p).width for p in predicted]
        return math.inf if any(w is None for w in widths) else float(np.mean(widths))

    return min(INTERVAL_METHODS, key=width)  # with one method, no choice is made


def calibrate(
    frames: Sequence[Frame], index: Sequence[int], scores: Scores, choices: Mapping[str, ProfileChoice]
) -> IntervalCalibration:
    """Fit each profile's interval on the frames of ``index`` with its chosen setup, rule and score."""
    pairs: dict[str, tuple[list[int], list[int]]] = {}
    for profile, choice in choices.items():
        mine = [i for i in index if frames[i].profile == profile]
        predicted = [choice.rule.count(scores[choice.setup][i]) for i in mine]
        pairs[profile] = (predicted, [frames[i].true_count for i in mine])
    return IntervalCalibration.fit(
        pairs, coverage=INTERVAL_COVERAGE, methods={p: c.interval for p, c in choices.items()}
    )


def score_frames(
    frames: Sequence[Frame], index: Sequence[int], scores: Scores, choice: ProfileChoice, cal: IntervalCalibration
) -> dict[str, float | int | None]:
    """Held-out figures of one set in one fold: MAE, MAPE, interval coverage and mean width."""
    true = np.array([frames[i].true_count for i in index], float)
    pred = np.array([choice.rule.count(scores[choice.setup][i]) for i in index], float)
    intervals = [cal.interval(int(p), frames[i].profile) for p, i in zip(pred, index, strict=True)]
    nz = true > 0
    widths = [iv.width for iv in intervals if iv.width is not None]
    return {
        "images": len(index),
        "count_mae": float(np.mean(np.abs(pred - true))),
        "count_mape": float(np.mean(np.abs(pred[nz] - true[nz]) / true[nz]) * 100) if nz.any() else None,
        "interval_coverage": float(np.mean([iv.contains(int(t)) for iv, t in zip(intervals, true, strict=True)])),
        "interval_mean_width": float(np.mean(widths)) if widths else None,
        "interval_unbounded": 1 - len(widths) / len(intervals),
        "pairs": [(int(t), int(p)) for t, p in zip(true, pred, strict=True)],
    }


def cross_validate(
    frames: Sequence[Frame],
    folds: Sequence[int],
    scores: Scores,
    *,
    progress: Callable[[int], None] | None = None,
    chooser: Chooser | None = None,
) -> tuple[dict[str, list[dict]], list[dict[str, dict]]]:
    """Per set, the held-out figures of every fold that holds it; and each fold's choices per profile.

    Args:
        frames: the frames (not trained on).
        folds: the fold of each frame (:func:`vision.folds.stratified_group_folds`).
        scores: box scores per setup and frame.
        progress: called with 1 after each fold.
        chooser: how a training part makes its choices (default :func:`choose`).
    """
    chooser = chooser or choose
    per_set: dict[str, list[dict]] = {}
    chosen: list[dict[str, dict]] = []
    profiles = sorted({f.profile for f in frames})
    for fold in sorted(set(folds)):
        train = [i for i, k in enumerate(folds) if k != fold]
        test = [i for i, k in enumerate(folds) if k == fold]
        choices = {
            p: chooser(frames, [i for i in train if frames[i].profile == p], scores, p)
            for p in profiles
            if any(frames[i].profile == p for i in train)
        }
        cal = calibrate(frames, train, scores, choices)
        for set_name in sorted({frames[i].set_name for i in test}):
            mine = [i for i in test if frames[i].set_name == set_name]
            profile = frames[mine[0]].profile
            if profile in choices:
                per_set.setdefault(set_name, []).append(
                    score_frames(frames, mine, scores, choices[profile], cal) | {"fold": fold}
                )
        chosen.append({p: describe(c) for p, c in choices.items()})
        if progress:
            progress(1)
    return per_set, chosen


def describe(choice: ProfileChoice) -> dict:
    """A JSON-ready record of one choice."""
    return {"setup": choice.setup, "rule": asdict(choice.rule), "interval": asdict(choice.interval)}


def by_animals(figures: list[dict]) -> dict[str, dict[str, float | int]]:
    """Held-out error pooled over folds per bin of animals per frame (``COUNT_BINS``): how crowding hurts."""
    from vision.folds import COUNT_BINS

    pooled: dict[int, list[tuple[int, int]]] = {}
    for figure in figures:
        for t, p in figure.get("pairs", ()):
            pooled.setdefault(max(b for b in COUNT_BINS if b <= t), []).append((t, p))
    out = {}
    for edge in sorted(pooled):
        t, p = (np.array(v, float) for v in zip(*pooled[edge], strict=True))
        nz = t > 0
        out[f"{edge}+"] = {
            "frames": len(t),
            "count_mae": round(float(np.mean(np.abs(p - t))), 3),
            "mean_error": round(float(np.mean(p - t)), 3),
            "count_mape": round(float(np.mean(np.abs(p[nz] - t[nz]) / t[nz]) * 100), 1) if nz.any() else None,
        }
    return out


def summarise(figures: list[dict]) -> dict[str, float | int | None]:
    """Mean and standard deviation over folds of each figure (``None`` when a fold has none).

    ``interval_mean_width`` is over the bounded intervals; ``interval_unbounded`` is the share without
    an upper end (too few calibration frames, or a count beyond the calibrated ones).
    """
    out: dict[str, float | int | None] = {"folds": len(figures), "images": sum(f["images"] for f in figures)}
    for key in ("count_mae", "count_mape", "interval_coverage", "interval_mean_width", "interval_unbounded"):
        values = [f[key] for f in figures if f.get(key) is not None]
        if not values:
            out[key] = out[f"{key}_sd"] = None
            continue
        out[key] = round(float(np.mean(values)), 3)
        out[f"{key}_sd"] = round(float(np.std(values, ddof=1)), 3) if len(values) > 1 else 0.0
    return out
