from collections import Counter
from pathlib import Path

import pytest

from tests.vision.samples import DEMO_SHEEP
from vision.errors import DatasetError
from vision.folds import Frame, catalog, group_of, stratified_group_folds, stratum


@pytest.mark.parametrize(
    ("set_name", "stem", "source", "group"),
    [
        ("cattle_chute", "frame_001394", {}, "b139"),  # blocks of 10 frame numbers
        ("cattle_chute", "frame_001400", {}, "b140"),
        ("pig_pen", "clip02-1_000027", {"clip": "02-1", "frame": 27}, "02-1/b0"),  # clip, 200 frames
        ("pig_pen", "clip02-1_001791", {"clip": "02-1", "frame": 1791}, "02-1/b8"),
        # 16:10:10 = 58210 s; 6-second blocks: 58210 // 6 = 9701
        ("sheep_thermal_drone", "DJI_20240125161010_0144_T", {}, "b9701"),
        ("sheep_thermal_drone", "DJI_20240125161012_0145_T", {}, "b9702"),
        # Unix time 1604672227 -> hour 445742 (1604672227 // 3600)
        ("cattle_pasture_cams", "1604672227p0", {"scene": "pens"}, "pens/h445742"),
        ("cattle_pasture_cams", "barn_cam_7", {"scene": "barn"}, "barn/barn_cam_7"),
    ],
)
def test_group_of(set_name, stem, source, group):
    assert group_of(set_name, stem, source) == group


def frame(set_name, group, count):
    return Frame(set_name, "pen", Path(f"{set_name}-{group}-{count}.jpg"), "pig", count, group, False)


def test_folds_keep_groups_whole_and_spread_strata():
    # two sets; per set, groups of 1-animal and of 6-animal frames: each fold should get one of each kind
    frames = [
        frame(s, f"{kind}{g}", n)
        for s in ("a", "b")
        for kind, n in (("few", 1), ("many", 6))
        for g in range(2)
        for _ in range(3)
    ]
    folds = stratified_group_folds(frames, 2)
    by_group = {}
    for f, k in zip(frames, folds, strict=True):
        assert by_group.setdefault((f.set_name, f.group), k) == k  # a group never straddles two folds
    per_fold = Counter((k, stratum(f)) for f, k in zip(frames, folds, strict=True))
    for k in (0, 1):
        for s in ("a:1", "a:6", "b:1", "b:6"):
            assert per_fold[(k, s)] == 3, per_fold


def test_folds_need_two():
    with pytest.raises(DatasetError, match="--folds must be at least 2"):
        stratified_group_folds([frame("a", "g", 1)], 1)


def test_catalog_of_the_repository_sample_marks_training_frames():
    frames = catalog(DEMO_SHEEP)
    assert Counter(f.trained_on for f in frames) == {True: 20, False: 11}
    held = [f for f in frames if not f.trained_on]
    assert {f.set_name for f in frames} == {"sheep_thermal"}
    assert {f.profile for f in frames} == {"aerial"}
    assert sum(f.true_count for f in held) == 17  # the sample's PROVENANCE: val 11 frames, 17 boxes
    assert len({f.group for f in held}) == 5


def test_catalog_refuses_a_folder_without_sets(tmp_path):
    with pytest.raises(DatasetError, match="holds no set"):
        catalog(tmp_path)


def test_strata_bins():
    assert [stratum(frame("a", "g", n)) for n in (0, 1, 2, 4, 6, 12, 40)] == [
        "a:0",
        "a:1",
        "a:2",
        "a:3",
        "a:6",
        "a:11",
        "a:31",
    ]
