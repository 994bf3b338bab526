import cv2
import numpy as np

from vision.detections import Detections
from vision.evidence import hamming, phash, thumbnail


def scene(seed):
    rng = np.random.default_rng(seed)
    image = np.zeros((240, 320, 3), np.uint8)
    for _ in range(12):
        x, y = rng.integers(0, 280), rng.integers(0, 200)
        cv2.circle(
            image, (int(x), int(y)), int(rng.integers(8, 30)), tuple(int(v) for v in rng.integers(0, 255, 3)), -1
        )
    return image


def test_phash_survives_reencoding_and_resizing_but_not_another_scene():
    image = scene(1)
    _ok, buf = cv2.imencode(".jpg", cv2.resize(image, (160, 120)), [cv2.IMWRITE_JPEG_QUALITY, 40])
    recycled = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert hamming(phash(image), phash(recycled)) <= 6
    assert hamming(phash(image), phash(scene(2))) > 12
    assert len(phash(image)) == 16


def test_thumbnail_is_a_small_jpeg_with_boxes():
    image = np.zeros((1000, 2000, 3), np.uint8)
    found = Detections(np.array([[100, 100, 400, 400]], np.float32), np.array([0.8], np.float32), ("cattle",))
    jpeg = thumbnail(image, found)
    thumb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert thumb.shape[:2] == (240, 480)
    assert thumb[24:96, 24:96].sum() > 0  # the box outline is drawn
    assert jpeg[:2] == b"\xff\xd8"
