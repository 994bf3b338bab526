"""The committed model on real labelled photos: count error within bounds justified by docs/vision.md.

The repository's MIT thermal sheep frames run everywhere; the shared validation sets (no licence, kept
in /work/shared) are read in place when that folder exists, by parametrizing over what is there.
Bounds are the measured validation error of the committed model (docs/vision.md, accuracy table)
plus a margin for CPU kernel differences between machines, and far below the COCO model's error,
so a regression to a generic model fails them.
"""

import pytest

from tests.vision.samples import DEMO_SHEEP, SHARED
from vision.evaluation import load_sets, predict_sets, score_set
from vision.model import LivestockModel

# Measured on the validation splits with the committed model (docs/vision.md), COCO model in brackets:
# sheep (repository sample = the shared sheep val split, 11 frames, 17 sheep): MAE 0.36 [1.55], total 17 of 17 [0],
# mAP50 0.64 [0.0]. Bounds: MAE 0.6, total within 3 heads, mAP50 0.5: about 1.5x the measured error, and
# far from the COCO model.
MAE_SHEEP, TOTAL_SHEEP_HEADS, MAP_SHEEP = 0.6, 3, 0.5
# set name -> (dataset path, every n-th image, bound on count MAE, bound on |total error| %)
SHARED_SETS = {
    # measured MAE 0.026, total +2.1 % [COCO: MAE 1.24, -98 %]
    "cattle_chute": (SHARED / "cattle_chute", 1, 0.15, 10.0),
    # every 4th frame (25 frames, 71 pigs) keeps the test fast: measured MAE 0.64, total +14 % [COCO: 2.84, -100 %]
    "pig_pen": (SHARED / "pig_pen", 4, 1.0, 25.0),
    # dense herds, not yet solved: measured MAE 16.5, total -75 % [COCO: 17.1, -81 %]; the bound only guards
    # against getting worse than the COCO model (see docs/vision.md, "Not good enough yet")
    "cattle_pasture_cams": (SHARED / "cattle_pasture_cams", 1, 17.1, 81.0),
}
# The repository sample is always a case, so the parametrization is never empty (an empty one is a skip).
CASES = {"repo_sheep_thermal": (DEMO_SHEEP, 1, MAE_SHEEP, 100 * TOTAL_SHEEP_HEADS / 17), **SHARED_SETS}
PRESENT = [name for name, (path, *_) in CASES.items() if path.is_dir()]


@pytest.fixture(scope="module")
def model():
    return LivestockModel.from_path()


def _score(model, labelled, every):
    from dataclasses import replace

    subset = replace(labelled, images=labelled.images[::every])
    (_, found), *_ = predict_sets(model, [subset])
    return subset, score_set(subset, found, model.thresholds)


def test_thermal_sheep_sample_from_the_repository(model):
    (labelled,) = load_sets(DEMO_SHEEP, split="val")
    assert len(labelled.images) == 11
    _, score = _score(model, labelled, 1)
    sheep = score["species"]["sheep"]
    assert sheep["true_count"] == 17
    assert sheep["count_mae"] <= MAE_SHEEP
    assert abs(sheep["pred_count"] - 17) <= TOTAL_SHEEP_HEADS
    assert sheep["map50"] >= MAP_SHEEP


@pytest.mark.parametrize("name", PRESENT)
def test_shared_validation_sets(model, name):
    path, every, max_mae, max_total_pct = CASES[name]
    (labelled,) = load_sets(path, split="val")
    _, score = _score(model, labelled, every)
    true, pred = (sum(m[k] for m in score["species"].values()) for k in ("true_count", "pred_count"))
    assert score["count_mae"] <= max_mae, score
    assert abs(pred - true) / true * 100 <= max_total_pct, score
