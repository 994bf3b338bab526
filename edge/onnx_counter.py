"""On-device livestock counting with onnxruntime only (no torch, no ultralytics).

The edge agent calls :meth:`OnnxCounter.count_jpeg` when a camera runs in count mode and sends a
``count`` message with the evidence thumbnail instead of every frame. The model is the ONNX export
of FarmTrust's detector (``farmtrust vision export --format onnx``); its class names and input size
come from the ONNX metadata, and per-species thresholds from ``<stem>.thresholds.json`` beside it.

The perceptual hash is the same 64-bit DCT hash as ``vision.evidence.phash`` (OpenCV's DCT, so the
device needs neither scipy nor imagehash), so the server can match re-sent photos across both paths.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import CameraError, ConfigError
from vocabulary.species import species_of_names

log = logging.getLogger(__name__)

MAX_PIXELS = 50_000_000
DEFAULT_THRESHOLD = 0.25
NMS_IOU = 0.7


@dataclass(frozen=True)
class OnDeviceCount:
    """The result of counting one frame on the device."""

    counts: dict[str, int]
    model_sha256: str
    frame_sha256: str
    phash: str
    thumbnail_jpeg: bytes


def phash(image: np.ndarray) -> str:
    """64-bit DCT perceptual hash, 16 hex digits (identical to ``vision.evidence.phash``)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low)
    return f"{int(''.join('1' if b else '0' for b in bits), 2):016x}"


def _letterbox(image: np.ndarray, size: int, *, rect: bool) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize to fit ``size`` and pad: to a square, or (``rect``) to the smallest stride-32 rectangle."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = round(width * scale), round(height * scale)
    out_w, out_h = (new_w + (-new_w) % 32, new_h + (-new_h) % 32) if rect else (size, size)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (out_w - new_w) / 2, (out_h - new_h) / 2
    top, left = round(pad_y - 0.1), round(pad_x - 0.1)
    canvas = np.full((out_h, out_w, 3), 114, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, scale, (left, top)


class OnnxCounter:
    """A YOLO ONNX detector that counts livestock per species in JPEG frames."""

    def __init__(self, *, session: object, path: Path, thresholds: dict[str, float]) -> None:
        """Wrap a loaded onnxruntime session; use :meth:`from_path`."""
        self._session = session
        meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
        names = ast.literal_eval(meta.get("names", "{}"))
        self.species_of = species_of_names(names)
        if not self.species_of:
            raise ConfigError(f"Model {path} has no livestock class in its ONNX metadata (names={names})")
        shape = session.get_inputs()[0].shape  # type: ignore[attr-defined]
        self.rect = not isinstance(shape[2], int)  # a dynamic export takes stride-32 rectangles
        self.imgsz = int(shape[2]) if not self.rect else int(ast.literal_eval(meta.get("imgsz", "[640]"))[0])
        self.max_imgsz = self.imgsz
        self._input = session.get_inputs()[0].name  # type: ignore[attr-defined]
        self.model_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        self.thresholds = thresholds

    @classmethod
    def from_path(cls, path: str | Path, *, threads: int = 1) -> OnnxCounter:
        """Load an ONNX model exported by ``farmtrust vision export``.

        Raises:
            ConfigError: the file is missing, not an ONNX model, or names no livestock class.
        """
        import onnxruntime as ort

        model_path = Path(path)
        if not model_path.is_file():
            raise ConfigError(f"Count model {model_path} does not exist; run 'farmtrust vision export' and copy it")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ConfigError(f"Count model {model_path} is not a readable ONNX model ({type(exc).__name__})") from None
        tfile = model_path.with_name(f"{model_path.stem}.thresholds.json")
        thresholds: dict[str, float] = {}
        if tfile.exists():
            try:
                thresholds = {str(k): float(v) for k, v in json.loads(tfile.read_text())["thresholds"].items()}
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ConfigError(f"Thresholds file {tfile} lacks a 'thresholds' object of species -> number") from None
        return cls(session=session, path=model_path, thresholds=thresholds)

    def size_for(self, height: int, width: int) -> int:
        """Inference size of a frame, the rule of the server's ``LivestockModel.size_for``.

        The frame's own long side rounded up to stride 32, within [imgsz/2, imgsz]; a fixed-shape
        export always takes imgsz. (Repeated here: the device does not install the server's packages.)
        """
        if not self.rect:
            return self.imgsz
        native = -(-max(height, width) // 32) * 32
        return int(min(self.max_imgsz, max(self.imgsz // 2, native)))

    def detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Boxes (xyxy px, (N, 4)), scores (N,) and species of one BGR image, above the species thresholds."""
        size = self.size_for(*image.shape[:2])
        canvas, scale, (left, top) = _letterbox(image, size, rect=self.rect)
        blob = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        out = self._session.run(None, {self._input: blob})[0][0].T  # type: ignore[attr-defined]  # (N, 4 + nc)
        scores_all = out[:, 4:]
        cls_ids = scores_all.argmax(axis=1)
        scores = scores_all[np.arange(len(out)), cls_ids]
        floor = np.array([self.thresholds.get(self.species_of.get(int(c), ""), DEFAULT_THRESHOLD) for c in cls_ids])
        keep = (scores >= floor) & np.isin(cls_ids, list(self.species_of))
        boxes, scores, cls_ids = out[keep, :4], scores[keep], cls_ids[keep]
        xyxy = np.column_stack([boxes[:, 0] - boxes[:, 2] / 2, boxes[:, 1] - boxes[:, 3] / 2,
                                boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2])  # fmt: skip
        xyxy = (xyxy - [left, top, left, top]) / scale
        height, width = image.shape[:2]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, width)
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, height)
        kept: list[int] = []
        for c in np.unique(cls_ids):  # per-class NMS, as ultralytics does
            idx = np.flatnonzero(cls_ids == c)
            wh = xyxy[idx, 2:] - xyxy[idx, :2]
            sel = cv2.dnn.NMSBoxes(np.column_stack([xyxy[idx, :2], wh]).tolist(), scores[idx].tolist(), 0.0, NMS_IOU)
            kept += idx[np.asarray(sel, dtype=int).reshape(-1)].tolist()
        kept.sort(key=lambda i: -scores[i])
        return xyxy[kept], scores[kept], [self.species_of[int(cls_ids[i])] for i in kept]

    def count_jpeg(self, jpeg: bytes) -> OnDeviceCount:
        """Count the animals in one JPEG and build the evidence.

        Raises:
            CameraError: the bytes are empty, not a decodable image, or over 50 megapixels.
        """
        if not jpeg:
            raise CameraError("Frame is empty (0 bytes); the camera returned no image")
        array = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
        if array is None:
            raise CameraError(f"Frame of {len(jpeg)} bytes is not a decodable JPEG; check the camera")
        if array.shape[0] * array.shape[1] > MAX_PIXELS:
            raise CameraError(f"Frame is {array.shape[1]}x{array.shape[0]}, over 50 megapixels; lower the resolution")
        xyxy, scores, species = self.detect(array)
        counts = {s: 0 for s in sorted(set(self.species_of.values()))}
        for s in species:
            counts[s] += 1
        return OnDeviceCount(
            counts=counts,
            model_sha256=self.model_sha256,
            frame_sha256=hashlib.sha256(jpeg).hexdigest(),
            phash=phash(array),
            thumbnail_jpeg=_thumbnail(array, xyxy, scores, species),
        )


def _thumbnail(
    image: np.ndarray, xyxy: np.ndarray, scores: np.ndarray, species: list[str], side_px: int = 480
) -> bytes:
    height, width = image.shape[:2]
    scale = min(1.0, side_px / max(height, width))
    thumb = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_LINEAR)
    for (x1, y1, x2, y2), score, name in zip(xyxy * scale, scores, species, strict=True):
        cv2.rectangle(thumb, (round(x1), round(y1)), (round(x2), round(y2)), (0, 200, 255), 2)
        cv2.putText(thumb, f"{name} {score:.2f}", (round(x1), max(10, round(y1) - 3)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 200, 255))  # fmt: skip
    ok, buf = cv2.imencode(".jpg", thumb, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise CameraError(f"Thumbnail of shape {thumb.shape} could not be encoded")
    return buf.tobytes()
