"""``farmtrust vision eval --folds K`` end to end: frames, detector runs per setup, folds, final calibration.

The figures come from :func:`vision.crossval.cross_validate` (choices on each fold's training part,
scored on its held-out part). The final calibration is chosen and fitted the same way on all the
frames the model did not train on, after the folds have shown what that procedure scores on data it
did not see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vision.crossval import (
    DEFAULT_SETUPS,
    SETUPS,
    Chooser,
    InferenceSetup,
    by_animals,
    calibrate,
    choose,
    committed_chooser,
    cross_validate,
    describe,
    predict_scores,
)
from vision.crossval import summarise as summarise_folds
from vision.errors import DatasetError
from vision.folds import Frame, catalog, stratified_group_folds
from vision.intervals import IntervalCalibration

if TYPE_CHECKING:
    from vision.model import LivestockModel

SCORED = "held-out frames the model did not train on (val splits, later point frames); trained-on frames left out"


@dataclass(frozen=True)
class FoldReport:
    """What ``eval --folds`` prints: per set the fold figures, each fold's choices, the final calibration."""

    sets: dict[str, dict]
    fold_choices: list[dict[str, dict]]
    calibration: IntervalCalibration
    frames: int
    trained_on_left_out: int


def select_setups(names: Sequence[str] | None) -> tuple[InferenceSetup, ...]:
    """The setups named (``DEFAULT_SETUPS`` by default, ``all`` for every one); the committed one always runs.

    Raises:
        DatasetError: an unknown setup name.
    """
    names = list(names or DEFAULT_SETUPS)
    if names == ["all"]:
        return SETUPS
    known = {s.name: s for s in SETUPS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DatasetError(f"--setup {unknown[0]!r} is unknown; choose from {list(known)}")
    return tuple(s for s in SETUPS if s.name in names or s is SETUPS[0])


def fold_report(
    model: LivestockModel,
    roots: Sequence[Path],
    *,
    folds: int,
    setups: Sequence[InferenceSetup] = SETUPS,
    committed: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> FoldReport:
    """Run the grouped, stratified ``folds``-fold validation over the sets under ``roots``.

    Args:
        model: the detector.
        roots: folders of sets (or set folders) with images/ and labels/ or points/.
        folds: number of folds, at least 2.
        setups: inference setups to choose from.
        committed: make no choice (the committed setup and thresholds); only the interval is fitted.
        progress: called as ``(stage, done, total)``.

    Raises:
        DatasetError: no set under a root, fewer than ``folds`` groups, or a bad fold count.
    """
    every = [f for root in roots for f in catalog(root)]
    frames = [f for f in every if not f.trained_on]
    if not frames:
        raise DatasetError(f"{', '.join(map(str, roots))} hold no frame the model did not train on")
    fold_of = stratified_group_folds(frames, folds)
    if len(set(fold_of)) < folds:
        raise DatasetError(f"--folds {folds} is more than the {len(set(fold_of))} scene/time groups allow")
    scores: dict[str, list] = {}
    for n, setup in enumerate(setups):
        done = [0]

        def step(k: int, *, _name: str = setup.name, _done: list[int] = done, _n: int = n) -> None:
            _done[0] += k
            if progress:
                progress(f"detecting ({_name}, setup {_n + 1}/{len(setups)})", _done[0], len(frames))

        scores[setup.name] = predict_scores(model, frames, setup, progress=step)
    chooser = committed_chooser(model.thresholds) if committed else choose
    per_set, chosen = cross_validate(frames, fold_of, scores, chooser=chooser)
    sets = {name: _set_summary(frames, name, figures) for name, figures in per_set.items()}
    calibration = final_calibration(model, frames, scores, chooser=chooser)
    return FoldReport(sets, chosen, calibration, len(frames), len(every) - len(frames))


def _set_summary(frames: Sequence[Frame], name: str, figures: list[dict]) -> dict:
    mine = [f for f in frames if f.set_name == name]
    summary = summarise_folds(figures)
    species = mine[0].species
    summary["profile"] = mine[0].profile
    summary["true_count"] = sum(f.true_count for f in mine)
    summary["species"] = {species: {k: v for k, v in summary.items() if k != "species"}}
    summary["by_animals_per_frame"] = by_animals(figures)
    return summary


def final_calibration(
    model: LivestockModel, frames: Sequence[Frame], scores: dict[str, list], *, chooser: Chooser = choose
) -> IntervalCalibration:
    """Choose and fit on every frame given (the procedure the folds scored), per camera profile."""
    index = range(len(frames))
    choices = {
        p: chooser(frames, [i for i in index if frames[i].profile == p], scores, p)
        for p in sorted({f.profile for f in frames})
    }
    fitted = calibrate(frames, list(index), scores, choices)
    sets = sorted({f"{f.set_name}:{sum(g.set_name == f.set_name for g in frames)} frames" for f in frames})
    return IntervalCalibration(
        fitted.coverage,
        fitted.profiles,
        model.identity.sha256,
        tuple(sets),
        {p: describe(c) for p, c in choices.items()},
    )
