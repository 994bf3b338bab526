from types import SimpleNamespace

import numpy as np
import pytest
import torch

from vision.detections import Detections
from vision.species import species_of_names


def test_species_of_coco_names_keeps_livestock_only():
    names = {0: "person", 14: "bird", 17: "horse", 18: "sheep", 19: "cow", 16: "dog"}
    assert species_of_names(names) == {14: "poultry", 17: "horse", 18: "sheep", 19: "cattle"}


def test_from_ultralytics_drops_other_classes_and_maps_species():
    boxes = SimpleNamespace(
        xyxy=torch.tensor([[0, 0, 10, 10], [5, 5, 20, 20], [1, 1, 3, 3]], dtype=torch.float32),
        conf=torch.tensor([0.9, 0.5, 0.7]),
        cls=torch.tensor([19.0, 0.0, 18.0]),
    )
    boxes.__len__ = lambda: 3
    result = SimpleNamespace(boxes=type("B", (), {**vars(boxes), "__len__": lambda self: 3})())
    found = Detections.from_ultralytics(result, species_of={19: "cattle", 18: "sheep"})
    assert found.species == ("cattle", "sheep")
    assert found.counts() == {"cattle": 1, "sheep": 1}
    assert found.above({"cattle": 0.95}).counts() == {"sheep": 1}


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"xyxy must have shape \(N, 4\)"):
        Detections(np.zeros((2, 3)), np.zeros(2), ("cattle", "cattle"))
    with pytest.raises(ValueError, match="must match"):
        Detections(np.zeros((2, 4)), np.zeros(1), ("cattle", "cattle"))
