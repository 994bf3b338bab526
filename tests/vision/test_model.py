import json

import numpy as np
import pytest

from tests.vision.samples import demo_sheep_val
from vision.errors import ModelLoadError
from vision.images import read_image
from vision.model import LivestockModel, default_model_path, file_sha256, thresholds_path


@pytest.fixture(scope="module")
def model():
    return LivestockModel.from_path()


def test_default_model_identity_and_thresholds(model):
    path = default_model_path()
    assert path.stat().st_size < 10_000_000  # a few MB, committed as package data
    assert model.identity.sha256 == file_sha256(path)
    assert model.identity.names == {0: "cattle", 1: "sheep", 2: "pig"}
    assert model.species == ("cattle", "pig", "sheep")
    chosen = json.loads(thresholds_path(path).read_text())
    assert chosen["model_sha256"] == model.identity.sha256  # chosen for these very weights
    assert model.thresholds == chosen["thresholds"]
    assert set(model.thresholds) == {"cattle", "pig", "sheep"}


def test_missing_and_wrong_model_files(tmp_path):
    with pytest.raises(ModelLoadError, match=r"nope\.pt does not exist"):
        LivestockModel.from_path(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelLoadError, match=r"junk\.pt is not a readable YOLO detector"):
        LivestockModel.from_path(junk)
    bad_thresholds = tmp_path / "t.json"
    bad_thresholds.write_text("[1, 2]")
    with pytest.raises(ModelLoadError, match="lacks a 'thresholds' object"):
        LivestockModel.from_path(thresholds_file=bad_thresholds)


def test_batched_detection_equals_one_by_one(model):
    images = [read_image(p) for p in demo_sheep_val()[:4]]
    batched = model.detect(images)
    single = [model.detect([im])[0] for im in images]
    assert [d.counts() for d in batched] == [d.counts() for d in single]
    for b, s in zip(batched, single, strict=True):
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1.0)
