"""Load a livestock detector from a path, record its identity, and run batched inference."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vision.detections import Detections
from vision.errors import ModelLoadError
from vision.species import species_of_names

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = MODELS_DIR / "farmtrust_livestock.pt"
DEFAULT_THRESHOLD = 0.25
DEFAULT_NMS_IOU = 0.7
"""ultralytics' default IoU above which non-maximum suppression merges two boxes into one animal."""


def default_model_path() -> Path:
    """The project's own livestock model, shipped as package data."""
    return DEFAULT_MODEL


def is_model_name(path: Path) -> bool:
    """Whether ``path`` is a bare published model name (``yolov8n.pt``) that ultralytics can download."""
    return path.parent == Path(".") and path.suffix == ".pt" and path.stem.startswith(("yolov", "yolo1", "yolo2"))


def thresholds_path(model_path: Path) -> Path:
    """Where the per-species thresholds of a model live: ``<stem>.thresholds.json`` beside it."""
    return model_path.with_name(f"{model_path.stem}.thresholds.json")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes (read in chunks by :func:`hashlib.file_digest`)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def load_thresholds(path: Path) -> dict[str, float]:
    """Read per-species thresholds (``{"thresholds": {"cattle": 0.3, ...}}``).

    Raises:
        ModelLoadError: the file is not valid JSON of that shape.
    """
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data["thresholds"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelLoadError(
            f"Thresholds file {path} is unreadable or lacks a 'thresholds' object of species -> number ({exc})"
        ) from None


@dataclass(frozen=True)
class ModelIdentity:
    """What is recorded with every count: the weights' sha256 and class names."""

    path: Path
    sha256: str
    names: dict[int, str]
    species_of: dict[int, str]


class LivestockModel:
    """A YOLO detector whose classes map to livestock species, with per-species thresholds."""

    def __init__(
        self,
        *,
        yolo: Any,
        identity: ModelIdentity,
        thresholds: dict[str, float],
        imgsz: int,
        max_imgsz: int | None = None,
        nms_iou: float = DEFAULT_NMS_IOU,
        agnostic_nms: bool = False,
    ) -> None:
        """Wrap a loaded ultralytics model; use :meth:`from_path`."""
        self._yolo = yolo
        self.identity = identity
        self.thresholds = thresholds
        self.imgsz = imgsz
        self.max_imgsz = max_imgsz or imgsz
        self.nms_iou = nms_iou
        self.agnostic_nms = agnostic_nms

    def size_for(self, height: int, width: int) -> int:
        """Inference size of a frame: its own long side rounded up to stride 32, within [imgsz/2, max_imgsz].

        By default ``max_imgsz`` is the training size, so a frame is never run bigger than the model
        learned its animals at, and a small frame is not blown up. A model trained on crops of wide
        views at their own scale (``vision.datasets`` ``crop_px``) can be given a higher cap, so a
        1280-pixel pasture camera is not shrunk to where a distant cow is a few pixels.
        """
        native = -(-max(height, width) // 32) * 32
        return int(min(self.max_imgsz, max(self.imgsz // 2, native)))

    @classmethod
    def from_path(
        cls,
        path: Path | None = None,
        *,
        thresholds_file: Path | None = None,
        imgsz: int | None = None,
        max_imgsz: int | None = None,
    ) -> LivestockModel:
        """Load weights (``.pt`` or ``.onnx``); ``None`` loads the bundled FarmTrust model.

        Args:
            path: weights file, or a published model name such as ``yolov8n.pt`` (downloaded by
                ultralytics where the machine is online).
            thresholds_file: per-species thresholds JSON; default ``<stem>.thresholds.json`` beside the
                weights if present, else 0.25 for every species.
            imgsz: the model's training size in pixels; default read from the weights (640 for ONNX).
            max_imgsz: largest inference size (frames run at their own size up to this); default imgsz.

        Raises:
            ModelLoadError: the file is missing, unreadable, not a detector, or names no livestock class.
        """
        path = Path(path) if path is not None else default_model_path()
        if not path.is_file() and not is_model_name(path):
            raise ModelLoadError(f"Model file {path} does not exist; pass --model with a YOLO .pt or .onnx file")
        try:
            from ultralytics import YOLO

            yolo = YOLO(str(path), task="detect")  # a bare name is downloaded by ultralytics when online
            names = {int(k): str(v) for k, v in yolo.names.items()}
        except ConnectionError:
            raise ModelLoadError(
                f"Model {path} is not a local file and could not be downloaded (is this machine offline?); "
                "pass --model with the path of a YOLO .pt or .onnx file"
            ) from None
        except Exception as exc:
            raise ModelLoadError(f"Model file {path} is not a readable YOLO detector ({type(exc).__name__})") from None
        if not path.is_file():  # downloaded: record the file ultralytics saved
            path = Path(getattr(yolo, "ckpt_path", None) or path).resolve()
        species_of = species_of_names(names)
        if not species_of:
            raise ModelLoadError(f"Model file {path} has no livestock class among {sorted(names.values())[:10]}")
        if imgsz is None:
            args = getattr(yolo, "ckpt", None) or {}
            imgsz = int((args.get("train_args") or {}).get("imgsz", 640)) if path.suffix == ".pt" else 640
        tfile = thresholds_file or thresholds_path(path)
        thresholds = load_thresholds(tfile) if tfile.exists() else {}
        if thresholds_file is not None and not tfile.exists():
            raise ModelLoadError(f"Thresholds file {tfile} does not exist")
        identity = ModelIdentity(path, file_sha256(path), names, species_of)
        log.info("loaded model %s sha256=%s species=%s imgsz=%d", path.name, identity.sha256[:12], species_of, imgsz)
        return cls(yolo=yolo, identity=identity, thresholds=thresholds, imgsz=imgsz, max_imgsz=max_imgsz)

    def profiled(
        self,
        *,
        max_imgsz: int | None = None,
        thresholds: dict[str, float] | None = None,
        nms_iou: float | None = None,
        agnostic_nms: bool | None = None,
    ) -> LivestockModel:
        """The same loaded weights with another size cap, thresholds or NMS setting (a camera's profile).

        Species missing from ``thresholds`` keep this model's threshold; ``None`` keeps this model's value.
        """
        return LivestockModel(
            yolo=self._yolo,
            identity=self.identity,
            thresholds={**self.thresholds, **(thresholds or {})},
            imgsz=self.imgsz,
            max_imgsz=max_imgsz or self.max_imgsz,
            nms_iou=self.nms_iou if nms_iou is None else nms_iou,
            agnostic_nms=self.agnostic_nms if agnostic_nms is None else agnostic_nms,
        )

    @property
    def species(self) -> tuple[str, ...]:
        """The species this model can count, sorted."""
        return tuple(sorted(set(self.identity.species_of.values())))

    def threshold(self, species: str) -> float:
        """Confidence threshold of one species."""
        return self.thresholds.get(species, DEFAULT_THRESHOLD)

    def predict(self, images: list[np.ndarray], *, conf: float | None = None) -> list[Detections]:
        """Detect animals in a batch of BGR images; boxes below ``conf`` are dropped.

        Args:
            images: BGR arrays (H, W, 3).
            conf: score floor; default the lowest per-species threshold (apply :meth:`detect` for counts).
        """
        if not images:
            return []
        floor = conf if conf is not None else min([*self.thresholds.values(), DEFAULT_THRESHOLD])
        sizes = [self.size_for(*image.shape[:2]) for image in images]
        found: list[Detections | None] = [None] * len(images)
        for size in sorted(set(sizes)):  # one batch per inference size
            index = [i for i, s in enumerate(sizes) if s == size]
            results = self._yolo.predict(
                [images[i] for i in index],
                imgsz=size,
                conf=floor,
                iou=self.nms_iou,
                agnostic_nms=self.agnostic_nms,
                verbose=False,
                max_det=300,
            )
            for i, result in zip(index, results, strict=True):
                found[i] = Detections.from_ultralytics(result, species_of=self.identity.species_of)
        return [d for d in found if d is not None]

    def detect(self, images: list[np.ndarray]) -> list[Detections]:
        """Detect animals and keep those above their species' threshold."""
        return [d.above(self.thresholds, default=DEFAULT_THRESHOLD) for d in self.predict(images)]

    def export_onnx(self, *, target: Path) -> Path:
        """Export to ONNX (dynamic input size, trained at ``imgsz``) with the thresholds JSON beside it.

        The input is dynamic so the device can letterbox a frame to the smallest stride-32 rectangle, as
        ultralytics does, instead of a full square (a 16:9 frame then costs about half the compute).

        Raises:
            ModelLoadError: the loaded model is not a PyTorch ``.pt``.
        """
        if self.identity.path.suffix != ".pt":
            raise ModelLoadError(f"Model file {self.identity.path} is not a .pt; only PyTorch weights export")
        out = Path(self._yolo.export(format="onnx", imgsz=self.imgsz, simplify=False, opset=17, dynamic=True))
        target.parent.mkdir(parents=True, exist_ok=True)
        if out.resolve() != target.resolve():
            out.replace(target)
        thresholds_path(target).write_text(
            json.dumps({"thresholds": self.thresholds, "source_sha256": self.identity.sha256}, indent=2) + "\n"
        )
        return target
