import numpy as np
import pytest

from tests.vision.samples import demo_sheep_val
from vision.errors import CalibrationError
from vision.images import read_image
from vision.intervals import CountInterval, IntervalCalibration, IntervalMethod, ProfileCalibration
from vision.model import LivestockModel
from vision.profile_counting import ProfileCounter


@pytest.fixture(scope="module")
def model():
    return LivestockModel.from_path()


def calibration(record):
    fitted = ProfileCalibration(IntervalMethod(), 20, -1.0, 2.0)  # count - 1 .. count + 2
    return IntervalCalibration(0.9, {"aerial": fitted}, None, (), {"aerial": record})


def test_threshold_rule_counts_like_detect_at_that_threshold(model):
    # reference: the model's own thresholded path (detect) with sheep at 0.5, a different score floor
    reference = model.profiled(thresholds={"sheep": 0.5})
    counter = ProfileCounter(
        model=model, calibration=calibration({"setup": "416", "rule": {"floor": 0.5}}), profile="aerial"
    )
    for path in demo_sheep_val()[:4]:
        image = read_image(path)
        (expected,) = reference.detect([image])
        got = counter.count(image)
        assert got.counts["sheep"] == expected.counts().get("sheep", 0)
        n = got.counts["sheep"]
        assert got.intervals["sheep"] == CountInterval(max(0, n - 1), n + 2)
        assert len(got.detections) == n  # one species in the frame: the kept boxes are the counted ones


def test_mass_rule_is_the_scaled_score_sum(model):
    image = read_image(demo_sheep_val()[0])
    (found,) = model.predict([image], conf=0.1)
    mass = float(found.confidence[np.array([s == "sheep" for s in found.species], bool)].sum())
    record = {"setup": "416", "rule": {"floor": 0.1, "mass": True, "factor": 2.0}}
    got = ProfileCounter(model=model, calibration=calibration(record), profile="aerial").count(image)
    assert got.counts["sheep"] == round(2.0 * mass)


@pytest.mark.parametrize(
    ("profile", "record", "match"),
    [
        ("race", {"setup": "416", "rule": {"floor": 0.5}}, "'race' has no counting record"),
        ("aerial", {"setup": "1999", "rule": {"floor": 0.5}}, "setup '1999'"),
    ],
)
def test_bad_records(model, profile, record, match):
    with pytest.raises(CalibrationError, match=match):
        ProfileCounter(model=model, calibration=calibration(record), profile=profile)


@pytest.mark.parametrize("setup", ["640", "tiled-416"])
def test_batched_counts_are_the_one_frame_at_a_time_counts(model, setup):
    # reference: each frame alone through the detector (tiles one by one), as the calibration counted them;
    # frames of two shapes (a half-size copy) in one call
    import cv2

    from vision.counting import tiled_detections
    from vision.crossval import SCORE_FLOOR, SETUPS

    images = [read_image(p) for p in demo_sheep_val()[:3]]
    images.insert(1, cv2.resize(images[0], (images[0].shape[1] // 2, images[0].shape[0] // 2)))
    chosen = next(s for s in SETUPS if s.name == setup)
    run = model.profiled(max_imgsz=chosen.max_imgsz, nms_iou=chosen.nms_iou, agnostic_nms=chosen.agnostic)
    record = {"setup": setup, "rule": {"floor": 0.3}}
    counter = ProfileCounter(model=model, calibration=calibration(record), profile="aerial")
    got = counter.count_many(images, batch_size=3)
    assert len(got) == len(images)
    for image, result in zip(images, got, strict=True):
        if chosen.tiled:
            alone = tiled_detections(
                image,
                detect=lambda tile: run.predict([tile], conf=SCORE_FLOOR)[0],
                slice_px=run.imgsz,
                overlap_px=run.imgsz // 5,
            )
        else:
            (alone,) = run.predict([image], conf=SCORE_FLOOR)
        kept = np.sort(alone.confidence[alone.confidence >= 0.3])
        assert result.counts["sheep"] == len(kept)
        np.testing.assert_allclose(np.sort(result.detections.confidence), kept, atol=1e-3)
