import numpy as np
import pytest

from remote_sensing import LandClass, ProfileAccumulator, Thresholds, ThresholdsError
from remote_sensing.masks import clear_from_blue, clear_from_qa_pixel, clear_from_scl, evi, ndvi


def _series(*values):
    return [np.array([v], dtype=np.float32) for v in values]


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ((0.15, 0.2, 0.5, 0.8, 0.85, 0.4), LandClass.TEMPORARY_CROP),  # bare phase then green peak
        ((0.8, 0.75, 0.7, 0.45, 0.8, 0.85), LandClass.GRASSLAND),  # stays green, a mowing dip only
        ((0.8, 0.2, 0.8, 0.8, 0.8, 0.8), LandClass.GRASSLAND),  # one bare date (e.g. unmasked shadow) is not enough
        ((0.05, 0.1, 0.08, 0.1, 0.05, 0.1), LandClass.OTHER),  # never green: built-up or bare
        ((0.5, 0.45, 0.55, 0.5, 0.5, 0.5), LandClass.OTHER),  # sparse
    ],
)
def test_profiles(profile, expected):
    acc = ProfileAccumulator(shape=(1,), thresholds=Thresholds())
    for v in _series(*profile):
        acc.add(ndvi=v, clear=np.array([True]))
    assert acc.classes()[0] == expected


def test_cloudy_dates_do_not_count_and_too_few_is_unknown():
    acc = ProfileAccumulator(shape=(1,), thresholds=Thresholds())
    for v, c in zip(_series(0.1, 0.1, 0.8, 0.8), [True, False, True, False], strict=True):
        acc.add(ndvi=v, clear=np.array([c]))
    assert acc.clear[0] == 2 and acc.classes()[0] == LandClass.UNKNOWN
    relaxed = ProfileAccumulator(
        shape=(1,), thresholds=Thresholds(min_bare_observations=1, min_green_observations=1, min_pixel_observations=2)
    )
    for v in _series(0.1, 0.8):
        relaxed.add(ndvi=v, clear=np.array([True]))
    assert relaxed.classes()[0] == LandClass.TEMPORARY_CROP


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bare_ndvi_max": 0.7}, "must be below green_ndvi_min=0.6"),
        ({"green_ndvi_min": 1.5}, "is not an NDVI"),
        ({"min_bare_observations": 0}, "must be at least 1"),
        ({"min_clear_fraction": 2.0}, "between 0 and 1"),
        ({"min_clear_observations": -1}, "must be >= 0"),
    ],
)
def test_threshold_errors(kwargs, match):
    with pytest.raises(ThresholdsError, match=match):
        Thresholds(**kwargs)


def test_masks_and_indices():
    assert clear_from_scl(np.array([0, 3, 4, 5, 6, 8, 9, 10])).tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    qa = np.array(
        [21824, 21952, 22280, 23888, 1, 54596], dtype=np.uint16
    )  # clear, clear+water, cloud, shadow, fill, cirrus
    assert clear_from_qa_pixel(qa).tolist() == [True, True, False, False, False, False]
    assert clear_from_blue(np.array([0.04, 0.35]), cloud_blue_min=0.2).tolist() == [True, False]
    assert ndvi(red=np.array([0.04]), nir=np.array([0.4]))[0] == pytest.approx(0.818, abs=1e-3)
    assert np.isnan(ndvi(red=np.array([0.0]), nir=np.array([0.0]))[0])
    assert evi(blue=np.array([0.03]), red=np.array([0.04]), nir=np.array([0.4]))[0] == pytest.approx(
        2.5 * 0.36 / (0.4 + 0.24 - 0.225 + 1), abs=1e-4
    )
