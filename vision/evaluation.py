"""Accuracy on labelled data: per set and species, count MAE, MAPE and AP50 (where boxes exist).

A dataset is an ultralytics detect yaml (each folder of its split is one set, named after the folder
above ``images/``) or a folder with ``images/`` and ``points/`` (counts only). Point folders with a
``sources.json`` are split by scene exactly as training split them (:mod:`vision.datasets`), so the
``val`` split never holds a frame the model was trained on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from vision.datasets import SPECIES_CLASSES, iter_point_images, scene_split
from vision.detections import Detections
from vision.errors import DatasetError
from vision.images import read_image
from vision.model import DEFAULT_THRESHOLD, LivestockModel

log = logging.getLogger(__name__)

THRESHOLD_GRID: tuple[float, ...] = tuple(round(x, 2) for x in np.arange(0.05, 0.91, 0.05))


@dataclass(frozen=True)
class LabelledImage:
    """One evaluation image: its path, the species of its animals and, when known, their boxes (xyxy px)."""

    path: Path
    species: tuple[str, ...]
    boxes: np.ndarray | None


@dataclass(frozen=True)
class LabelledSet:
    """A named set of labelled images."""

    name: str
    images: tuple[LabelledImage, ...]


def _names(spec: dict) -> list[str]:
    names = spec.get("names", {})
    return [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)


def set_name(folder: Path) -> str:
    """The dataset folder's name for an image folder: ``SET`` for ``SET/images/val`` and ``SET/images``."""
    if folder.name == "images":
        return folder.parent.name
    return folder.parent.parent.name if folder.parent.name == "images" else folder.name


def _box_set(folder: Path, names: list[str], name: str | None = None) -> LabelledSet:
    images = []
    for img in sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}):
        label = Path(str(img.parent).replace("/images", "/labels", 1)) / f"{img.stem}.txt"
        rows = [line.split() for line in label.read_text().splitlines() if line.strip()] if label.exists() else []
        from PIL import Image

        with Image.open(img) as im:
            width, height = im.size
        boxes = np.array([[float(v) for v in r[1:5]] for r in rows], dtype=float).reshape(-1, 4)
        xyxy = np.column_stack(
            [
                (boxes[:, 0] - boxes[:, 2] / 2) * width,
                (boxes[:, 1] - boxes[:, 3] / 2) * height,
                (boxes[:, 0] + boxes[:, 2] / 2) * width,
                (boxes[:, 1] + boxes[:, 3] / 2) * height,
            ]
        )
        images.append(LabelledImage(img, tuple(names[int(r[0])] for r in rows), xyxy))
    if name is None:
        name = set_name(folder)
    return LabelledSet(name, tuple(images))


def load_sets(dataset: Path, *, split: str = "val", point_species: str = "cattle") -> list[LabelledSet]:
    """Read the labelled sets of a dataset yaml, a box folder or a point folder.

    Args:
        dataset: ultralytics yaml; a folder with ``images/<split>`` and ``labels/<split>`` (unified ids
            0 cattle, 1 sheep, 2 pig); or a folder with ``images/`` and ``points/``.
        split: ``val`` or ``train`` for yamls and scene-split point folders; ``all`` for every image.
        point_species: species of the animals in a point folder.

    Raises:
        DatasetError: the path is neither, or a listed folder is missing.
    """
    if dataset.is_dir() and (dataset / "labels").is_dir():
        folder = dataset / "images" / split if split != "all" else dataset / "images"
        if not folder.is_dir():
            raise DatasetError(f"Dataset {dataset} has no images/{split} folder; pass --split all or another split")
        return [_box_set(folder, list(SPECIES_CLASSES), name=dataset.name)]
    if dataset.is_dir():
        items = iter_point_images(dataset)
        if split != "all":
            train, val = scene_split(dataset, items, 0.3)
            items = val if split == "val" else train
        images = tuple(LabelledImage(p.image, (point_species,) * len(p.points), None) for p in items)
        return [LabelledSet(dataset.name, images)]
    if dataset.suffix not in {".yaml", ".yml"} or not dataset.is_file():
        raise DatasetError(f"Dataset {dataset} is neither a dataset yaml nor a folder with images/ and points/")
    spec = yaml.safe_load(dataset.read_text())
    names = _names(spec)
    base = Path(spec.get("path") or dataset.parent)
    base = base if base.is_absolute() else dataset.parent / base
    key = "val" if split == "all" else split
    entries = spec.get(key) or []
    sets = []
    for entry in [entries] if isinstance(entries, str) else entries:
        folder = base / entry
        if not folder.is_dir():
            raise DatasetError(f"Dataset {dataset} lists {key} folder {folder}, which does not exist")
        sets.append(_box_set(folder, names))
    return sets


AP_MAX_DETECTIONS = 100_000
"""Detections per image that AP counts: in effect all of them (COCO and supervision's default keep 100)."""


def average_precision_50(predictions: list[Detections], truths: list[LabelledImage], species: str) -> float | None:
    """COCO-style 101-point AP at IoU 0.5 for one species; ``None`` when there is no true box.

    Computed by ``supervision.metrics.MeanAveragePrecision`` (pycocotools' matching and interpolation)
    with one difference from COCO's default: every detection of an image counts, not only its 100 most
    confident, because :func:`predict_sets` keeps up to 300 per image at a 0.001 score floor and a dense
    pen has more than 100 candidate boxes.
    """
    import supervision as sv
    from supervision.metrics import MeanAveragePrecision

    targets, preds = [], []
    for truth, found in zip(truths, predictions, strict=True):
        assert truth.boxes is not None, "AP needs boxes"
        true_boxes = truth.boxes[[s == species for s in truth.species]].reshape(-1, 4).astype(float)
        mine = np.array([s == species for s in found.species], dtype=bool)
        targets.append(sv.Detections(xyxy=true_boxes, class_id=np.zeros(len(true_boxes), dtype=int)))
        preds.append(
            sv.Detections(
                xyxy=found.xyxy[mine].reshape(-1, 4).astype(float),
                confidence=found.confidence[mine].astype(float),
                class_id=np.zeros(int(mine.sum()), dtype=int),
            )
        )
    if not sum(len(t) for t in targets):
        return None
    metric = MeanAveragePrecision(max_detection_thresholds=(1, 10, AP_MAX_DETECTIONS))
    result = metric.update(preds, targets).compute()
    return max(float(result.map50), 0.0)


def _count_errors(true: list[int], pred: list[int]) -> tuple[float, float | None]:
    t, p = np.asarray(true, float), np.asarray(pred, float)
    mae = float(np.mean(np.abs(p - t))) if len(t) else 0.0
    nz = t > 0
    mape = float(np.mean(np.abs(p[nz] - t[nz]) / t[nz]) * 100) if nz.any() else None
    return mae, mape


def predict_sets(
    model: LivestockModel, sets: list[LabelledSet], *, progress: Callable[[int], None] | None = None
) -> Iterator[tuple[LabelledSet, list[Detections]]]:
    """Run the model at a low score floor (0.001, for AP) on every image of every set."""
    for labelled in sets:
        found: list[Detections] = []
        paths = [im.path for im in labelled.images]
        for start in range(0, len(paths), 8):
            batch = [read_image(p) for p in paths[start : start + 8]]
            found += model.predict(batch, conf=0.001)
            if progress:
                progress(len(batch))
        yield labelled, found


def score_set(labelled: LabelledSet, found: list[Detections], thresholds: dict[str, float]) -> dict[str, object]:
    """Metrics of one set: per species and overall count MAE/MAPE, and AP50 where boxes exist."""
    kept = [d.above(thresholds, default=DEFAULT_THRESHOLD) for d in found]
    species_here = sorted({s for im in labelled.images for s in im.species})
    per_species: dict[str, dict[str, object]] = {}
    for species in species_here:
        true = [im.species.count(species) for im in labelled.images]
        pred = [d.species.count(species) for d in kept]
        mae, mape = _count_errors(true, pred)
        has_boxes = all(im.boxes is not None for im in labelled.images)
        ap = average_precision_50(found, list(labelled.images), species) if has_boxes else None
        per_species[species] = {
            "images": len(true),
            "true_count": int(sum(true)),
            "pred_count": int(sum(pred)),
            "count_mae": round(mae, 3),
            "count_mape": None if mape is None else round(mape, 1),
            "total_error_pct": round(100 * (sum(pred) - sum(true)) / max(sum(true), 1), 1),
            "map50": None if ap is None else round(ap, 3),
        }
    true_all = [len(im.species) for im in labelled.images]
    pred_all = [sum(d.species.count(s) for s in species_here) for d in kept]
    mae, mape = _count_errors(true_all, pred_all)
    return {
        "images": len(labelled.images),
        "species": per_species,
        "count_mae": round(mae, 3),
        "count_mape": None if mape is None else round(mape, 1),
    }


def choose_thresholds(
    results: list[tuple[LabelledSet, list[Detections]]], *, grid: tuple[float, ...] = THRESHOLD_GRID
) -> dict[str, float]:
    """Per species, the confidence threshold with the lowest mean relative count error across its sets.

    A set's relative error is its count MAE over its mean true count per image, so each set weighs the
    same whether its frames hold one animal (an overhead race) or forty (a pasture camera): the
    goal is a count error in percent on every set, and a crowded set's MAE would otherwise decide alone.
    """
    species_all = sorted({s for labelled, _ in results for im in labelled.images for s in im.species})
    chosen: dict[str, float] = {}
    for species in species_all:
        best: tuple[float, float] | None = None
        for thr in grid:
            maes = []
            for labelled, found in results:
                true = [im.species.count(species) for im in labelled.images]
                if not sum(true):
                    continue
                pred = [
                    int(np.sum((d.confidence >= thr) & np.array([s == species for s in d.species], bool)))
                    if len(d)
                    else 0
                    for d in found
                ]
                maes.append(_count_errors(true, pred)[0] / (sum(true) / len(true)))
            score = float(np.mean(maes))
            if best is None or score < best[0] - 1e-9:
                best = (score, thr)
        chosen[species] = best[1] if best else DEFAULT_THRESHOLD
    return chosen
