"""Frames from what a user points the counter at: image files, folders, videos and RTSP streams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vision.errors import SourceError
from vision.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image


@dataclass(frozen=True)
class Frame:
    """One decoded frame and where it came from."""

    source: str
    index: int
    image: np.ndarray


def expand_sources(sources: list[str]) -> list[str]:
    """Expand folders into their image and video files (sorted); keep files and URLs.

    Raises:
        SourceError: a path does not exist, or a folder holds no image or video.
    """
    out: list[str] = []
    for source in sources:
        if "://" in source:
            out.append(source)
            continue
        path = Path(source)
        if path.is_dir():
            found = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not found:
                raise SourceError(f"Folder {path} holds no image or video files; point at a folder of .jpg/.mp4")
            out += found
        elif path.is_file():
            out.append(str(path))
        else:
            raise SourceError(f"Source {path} does not exist; pass an image, a folder, a video or an rtsp:// URL")
    return out


def is_video(source: str) -> bool:
    """Whether a source is a video file or a stream URL."""
    return "://" in source or Path(source).suffix.lower() in VIDEO_SUFFIXES


def iter_frames(source: str, *, stride: int = 1, max_frames: int | None = None) -> Iterator[Frame]:
    """Decode the frames of one source (an image gives one frame).

    Args:
        source: image path, video path or stream URL.
        stride: keep every ``stride``-th video frame.
        max_frames: stop after this many frames (streams never end on their own).

    Raises:
        SourceError: the video or stream cannot be opened or holds no frame.
        ImageError: the image is corrupt, empty, truncated or too large.
    """
    if not is_video(source):
        yield Frame(source, 0, read_image(Path(source)))
        return
    capture = cv2.VideoCapture(source)
    try:
        if not capture.isOpened():
            raise SourceError(f"Video {source} cannot be opened; check the file or URL and its codec")
        index = kept = 0
        while max_frames is None or kept < max_frames:
            ok, image = capture.read()
            if not ok:
                break
            if index % stride == 0:
                yield Frame(source, index, image)
                kept += 1
            index += 1
        if index == 0:
            raise SourceError(f"Video {source} holds no readable frame; it is empty or corrupt")
    finally:
        capture.release()
