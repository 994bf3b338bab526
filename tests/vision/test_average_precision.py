"""AP50 on hand-built boxes whose value is worked out by hand (no model needed)."""

from pathlib import Path

import numpy as np
import pytest

from vision.detections import Detections
from vision.evaluation import LabelledImage, average_precision_50


def _truth(boxes, species="sheep"):
    return LabelledImage(Path("x.jpg"), (species,) * len(boxes), np.array(boxes, dtype=float).reshape(-1, 4))


def _found(boxes, scores, species="sheep"):
    return Detections(
        np.array(boxes, dtype=np.float32).reshape(-1, 4), np.array(scores, dtype=np.float32), (species,) * len(boxes)
    )


def test_ap50_of_two_hits_around_a_false_alarm():
    truth = _truth([[0, 0, 10, 10], [20, 20, 30, 30]])
    # 0.9 hits the first sheep, 0.8 is a false alarm, 0.7 hits the second (IoU 81/119 = 0.68 >= 0.5)
    found = _found([[0, 0, 10, 10], [50, 50, 60, 60], [21, 21, 30, 30]], [0.9, 0.8, 0.7])
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: the envelope is 1 up to recall 0.5 (51 of the 101
    # recall points) and 2/3 above it (50 points)
    expected = (51 * 1 + 50 * 2 / 3) / 101
    assert average_precision_50([found], [truth], "sheep") == pytest.approx(expected, abs=1e-6)


def test_a_box_below_iou_half_is_a_miss_and_other_species_do_not_count():
    truth = _truth([[0, 0, 10, 10]])
    # IoU 40/100 = 0.4: no hit; the cattle box on the sheep is another species
    found = Detections(
        np.array([[0, 0, 10, 4], [0, 0, 10, 10]], np.float32), np.array([0.9, 0.8], np.float32), ("sheep", "cattle")
    )
    assert average_precision_50([found], [truth], "sheep") == 0.0
    assert average_precision_50([found], [truth], "pig") is None


def test_every_detection_of_a_dense_image_counts_not_only_the_first_100():
    boxes = [[20 * i, 0, 20 * i + 10, 10] for i in range(150)]
    scores = [1 - i / 1000 for i in range(150)]
    # every box is a hit: AP 1 (COCO's 100-per-image cap would stop recall at 100/150)
    assert average_precision_50([_found(boxes, scores)], [_truth(boxes)], "sheep") == pytest.approx(1.0)
