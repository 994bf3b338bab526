import json

import cv2
import numpy as np
import pytest
import yaml

from vision.datasets import build_training_set, crop_windows, iter_point_images, pseudo_boxes, read_points
from vision.errors import DatasetError
from vision.evaluation import average_precision_50, load_sets


def test_pseudo_boxes_follow_the_spacing_of_the_herd():
    points = np.array([[100, 100], [140, 100], [100, 140], [400, 300]], float)
    boxes = pseudo_boxes(points, width=640, height=480)
    sides = boxes[:, 2] - boxes[:, 0]
    np.testing.assert_allclose(sides[:3], 0.9 * 40)
    assert sides[3] <= 1.5 * np.median(sides)  # an isolated animal is not drawn bigger than the rest
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= 639).all()


def test_read_points_rejects_bad_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1 2\nthree 4\n")
    with pytest.raises(DatasetError, match="one 'x y' pair"):
        read_points(path)


def point_set(root, scenes):
    (root / "images").mkdir(parents=True)
    (root / "points").mkdir()
    sources = []
    for scene, n in scenes.items():
        for i in range(n):
            name = f"{scene}_{i:03d}"
            cv2.imwrite(str(root / "images" / f"{name}.jpg"), np.zeros((100, 200, 3), np.uint8))
            (root / "points" / f"{name}.txt").write_text("50 50\n80 50\n")
            sources.append({"file": name, "scene": scene})
    (root / "sources.json").write_text(json.dumps(sources))
    return root


def test_build_training_set_splits_each_scene_by_time(tmp_path):
    pts = point_set(tmp_path / "cams", {"barn": 10, "yard": 4})
    box_yaml = tmp_path / "boxes.yaml"
    box_yaml.write_text(
        yaml.safe_dump({"path": ".", "train": ["t"], "val": ["v"], "names": {0: "cattle", 1: "sheep", 2: "pig"}})
    )
    combined = build_training_set(box_yaml=box_yaml, point_sets=[pts], out_dir=tmp_path / "out")
    spec = yaml.safe_load(combined.read_text())
    train = sorted(p.stem for p in (tmp_path / "out" / "cams" / "images" / "train").glob("*.jpg"))
    val = sorted(p.stem for p in (tmp_path / "out" / "cams" / "images" / "val").glob("*.jpg"))
    assert val == ["barn_007", "barn_008", "barn_009", "yard_003"]  # the latest images of every scene
    assert not set(train) & set(val)
    assert len(spec["train"]) == 2 and spec["names"] == {0: "cattle", 1: "sheep", 2: "pig"}
    label = (tmp_path / "out" / "cams" / "labels" / "train" / "barn_000.txt").read_text().split()
    assert label[0] == "0" and len(label) == 10
    # evaluation uses the same split, so its val never holds a training frame
    evaluated = [im.path.stem for im in load_sets(pts, split="val")[0].images]
    assert sorted(evaluated) == val
    assert len(iter_point_images(pts)) == 14


def test_build_training_set_refuses_other_classes(tmp_path):
    box_yaml = tmp_path / "boxes.yaml"
    box_yaml.write_text(yaml.safe_dump({"train": "t", "val": "v", "names": ["cow", "dog"]}))
    with pytest.raises(DatasetError, match="expected"):
        build_training_set(box_yaml=box_yaml, point_sets=[], out_dir=tmp_path)


def test_ap50_of_perfect_and_of_empty_predictions():
    from vision.detections import Detections
    from vision.evaluation import LabelledImage

    truth = [
        LabelledImage(path=None, species=("pig", "pig"), boxes=np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float))
    ]
    perfect = [
        Detections(
            np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32), np.array([0.9, 0.8], np.float32), ("pig", "pig")
        )
    ]
    half = [
        Detections(
            np.array([[0, 0, 10, 10], [50, 50, 60, 60]], np.float32), np.array([0.9, 0.8], np.float32), ("pig", "pig")
        )
    ]
    assert average_precision_50(perfect, truth, "pig") == pytest.approx(1.0)
    assert average_precision_50(half, truth, "pig") == pytest.approx(51 / 101, abs=1e-6)
    assert average_precision_50([Detections.empty()], truth, "pig") == 0.0
    assert average_precision_50(perfect, truth, "cattle") is None


def test_crop_windows_cover_the_image_with_overlap():
    assert crop_windows(500, 300, 640) == [(0, 0, 500, 300)]  # small: the whole image
    windows = crop_windows(1280, 720, 640)
    assert {(x1 - x0, y1 - y0) for x0, y0, x1, y1 in windows} == {(640, 640)}
    assert max(x1 for *_, x1, _ in windows) == 1280 and max(y1 for *_, y1 in windows) == 720
    covered = np.zeros((720, 1280), bool)
    for x0, y0, x1, y1 in windows:
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_point_images_become_crops_at_the_inference_scale(tmp_path):
    # a 1600 x 800 image with 6 animals: scaled to a 1280 long side, cut into 640 crops
    root = tmp_path / "cams"
    (root / "images").mkdir(parents=True)
    (root / "points").mkdir()
    points = [(100, 100), (160, 100), (700, 400), (760, 400), (1500, 700), (1440, 700)]
    for i in range(2):
        cv2.imwrite(str(root / "images" / f"img_{i}.jpg"), np.zeros((800, 1600, 3), np.uint8))
        (root / "points" / f"img_{i}.txt").write_text("".join(f"{x} {y}\n" for x, y in points))
    box_dir = tmp_path / "boxes" / "chute" / "images" / "train"
    box_dir.mkdir(parents=True)
    for i in range(10):
        cv2.imwrite(str(box_dir / f"f{i:02d}.jpg"), np.zeros((32, 32, 3), np.uint8))
    box_yaml = tmp_path / "boxes" / "boxes.yaml"
    box_yaml.write_text(
        yaml.safe_dump(
            {
                "train": ["chute/images/train"],
                "val": ["chute/images/train"],
                "names": {0: "cattle", 1: "sheep", 2: "pig"},
            }
        )
    )
    combined = build_training_set(
        box_yaml=box_yaml,
        point_sets=[root],
        out_dir=tmp_path / "out",
        val_share=0.5,
        max_side=1280,
        crop_px=640,
        box_every={"chute": 3},
    )
    spec = yaml.safe_load(combined.read_text())
    thinned = [line for line in open(spec["train"][0]).read().splitlines()]
    assert [p.rsplit("/", 1)[1] for p in thinned] == ["f00.jpg", "f03.jpg", "f06.jpg", "f09.jpg"]
    crops = sorted((tmp_path / "out" / "cams" / "images" / "train").glob("*.jpg"))
    windows = crop_windows(1280, 640, 640)
    assert len(crops) == len(windows) == 3  # 1280 x 640 -> 640 squares overlapping by at least 20 %
    assert {cv2.imread(str(c)).shape[:2] for c in crops} == {(640, 640)}
    labels = [np.loadtxt(tmp_path / "out" / "cams" / "labels" / "train" / f"{c.stem}.txt", ndmin=2) for c in crops]
    scaled = np.array(points) * 0.8
    for (x0, y0, x1, y1), lab in zip(windows, labels, strict=True):  # every animal centred in a crop is labelled
        inside = (scaled[:, 0] >= x0) & (scaled[:, 0] < x1) & (scaled[:, 1] >= y0) & (scaled[:, 1] < y1)
        assert len(lab) == inside.sum() > 0
    sides_px = np.concatenate([lab[:, 3] for lab in labels]) * 640
    np.testing.assert_allclose(sides_px, 0.9 * 60 * 0.8, atol=1)  # spacing 60 px, scaled by 1280/1600
    assert all(((lab[:, 1:3] > 0) & (lab[:, 1:3] < 1)).all() for lab in labels)
    # a rebuild replaces the crops instead of adding to them
    build_training_set(box_yaml=box_yaml, point_sets=[root], out_dir=tmp_path / "out", val_share=0.5)
    assert len(list((tmp_path / "out" / "cams" / "images" / "train").glob("*.jpg"))) == 1


def test_thresholds_weigh_a_sparse_set_as_much_as_a_crowded_one():
    from pathlib import Path

    from vision.detections import Detections
    from vision.evaluation import LabelledImage, LabelledSet, choose_thresholds

    def found(scores):
        return Detections(np.zeros((len(scores), 4), np.float32), np.array(scores, float), ("cattle",) * len(scores))

    # a race camera, one cow per frame, plus one spurious box at 0.3 in every frame
    race = LabelledSet("race", tuple(LabelledImage(Path(f"r{i}"), ("cattle",), None) for i in range(10)))
    race_found = [found([0.9, 0.3]) for _ in range(10)]
    # a pasture camera, 40 cows per frame: 36 found at 0.6, 4 more only at 0.3
    pasture = LabelledSet("pasture", tuple(LabelledImage(Path(f"p{i}"), ("cattle",) * 40, None) for i in range(10)))
    pasture_found = [found([0.6] * 36 + [0.3] * 4) for _ in range(10)]
    # by absolute error the pasture (4 missed) outweighs the race (1 extra): 0.3 would win and double
    # every race count; by relative error the race's 100 % outweighs the pasture's 10 %
    chosen = choose_thresholds([(race, race_found), (pasture, pasture_found)])
    assert 0.3 < chosen["cattle"] <= 0.6


def test_refined_boxes_take_a_detectors_lone_box_of_a_plausible_size():
    from vision.datasets import refine_boxes

    points = np.array([[100.0, 100.0], [300.0, 100.0], [320.0, 110.0], [500.0, 400.0]])
    pseudo = pseudo_boxes(points, width=640, height=480)
    found = np.array(
        [
            [60, 70, 150, 130],  # an animal's outline around point 0 (score .8)
            [50, 50, 160, 150],  # a worse box around point 0 (score .3): not taken
            [280, 80, 340, 130],  # one box around points 1 and 2: belongs to neither
            [495, 395, 505, 405],  # a speck around point 3: implausibly small for this herd
        ],
        float,
    )
    out = refine_boxes(points, pseudo, found, np.array([0.8, 0.3, 0.9, 0.7]))
    np.testing.assert_array_equal(out[0], found[0])
    np.testing.assert_array_equal(out[1:], pseudo[1:])
    np.testing.assert_array_equal(refine_boxes(points, pseudo, np.zeros((0, 4)), np.zeros(0)), pseudo)
