"""Camera sources through OpenCV: RTSP URL, USB index, video file, or a folder of images.

A source yields JPEG bytes, resized to at most ``max_width`` pixels wide and encoded at ``jpeg_quality``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import CameraError

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def encode_jpeg(image: Any, *, max_width: int | None, jpeg_quality: int) -> tuple[bytes, int, int]:
    """Resize a BGR image to ``max_width`` (keeping aspect) and return JPEG bytes, width and height."""
    import cv2

    height, width = image.shape[:2]
    if max_width and width > max_width:
        height = round(height * max_width / width)
        width = max_width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(jpeg_quality)])
    if not ok:
        raise CameraError("OpenCV could not encode the frame as JPEG")
    return buf.tobytes(), width, height


@dataclass
class CameraSource:
    """One camera. ``source`` is an RTSP/HTTP URL, a USB index (``"0"``), a video file or an image folder."""

    source: str
    max_width: int | None = 1280
    jpeg_quality: int = 85
    loop: bool = True
    _capture: Any = field(default=None, init=False, repr=False)
    _files: list[Path] = field(default_factory=list, init=False, repr=False)
    _index: int = field(default=0, init=False, repr=False)

    def open(self) -> None:
        """Open the source.

        Raises:
            CameraError: the folder has no images or OpenCV cannot open the stream or file.
        """
        import cv2

        path = Path(self.source)
        if path.is_dir():
            self._files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
            if not self._files:
                raise CameraError(f"Camera folder {path} has no .jpg/.png images; point `source` at a folder of images")
            return
        target: int | str = int(self.source) if self.source.isdigit() else self.source
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            raise CameraError(f"OpenCV cannot open camera source {self.source!r}; check the URL, index or file")

    def read_jpeg(self) -> tuple[bytes, int, int]:
        """Grab one frame and return it as JPEG bytes with its width and height.

        Raises:
            CameraError: the source is exhausted (and ``loop`` is off) or a frame cannot be read.
        """
        import cv2

        if not self._files and self._capture is None:
            self.open()
        if self._files:
            if self._index >= len(self._files):
                if not self.loop:
                    raise CameraError(f"Camera folder {self.source} has no more images")
                self._index = 0
            file = self._files[self._index]
            self._index += 1
            image = cv2.imread(str(file))
            if image is None:
                raise CameraError(f"Image {file} cannot be decoded")
            return encode_jpeg(image, max_width=self.max_width, jpeg_quality=self.jpeg_quality)
        ok, image = self._capture.read()
        if not ok and self.loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok:
            raise CameraError(f"Camera source {self.source!r} returned no frame")
        return encode_jpeg(image, max_width=self.max_width, jpeg_quality=self.jpeg_quality)

    def close(self) -> None:
        """Release the stream."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
