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


def default_model_path() -> Path:
    """The project's own livestock model, shipped as package data."""
    return DEFAULT_MODEL


def thresholds_path(model_path: Path) -> Path:
    """Where the per-species thresholds of a model live: ``<stem>.thresholds.json`` beside it."""
    return model_path.with_name(f"{model_path.stem}.thresholds.json")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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

    def __init__(self, *, yolo: Any, identity: ModelIdentity, thresholds: dict[str, float], imgsz: int) -> None:
        """Wrap a loaded ultralytics model; use :meth:`from_path`."""
        self._yolo = yolo
        self.identity = identity
        self.thresholds = thresholds
        self.imgsz = imgsz

    @classmethod
    def from_path(
        cls, path: Path | None = None, *, thresholds_file: Path | None = None, imgsz: int | None = None
    ) -> LivestockModel:
        """Load weights (``.pt`` or ``.onnx``); ``None`` loads the bundled FarmTrust model.

        Args:
            path: weights file.
            thresholds_file: per-species thresholds JSON; default ``<stem>.thresholds.json`` beside the
                weights if present, else 0.25 for every species.
            imgsz: inference size in pixels; default the model's training size (640 for ONNX).

        Raises:
            ModelLoadError: the file is missing, unreadable, not a detector, or names no livestock class.
        """
        path = Path(path) if path is not None else default_model_path()
        if not path.is_file():
            raise ModelLoadError(f"Model file {path} does not exist; pass --model with a YOLO .pt or .onnx file")
        try:
            from ultralytics import YOLO

            yolo = YOLO(str(path), task="detect")
            names = {int(k): str(v) for k, v in yolo.names.items()}
        except Exception as exc:
            raise ModelLoadError(f"Model file {path} is not a readable YOLO detector ({type(exc).__name__})") from None
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
        return cls(yolo=yolo, identity=identity, thresholds=thresholds, imgsz=imgsz)

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
        results = self._yolo.predict(images, imgsz=self.imgsz, conf=floor, verbose=False, max_det=300)
        return [Detections.from_ultralytics(r, species_of=self.identity.species_of) for r in results]

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
