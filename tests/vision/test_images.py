import cv2
import numpy as np
import pytest

from vision.errors import ImageError
from vision.images import decode_image, read_image


def _jpeg(width=64, height=48):
    noise = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", noise)
    assert ok
    return buf.tobytes()


def test_decodes_a_jpeg_to_bgr():
    image = decode_image(_jpeg(), name="x.jpg")
    assert image.shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("data", "reason", "match"),
    [
        (b"", "empty", "x.jpg is empty"),
        (b"not an image at all", "corrupt", "not a readable image"),
        (_jpeg(320, 240)[:20000], "truncated", "truncated JPEG"),
    ],
)
def test_bad_bytes_name_the_file_and_the_problem(data, reason, match):
    with pytest.raises(ImageError, match=match) as info:
        decode_image(data, name="x.jpg")
    assert info.value.reason == reason


def test_oversize_is_refused_before_decoding():
    with pytest.raises(ImageError, match="over the limit") as info:
        decode_image(_jpeg(200, 100), name="big.jpg", max_pixels=10_000)
    assert info.value.reason == "oversize"


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="cannot be read") as info:
        read_image(tmp_path / "nope.jpg")
    assert info.value.reason == "unreadable"
