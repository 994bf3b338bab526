import numpy as np
import pytest

from vision.counting import LineCounter, tiled_detections, window_count
from vision.detections import Detections


def dets(*boxes, species="cattle"):
    xyxy = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    return Detections(xyxy, np.full(len(xyxy), 0.9, np.float32), (species,) * len(xyxy))


def test_window_count_ignores_one_bad_frame():
    result = window_count([12, 12, 11, 12, 0, 12, 13])
    assert result.count == 12
    assert result.frames == 7
    assert result.spread == pytest.approx(0.5)


def test_window_count_high_percentile_and_errors():
    assert window_count([5, 6, 9, 9, 9], percentile=90).count == 9
    with pytest.raises(ValueError, match="frame_counts is empty"):
        window_count([])
    with pytest.raises(ValueError, match="percentile"):
        window_count([1], percentile=120)


def walk(counter, ys, x=50.0, size=20.0):
    for y in ys:
        counter.update(dets((x, y, x + size, y + size)))


def test_line_counts_a_confirmed_crossing_once():
    counter = LineCounter(start=(0, 100), end=(200, 100), min_hits=3, margin_px=10)
    walk(counter, [20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150])
    assert counter.in_counts == {"cattle": 1}
    assert counter.out_counts == {}


def test_line_jitter_on_the_line_counts_nothing():
    counter = LineCounter(start=(0, 100), end=(200, 100), min_hits=3, margin_px=10)
    # centre oscillates between 95 and 105, always inside the hysteresis band
    walk(counter, [60, 70, 80, 85, 95, 85, 95, 85, 95, 85])
    assert counter.in_counts == {} and counter.out_counts == {}


def test_line_in_then_out():
    counter = LineCounter(start=(0, 100), end=(200, 100), min_hits=2, margin_px=10)
    walk(counter, [40, 60, 80, 100, 120, 140, 120, 100, 80, 60, 40], size=40.0)
    assert counter.in_counts == {"cattle": 1}
    assert counter.out_counts == {"cattle": 1}


def test_unconfirmed_flicker_track_does_not_count():
    counter = LineCounter(start=(0, 100), end=(200, 100), min_hits=4, margin_px=10)
    # a spurious box appears below the line for 1 frame, then above for 1 frame: never confirmed
    counter.update(dets((50, 60, 70, 80)))
    counter.update(dets((50, 120, 70, 140)))
    assert counter.in_counts == {} and counter.out_counts == {}


def test_tracker_keeps_ids_for_two_animals():
    counter = LineCounter(start=(0, 500), end=(10, 500))
    first = counter.update(dets((0, 0, 20, 20), (100, 0, 120, 20)))
    second = counter.update(dets((102, 3, 122, 23), (2, 2, 22, 22)))
    assert list(second.tracker_id) == list(first.tracker_id[::-1])


def test_tiled_merges_an_animal_seen_by_two_tiles():
    image = np.zeros((400, 700, 3), np.uint8)
    # one "animal" at x 300..340 in full-image pixels; the detector finds bright squares in a tile
    image[100:140, 300:340] = 255

    def detect(tile):
        ys, xs = np.nonzero(tile[:, :, 0])
        if len(xs) == 0:
            return Detections.empty()
        return dets((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))

    found = tiled_detections(image, detect=detect, slice_px=350, overlap_px=100)
    assert len(found) == 1
    np.testing.assert_allclose(found.xyxy[0], [300, 100, 340, 140])
