"""Split-conformal count intervals: expected values derived by hand in each case's comment."""

import numpy as np
import pytest

from vision.errors import CalibrationError
from vision.intervals import (
    CountInterval,
    IntervalCalibration,
    IntervalMethod,
    ProfileCalibration,
    conformal_rank,
    intervals_path,
)


@pytest.mark.parametrize(
    ("n", "coverage", "rank"),
    [
        (9, 0.9, 9),  # ceil(10 * 0.9) = 9
        (8, 0.9, 9),  # ceil(9 * 0.9) = ceil(8.1) = 9 > 8: too few frames
        (19, 0.9, 18),  # ceil(20 * 0.9) = 18
        (38, 0.9, 36),  # ceil(39 * 0.9) = ceil(35.1) = 36
        (19, 0.95, 19),  # two-sided at 90 %: ceil(20 * 0.95) = 19
        (18, 0.95, 19),  # ceil(19 * 0.95) = ceil(18.05) = 19 > 18
    ],
)
def test_conformal_rank(n, coverage, rank):
    assert conformal_rank(n, 1 - coverage) == rank


def fit(predicted, true, *, scale="constant", asymmetric=False, coverage=0.9):
    return ProfileCalibration.fit(
        predicted, true, coverage=coverage, method=IntervalMethod(scale=scale, asymmetric=asymmetric)
    )


@pytest.mark.parametrize(
    ("predicted", "true", "scale", "asymmetric", "at", "expected"),
    [
        # |y - p| = 0 x7, 1, 3; rank 9 of 9 -> q = 3; 5 +- 3 = [2, 8]
        ([5] * 9, [5] * 7 + [6, 2], "constant", False, 5, CountInterval(2, 8)),
        # same q = 3 at count 1: [-2, 4], the lower end clipped to 0
        ([5] * 9, [5] * 7 + [6, 2], "constant", False, 1, CountInterval(0, 4)),
        # 19 frames with |y - p| = 0..18, rank 18 -> q = 17; 10 +- 17 -> [0, 27]
        ([10] * 19, [10 + d for d in range(19)], "constant", False, 10, CountInterval(0, 27)),
        # sqrt scale: s = sqrt(3 + 1) = 2 at 3, sqrt(8 + 1) = 3 at 8; scores 0 x8, 1 -> q = 1; at 8: [5, 11]
        ([3] * 8 + [8], [3] * 7 + [5, 8], "sqrt", False, 8, CountInterval(5, 11)),
        # scores 0 x7, 1, 1 -> q = 1; at 0: s = 1 -> [-1, 1] -> [0, 1]
        ([3] * 9, [3] * 7 + [5, 1], "sqrt", False, 0, CountInterval(0, 1)),
        # linear scale: s = 1 + 1 = 2 at 1, scores 0 x8, 0.5 -> q = 0.5; at 9: s = 10 -> [4, 14]
        ([1] * 8 + [9], [1] * 7 + [2, 9], "linear", False, 9, CountInterval(4, 14)),
        # two-sided, 19 frames, signed y - p = -1, 0 x10, 1..8; rank 19 -> upper 8, lower -1; at 4: [3, 12]
        ([4] * 19, [3] + [4] * 10 + [4 + d for d in range(1, 9)], "constant", True, 4, CountInterval(3, 12)),
    ],
)
def test_interval_hand_derived(predicted, true, scale, asymmetric, at, expected):
    assert fit(predicted, true, scale=scale, asymmetric=asymmetric).interval(at) == expected


def test_soft_count_keeps_the_whole_counts_inside():
    # a soft count (score mass) 2.4 with q = 0.5: [1.9, 2.9] holds only the whole count 2
    assert ProfileCalibration(IntervalMethod(), 9, -0.5, 0.5).interval(2.4) == CountInterval(2, 2)
    # [2.6 - 0.3, 2.6 + 0.3] = [2.3, 2.9] holds no whole count: the nearest, 3, is kept
    cal = ProfileCalibration(IntervalMethod(), 9, -0.3, 0.3)
    assert cal.interval(2.6) == CountInterval(3, 3)


@pytest.mark.parametrize(
    ("n", "asymmetric"),
    [(8, False), (0, False), (18, True), (9, True)],
)
def test_too_few_frames_is_unbounded_not_narrow(n, asymmetric):
    cal = fit([1] * n, [1] * n, asymmetric=asymmetric)
    assert not cal.bounded
    found = cal.interval(7)
    assert found == CountInterval(0, None)
    assert found.width is None
    assert found.contains(10_000)


def test_enough_frames_is_bounded():
    assert fit([1] * 9, [1] * 9).bounded
    assert fit([1] * 19, [1] * 19, asymmetric=True).bounded


def test_coverage_holds_on_exchangeable_frames():
    # Reference: the split-conformal guarantee P(y in interval) >= 1 - a for exchangeable data.
    # Simulated herds: true counts Poisson(8), a detector missing each animal with probability 0.3.
    rng = np.random.default_rng(7)
    hits, trials, n = 0, 3000, 20
    for _ in range(trials):
        true = rng.poisson(8, size=n + 1)
        predicted = rng.binomial(true, 0.7)
        cal = fit(predicted[:n], true[:n], scale="sqrt")
        hits += cal.interval(predicted[n]).contains(int(true[n]))
    # rank 19 of 20 gives at least 19/21 = 0.905; 3 standard errors of 3000 draws is 0.016
    assert hits / trials >= 0.9 - 0.016


def test_calibration_fits_profiles_and_round_trips(tmp_path):
    cal = IntervalCalibration.fit(
        {"race": ([1] * 9, [1] * 8 + [2]), "wide": ([2] * 5, [9] * 5)},
        coverage=0.9,
        methods={"wide": IntervalMethod("linear", asymmetric=True)},
        model_sha256="ab" * 32,
        fitted_on=("cattle_chute:val",),
        counting={"race": {"setup": "416", "threshold": 0.3}},
    )
    assert cal.interval(1, "race") == CountInterval(0, 2)
    assert cal.interval(2, "wide") == CountInterval(0, None)  # 5 frames: too few
    path = cal.save(tmp_path / "m.intervals.json")
    again = IntervalCalibration.load(path)
    assert again == cal
    assert again.profiles["wide"].method == IntervalMethod("linear", asymmetric=True)
    assert again.counting == {"race": {"setup": "416", "threshold": 0.3}}


def test_intervals_path_beside_weights(tmp_path):
    assert intervals_path(tmp_path / "farmtrust_livestock.pt") == tmp_path / "farmtrust_livestock.intervals.json"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: IntervalCalibration.fit({"drone": ([1], [1])}), "drone"),
        (lambda: fit([1, 2], [1]), r"predicted \(2\) and true \(1\)"),
        (lambda: fit([1], [1], coverage=1.0), "coverage"),
        (lambda: IntervalMethod("log"), "'log'"),
        (lambda: IntervalCalibration.fit({"race": ([1], [1])}).interval(1, "pen"), "'pen'"),
        (lambda: IntervalCalibration.from_json('{"coverage": 0.9}'), "profiles"),
    ],
)
def test_bad_input_names_the_field(call, match):
    with pytest.raises(CalibrationError, match=match):
        call()


def test_load_missing_file_names_it(tmp_path):
    with pytest.raises(CalibrationError, match=r"nothing\.json"):
        IntervalCalibration.load(tmp_path / "nothing.json")


def test_count_beyond_the_calibrated_ones_has_no_upper_end():
    # calibrated on counts 1 and 2 only (q = 1, constant): a count of 6 keeps its lower end 6 - 1 = 5
    cal = fit([1] * 5 + [2] * 4, [1] * 4 + [2] + [2] * 4)
    assert cal.max_predicted == 2
    assert cal.interval(2) == CountInterval(1, 3)
    assert cal.interval(6) == CountInterval(5, None)


def test_the_committed_calibration_fits_the_committed_model():
    from vision.model import default_model_path, file_sha256
    from vocabulary.cameras import CAMERA_PROFILES, INTERVAL_COVERAGE

    cal = IntervalCalibration.load(intervals_path(default_model_path()))
    assert cal.model_sha256 == file_sha256(default_model_path())
    assert cal.coverage == INTERVAL_COVERAGE
    assert set(cal.profiles) == set(CAMERA_PROFILES) == set(cal.counting)
    # the frames the model did not train on (vision/models/PROVENANCE.md): val 38 + 100 + 11, points 46
    assert {p: c.frames for p, c in cal.profiles.items()} == {"race": 38, "pen": 100, "aerial": 11, "wide": 46}
    assert all(c.bounded for c in cal.profiles.values())  # every profile has at least 9 frames
