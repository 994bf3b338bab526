import json

import cv2
import numpy as np
import pytest
import yaml

from vision.datasets import build_training_set, iter_point_images, pseudo_boxes, read_points
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
