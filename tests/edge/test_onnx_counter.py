import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge.errors import CameraError, ConfigError
from edge.onnx_counter import OnDeviceCount, OnnxCounter
from tests.vision.samples import demo_sheep_val
from vision.evidence import phash
from vision.images import read_image
from vision.model import LivestockModel


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The committed model, exported as ``farmtrust vision export`` does."""
    model = LivestockModel.from_path()
    target = model.export_onnx(target=tmp_path_factory.mktemp("onnx") / "livestock.onnx")
    return model, target


def test_count_jpeg_matches_the_pytorch_model(exported):
    model, path = exported
    counter = OnnxCounter.from_path(path)
    assert counter.thresholds == model.thresholds
    disagreements = 0
    for image_path in demo_sheep_val():
        jpeg = image_path.read_bytes()
        result = counter.count_jpeg(jpeg)
        assert isinstance(result, OnDeviceCount)
        assert result.model_sha256 != model.identity.sha256  # the ONNX file has its own identity
        assert len(result.frame_sha256) == 64 and result.thumbnail_jpeg[:2] == b"\xff\xd8"
        image = read_image(image_path)
        assert result.phash == phash(image)  # same evidence hash on device and server
        torch_counts = model.detect([image])[0].counts()
        diff = sum(abs(result.counts.get(s, 0) - torch_counts.get(s, 0)) for s in model.species)
        disagreements += diff
    # letterbox rounding and fp32 kernels move a few scores across a threshold: allow 1 animal per 4 frames
    assert disagreements <= len(demo_sheep_val()) // 4


def test_bad_frames_and_models(exported, tmp_path):
    _, path = exported
    counter = OnnxCounter.from_path(path)
    with pytest.raises(CameraError, match="empty"):
        counter.count_jpeg(b"")
    with pytest.raises(CameraError, match="not a decodable JPEG"):
        counter.count_jpeg(b"\xff\xd8garbage")
    with pytest.raises(ConfigError, match="does not exist"):
        OnnxCounter.from_path(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(ConfigError, match="not a readable ONNX model"):
        OnnxCounter.from_path(junk)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(Path(path).read_bytes())
    (tmp_path / "broken.thresholds.json").write_text(json.dumps({"cattle": 0.3}))
    with pytest.raises(ConfigError, match="lacks a 'thresholds' object"):
        OnnxCounter.from_path(broken)


def test_on_device_counting_imports_no_torch(exported):
    _, path = exported
    jpeg = cv2.imencode(".jpg", read_image(demo_sheep_val()[0]))[1].tobytes()
    code = (
        "import sys; from edge.onnx_counter import OnnxCounter; "
        f"r = OnnxCounter.from_path({str(path)!r}).count_jpeg(sys.stdin.buffer.read()); "
        "print(sorted(m for m in ('torch', 'ultralytics', 'vision') if m in sys.modules), sum(r.counts.values()))"
    )
    proc = subprocess.run([sys.executable, "-c", code], input=jpeg, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().split()[0] == "[]"
