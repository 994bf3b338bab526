from pathlib import Path

import numpy as np
import pytest

from vision.crossval import CountRule, choose, cross_validate, relative_error, summarise
from vision.folds import Frame
from vision.intervals import IntervalMethod


def frames_of(counts, profile="race", set_name="chute"):
    return [
        Frame(set_name, profile, Path(f"{set_name}{i}.jpg"), "cattle", n, f"g{i // 2}", False)
        for i, n in enumerate(counts)
    ]


def test_relative_error_charges_empty_frames():
    # |2-1|/1, |0-0|/1, |3-6|/6 -> (1 + 0 + 0.5) / 3
    assert relative_error([2, 0, 3], [1, 0, 6]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("rule", "scores", "count"),
    [
        (CountRule(0.5), [0.9, 0.5, 0.49], 2),
        (CountRule(0.1, mass=True, factor=1.5), [0.9, 0.8, 0.05], 3),  # 1.5 * (0.9 + 0.8) = 2.55 -> 3
        (CountRule(0.1, mass=True, factor=1.0), [0.05], 0),
    ],
)
def test_count_rule(rule, scores, count):
    assert rule.count(np.array(scores)) == count


def test_choose_prefers_the_threshold_and_setup_that_count_right():
    counts = [1, 2, 3, 1, 2, 3, 1, 2, 3, 4]
    frames = frames_of(counts)
    # "416": each animal at 0.9 plus two spurious boxes at 0.3 -> thresholds 0.35..0.9 are exact,
    # the earliest in the grid (0.35) is kept; "640" misses one animal per frame -> never chosen
    scores = {
        "416": [np.array([0.9] * n + [0.3, 0.3]) for n in counts],
        "640": [np.array([0.9] * (n - 1)) for n in counts],
    }
    choice = choose(frames, range(len(frames)), scores, "race")
    assert choice.setup == "416"
    assert choice.rule == CountRule(0.35)
    assert choice.interval == IntervalMethod("sqrt", False)  # the one score the folds proved


def test_cross_validate_scores_held_out_folds():
    counts = [1, 2] * 10
    frames = frames_of(counts)
    scores = {"416": [np.array([0.9] * n) for n in counts]}
    folds = [i // 10 for i in range(20)]  # groups g0..g9 whole in fold 0 and 1
    per_set, chosen = cross_validate(frames, folds, scores)
    assert [f["images"] for f in per_set["chute"]] == [10, 10]
    for fold in per_set["chute"]:
        assert fold["count_mae"] == 0 and fold["interval_coverage"] == 1.0
        assert fold["interval_mean_width"] == 0.0  # 10 calibration frames >= 9: bounded
    assert chosen[0]["race"]["setup"] == "416"


def test_summarise_mean_and_sd():
    figures = [
        {"images": 2, "count_mae": 1.0, "count_mape": 10.0, "interval_coverage": 1.0, "interval_mean_width": 2.0},
        {"images": 3, "count_mae": 3.0, "count_mape": 30.0, "interval_coverage": 0.5, "interval_mean_width": None},
    ]
    out = summarise(figures)
    assert out["images"] == 5 and out["folds"] == 2
    assert out["count_mae"] == 2.0 and out["count_mae_sd"] == pytest.approx(1.414, abs=1e-3)  # sd of 1, 3
    assert out["interval_coverage"] == 0.75
    assert out["interval_mean_width"] == 2.0  # the folds with a bounded interval


def test_predict_scores_tiled_finds_each_copy_of_a_mosaic(tmp_path):
    import cv2

    from tests.vision.samples import demo_sheep_val
    from vision.crossval import SETUPS, predict_scores
    from vision.model import LivestockModel

    model = LivestockModel.from_path()
    tile = cv2.imread(str(demo_sheep_val()[8]))
    mosaic = tmp_path / "mosaic.jpg"
    cv2.imwrite(str(mosaic), np.concatenate([np.concatenate([tile, tile], axis=1)] * 2, axis=0))
    frames = [
        Frame("flock", "aerial", demo_sheep_val()[8], "sheep", 0, "g", False),
        Frame("flock", "aerial", mosaic, "sheep", 0, "g", False),
        Frame("race", "race", mosaic, "sheep", 0, "g", False),  # tiling is not tried on race cameras
    ]
    setups = {s.name: s for s in SETUPS}
    single, four, race = predict_scores(model, frames, setups["tiled-416"])
    one = int((single >= 0.5).sum())
    # four copies of the frame: about four times the animals, no doubles at the seams
    assert abs(int((four >= 0.5).sum()) - 4 * one) <= max(2, one)
    assert len(race) == 0
