"""Evidence kept with every count: frame sha256, a perceptual hash and an annotated thumbnail.

The perceptual hash is a 64-bit DCT hash computed with OpenCV (grey 32x32, the 8x8 lowest
frequencies, each bit = above the median). It needs neither torch nor scipy, so the edge device
(:mod:`edge.onnx_counter`) computes the very same value; a re-sent or recycled photo lands within a
few bits of the original even after re-encoding or resizing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from vision.detections import Detections

THUMBNAIL_SIDE_PX = 480
RECYCLED_MAX_BITS = 6
"""Hamming distance at or below which two frames count as the same photo."""

_COLOURS = {"cattle": (0, 200, 255), "sheep": (255, 255, 0), "pig": (203, 102, 255)}


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def phash(image: np.ndarray) -> str:
    """64-bit DCT perceptual hash of a BGR or grey image, as 16 hex digits."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low)
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def thumbnail(image: np.ndarray, detections: Detections, *, side_px: int = THUMBNAIL_SIDE_PX) -> bytes:
    """An annotated JPEG thumbnail: boxes and species labels, longest side ``side_px``."""
    height, width = image.shape[:2]
    scale = min(1.0, side_px / max(height, width))
    thumb = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
    for (x1, y1, x2, y2), conf, species in zip(detections.xyxy, detections.confidence, detections.species, strict=True):
        colour = _COLOURS.get(species, (0, 255, 0))
        p1, p2 = (round(x1 * scale), round(y1 * scale)), (round(x2 * scale), round(y2 * scale))
        cv2.rectangle(thumb, p1, p2, colour, 2)
        cv2.putText(thumb, f"{species} {conf:.2f}", (p1[0], max(10, p1[1] - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(detections.counts().items())) or "no animals"
    cv2.putText(thumb, counts, (5, 15), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError(f"thumbnail of shape {thumb.shape} could not be encoded as JPEG")
    return buf.tobytes()


def evidence_relpath(frame_sha256: str) -> str:
    """Path of a frame's thumbnail relative to ``Settings.evidence_dir``."""
    return f"{frame_sha256[:2]}/{frame_sha256}.jpg"


def write_thumbnail(root: Path, *, frame_sha256: str, jpeg: bytes) -> str:
    """Write a thumbnail under ``root`` and return its relative path."""
    rel = evidence_relpath(frame_sha256)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_bytes(jpeg)
    tmp.replace(target)
    return rel
