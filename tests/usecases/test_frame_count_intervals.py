"""The vision round stores each count's interval for the sending device's camera profile (vision issue #16)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import psycopg
import pytest

from farmtrust.workers.vision import load_intervals
from store.counts import counts_for_frame
from store.farms import create_farm
from store.ingest_devices import insert_device, set_camera_profile
from tests.vision.framesdb import add_frame
from tests.vision.test_worker import SquareCounter, jpeg_with_squares
from usecases.frame_counts import count_pending_frames
from vision.detections import Detections
from vision.errors import CalibrationError
from vision.intervals import CountInterval, IntervalCalibration, IntervalMethod, ProfileCalibration, intervals_path
from vision.profile_counting import ProfileCount

RACE_ONLY = IntervalCalibration(0.9, {"race": ProfileCalibration(IntervalMethod(), 9, -1.0, 1.0)}, "d" * 64)
"""A race camera's counts are off by at most one head: count c -> [c - 1, c + 1] (never below 0)."""


def _round(conn, frames: Path, tmp_path: Path) -> None:
    count_pending_frames(
        conn, model=SquareCounter(), frame_dir=frames, evidence_dir=tmp_path / "ev", batch_size=4, intervals=RACE_ONLY
    )


def test_each_count_gets_its_devices_profile_interval_and_an_uncalibrated_profile_is_unbounded(fresh_db_url, tmp_path):
    frames = tmp_path / "frames"
    with psycopg.connect(fresh_db_url) as conn:
        farm = create_farm(conn, name="race farm").id
        insert_device(conn, device_id="dev1", farm_id=farm, public_key=bytes(32), camera_profile="race")
        first = add_frame(conn, frames, jpeg_with_squares(3, seed=3), farm_id=farm)
        _round(conn, frames, tmp_path)
        # 3 cattle -> 2-4; 0 pigs -> 0-1 (the lower end stops at 0)
        rows = counts_for_frame(conn=conn, frame_sha256=first)
        assert {r.species: (r.count, r.count_low, r.count_high) for r in rows} == {
            "cattle": (3, 2, 4),
            "pig": (0, 0, 1),
        }
        set_camera_profile(conn, device_id="dev1", camera_profile="pen")  # the calibration has no pen profile
        second = add_frame(conn, frames, jpeg_with_squares(2, seed=4), farm_id=farm)
        _round(conn, frames, tmp_path)
        cattle = [r for r in counts_for_frame(conn=conn, frame_sha256=second) if r.species == "cattle"]
        assert [(r.count, r.count_low, r.count_high) for r in cattle] == [(2, 0, None)]


def test_without_a_calibration_counts_have_no_interval(fresh_db_url, tmp_path):
    frames = tmp_path / "frames"
    with psycopg.connect(fresh_db_url) as conn:
        farm = create_farm(conn, name="plain farm").id
        sha = add_frame(conn, frames, jpeg_with_squares(2, seed=5), farm_id=farm)
        count_pending_frames(conn, model=SquareCounter(), frame_dir=frames, evidence_dir=tmp_path / "ev", batch_size=4)
        assert {(r.count_low, r.count_high) for r in counts_for_frame(conn=conn, frame_sha256=sha)} == {(None, None)}


def test_the_calibration_beside_the_weights_is_loaded_and_must_match_them(tmp_path):
    weights = tmp_path / "herd.pt"
    model = SimpleNamespace(identity=SimpleNamespace(path=weights, sha256="d" * 64))
    assert load_intervals(model=model) is None  # no herd.intervals.json: no intervals
    RACE_ONLY.save(tmp_path / "herd.intervals.json")
    assert load_intervals(model=model) == RACE_ONLY
    other = SimpleNamespace(identity=SimpleNamespace(path=weights, sha256="e" * 64))
    with pytest.raises(CalibrationError, match=r"was fitted on weights dddddddddddd, not on herd\.pt"):
        load_intervals(model=other)
    with pytest.raises(CalibrationError, match="unreadable"):
        load_intervals(model=model, path=tmp_path / "named-but-missing.json")


class RaceCounter:
    """Double of vision.ProfileCounter: says 7 cattle (6-9) and no pig (0-1) for any frame."""

    def __init__(self):
        self.frames = 0
        self.calls = []

    def count_many(self, images):
        self.calls.append(len(images))
        return [self.count(image) for image in images]

    def count(self, image):
        self.frames += 1
        boxes = np.array([[10, 10, 20, 20]], np.float32)
        return ProfileCount(
            {"cattle": 7, "pig": 0},
            {"cattle": CountInterval(6, 9), "pig": CountInterval(0, 1)},
            Detections(boxes, np.array([0.9], np.float32), ("cattle",)),
        )


def test_a_profile_with_a_counter_has_its_frames_counted_as_calibrated(fresh_db_url, tmp_path):
    frames = tmp_path / "frames"
    model, race = SquareCounter(), RaceCounter()
    with psycopg.connect(fresh_db_url) as conn:
        farm = create_farm(conn, name="counter farm").id
        insert_device(conn, device_id="dev1", farm_id=farm, public_key=bytes(32), camera_profile="race")
        gate = add_frame(conn, frames, jpeg_with_squares(3, seed=6), farm_id=farm)
        count_pending_frames(
            conn,
            model=model,
            frame_dir=frames,
            evidence_dir=tmp_path / "ev",
            batch_size=4,
            intervals=RACE_ONLY,
            profile_counters={"race": race},
        )
        rows = counts_for_frame(conn=conn, frame_sha256=gate)
        # the counter's figures, not the 3 squares the plain model would have counted
        assert {r.species: (r.count, r.count_low, r.count_high) for r in rows} == {
            "cattle": (7, 6, 9),
            "pig": (0, 0, 1),
        }
        assert (race.frames, model.batches) == (1, [])


def test_a_rounds_frames_of_one_profile_are_counted_in_one_call_and_the_rest_batched_plainly(fresh_db_url, tmp_path):
    frames = tmp_path / "frames"
    model, race = SquareCounter(), RaceCounter()
    with psycopg.connect(fresh_db_url) as conn:
        farm = create_farm(conn, name="batch farm").id
        insert_device(conn, device_id="dev1", farm_id=farm, public_key=bytes(32), camera_profile="race")
        insert_device(conn, device_id="barn", farm_id=farm, public_key=bytes(32), camera_profile="wide")
        gates = [add_frame(conn, frames, jpeg_with_squares(2, seed=s), farm_id=farm) for s in (7, 8, 9)]
        barn = add_frame(conn, frames, jpeg_with_squares(2, seed=10), farm_id=farm)
        conn.execute("UPDATE frames SET device_id = 'barn' WHERE sha256 = %s", (barn,))
        count_pending_frames(
            conn,
            model=model,
            frame_dir=frames,
            evidence_dir=tmp_path / "ev",
            batch_size=8,
            intervals=RACE_ONLY,
            profile_counters={"race": race},
        )
        # the three race frames in one count_many call; the wide frame (no counter) through the plain detector
        assert (race.calls, model.batches) == ([3], [1])
        assert {
            r.count for g in gates for r in counts_for_frame(conn=conn, frame_sha256=g) if r.species == "cattle"
        } == {7}
        (cattle,) = [r for r in counts_for_frame(conn=conn, frame_sha256=barn) if r.species == "cattle"]
        assert (cattle.count, cattle.count_low, cattle.count_high) == (2, 0, None)  # RACE_ONLY has no wide profile


def test_the_committed_calibration_gives_a_counter_per_profile():
    from farmtrust.workers.vision import profile_counters
    from vision.model import DEFAULT_MODEL

    class Weights:
        def profiled(self, **_settings):
            return self

    calibration = IntervalCalibration.load(intervals_path(DEFAULT_MODEL))
    assert sorted(profile_counters(model=Weights(), intervals=calibration)) == ["aerial", "pen", "race", "wide"]
    assert profile_counters(model=Weights(), intervals=None) == {}
