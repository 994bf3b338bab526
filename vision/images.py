"""Decode camera images safely: empty, corrupt, truncated and oversized images raise ImageError."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from vision.errors import ImageError

MAX_PIXELS = 50_000_000
"""Largest image accepted (50 megapixels); bigger ones are refused before decoding."""

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm"})


def decode_image(data: bytes, *, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode image bytes into a BGR array of shape (H, W, 3).

    Args:
        data: the encoded image (JPEG, PNG, ...).
        name: the file or frame the bytes came from, quoted in errors.
        max_pixels: refuse images with more pixels than this.

    Raises:
        ImageError: the bytes are empty, not an image, a truncated JPEG, or over ``max_pixels``.
    """
    if not data:
        raise ImageError(f"Image {name} is empty (0 bytes); re-send the frame", reason="empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            fmt = probe.format
    except Exception:
        raise ImageError(f"Image {name} is not a readable image ({len(data)} bytes); re-send the frame") from None
    if width * height > max_pixels:
        raise ImageError(
            f"Image {name} is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.0f}; resize it before sending",
            reason="oversize",
        )
    if fmt == "JPEG" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ImageError(
            f"Image {name} is a truncated JPEG (no end-of-image marker); re-send the frame", reason="truncated"
        )
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if array is None or array.size == 0:
        raise ImageError(f"Image {name} could not be decoded ({fmt}, {len(data)} bytes); re-send the frame")
    return array


def read_image(path: Path, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read and decode an image file (see :func:`decode_image`).

    Raises:
        ImageError: the file is missing, empty, corrupt, truncated or too large.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"Image {path} cannot be read: {exc.strerror}; check the path", reason="unreadable") from None
    return decode_image(data, name=str(path), max_pixels=max_pixels)
