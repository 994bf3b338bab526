import json
from pathlib import Path

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


def test_frames_run_near_their_own_size(model):
    assert model.max_imgsz == model.imgsz  # by default never bigger than the training size
    assert model.size_for(model.imgsz, model.imgsz) == model.imgsz
    assert model.size_for(720, 1280) == model.imgsz  # a wide view is run at the training size
    assert model.size_for(10, 10) == model.imgsz // 2  # a thumbnail is not run at 32 px
    assert model.size_for(100, 300) == 320 or model.imgsz // 2 > 320  # rounded up to the stride
    wide = LivestockModel(yolo=None, identity=model.identity, thresholds={}, imgsz=640, max_imgsz=1280)
    assert wide.size_for(720, 1280) == 1280 and wide.size_for(480, 640) == 640 and wide.size_for(300, 500) == 512
    # frames of several sizes in one batch come back in order, each as if run alone
    images = [read_image(p) for p in demo_sheep_val()[:2]]
    small = images[1][::2, ::2].copy()
    mixed = model.detect([images[0], small, images[1]])
    assert [d.counts() for d in mixed] == [
        model.detect([images[0]])[0].counts(),
        model.detect([small])[0].counts(),
        model.detect([images[1]])[0].counts(),
    ]


def test_a_published_model_name_is_downloaded_or_refused_clearly(tmp_path, monkeypatch):
    from vision.model import is_model_name

    assert is_model_name(Path("yolov8s.pt")) and not is_model_name(Path("models/yolov8s.pt"))
    assert not is_model_name(Path("mymodel.pt"))
    monkeypatch.chdir(tmp_path)  # ultralytics saves a download in the working folder
    try:
        loaded = LivestockModel.from_path(Path("yolov8s.pt"))
    except ModelLoadError as exc:  # this machine is offline: the message says so and what to do instead
        assert "could not be downloaded" in str(exc) and "--model" in str(exc)
    else:  # online: the downloaded file's hash is recorded
        assert loaded.identity.path.is_file() and loaded.identity.sha256 == file_sha256(loaded.identity.path)


def test_file_sha256_is_the_fips_vector_and_training_uses_the_same_function(tmp_path):
    import vision.training

    (tmp_path / "abc").write_bytes(b"abc")
    # FIPS 180-2, appendix B.1
    assert file_sha256(tmp_path / "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert vision.training.file_sha256 is file_sha256
