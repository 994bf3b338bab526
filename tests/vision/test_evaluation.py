import cv2
import numpy as np
import pytest
import yaml

from vision.evaluation import load_sets, set_name


def box_set(root, layout):
    """A box set with one frame holding one sheep, its images under ``root/<layout>``."""
    images = root / layout
    labels = root / layout.replace("images", "labels", 1)
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    cv2.imwrite(str(images / "f1.jpg"), np.zeros((64, 64, 3), np.uint8))
    (labels / "f1.txt").write_text("1 0.5 0.5 0.2 0.2\n")


@pytest.mark.parametrize(
    ("layout", "entry"),
    [
        ("images", "flock/images"),  # no split folders: was reported as a set called "images"
        ("images/val", "flock/images/val"),
        ("images/val/day1", "flock/images/val/day1"),  # a deeper folder keeps its own name
    ],
)
def test_sets_are_named_after_their_dataset_folder(tmp_path, layout, entry):
    box_set(tmp_path / "flock", layout)
    spec = tmp_path / "data.yaml"
    spec.write_text(yaml.safe_dump({"val": [entry], "names": {0: "cattle", 1: "sheep", 2: "pig"}}))
    (labelled,) = load_sets(spec)
    assert labelled.name == ("day1" if entry.endswith("day1") else "flock")
    assert labelled.images[0].species == ("sheep",)


@pytest.mark.parametrize(
    ("folder", "name"),
    [("a/pig_pen/images", "pig_pen"), ("a/pig_pen/images/val", "pig_pen"), ("a/pig_pen/frames", "frames")],
)
def test_set_name(tmp_path, folder, name):
    assert set_name(tmp_path / folder) == name
