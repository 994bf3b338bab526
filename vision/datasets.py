"""Training sets: the box-labelled livestock yaml plus point-labelled sets turned into pseudo-boxes.

The barn, pen and pasture cameras are labelled with one point per animal, no boxes. To train on them
we draw a square pseudo-box around each point whose side is a share of the distance to the nearest
other animal (animals in a herd touch or nearly touch, so this tracks their apparent size in that
image), clipped to a sane range. Point sets are split by scene and time: within each scene the
later images go to validation, so no validation frame has a near-duplicate neighbour in training.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from vision.errors import DatasetError

log = logging.getLogger(__name__)

SPECIES_CLASSES: tuple[str, ...] = ("cattle", "sheep", "pig")


@dataclass(frozen=True)
class PointImage:
    """One point-labelled image: the path and the animals' pixel coordinates, shape (N, 2)."""

    image: Path
    points: np.ndarray


def read_points(path: Path) -> np.ndarray:
    """Read a points file (one ``x y`` per line, pixels) into an (N, 2) float array."""
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    try:
        return np.array([[float(x), float(y)] for x, y, *_ in rows], dtype=float).reshape(-1, 2)
    except ValueError:
        raise DatasetError(f"Points file {path} must hold one 'x y' pair of numbers per line") from None


def iter_point_images(folder: Path) -> list[PointImage]:
    """List the images of a point-labelled set (``images/`` and ``points/`` side by side).

    Raises:
        DatasetError: the folder lacks ``images/`` or ``points/``.
    """
    images, points = folder / "images", folder / "points"
    if not images.is_dir() or not points.is_dir():
        raise DatasetError(f"Point set {folder} must contain images/ and points/ folders")
    out = []
    for img in sorted(images.rglob("*.jpg")):
        label = points / img.relative_to(images).with_suffix(".txt")
        if label.exists():
            out.append(PointImage(img, read_points(label)))
    return out


def pseudo_boxes(points: np.ndarray, *, width: int, height: int, share: float = 0.9) -> np.ndarray:
    """Square boxes (xyxy pixels, shape (N, 4)) centred on points, sized by nearest-neighbour distance.

    Args:
        points: (N, 2) animal positions in pixels.
        width: image width in pixels.
        height: image height in pixels.
        share: box side as a share of the distance to the nearest other animal.
    """
    if len(points) == 0:
        return np.zeros((0, 4))
    short = min(width, height)
    if len(points) == 1:
        side = np.array([0.35 * short])
    else:
        diff = points[:, None, :] - points[None, :, :]
        dist = np.sqrt((diff**2).sum(-1))
        np.fill_diagonal(dist, np.inf)
        side = share * dist.min(axis=1)
    # an isolated animal is not bigger than the typical one in the same image
    side = np.minimum(side, 1.5 * np.median(side))
    side = np.clip(side, 0.02 * short, 0.45 * short)
    half = side[:, None] / 2
    boxes = np.concatenate([points - half, points + half], axis=1)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height - 1)
    return boxes


def _scene_split(folder: Path, items: list[PointImage], val_share: float) -> tuple[list[PointImage], list[PointImage]]:
    sources = folder / "sources.json"
    scene_of: dict[str, str] = {}
    if sources.exists():
        scene_of = {s["file"]: s.get("scene", "all") for s in json.loads(sources.read_text())}
    by_scene: dict[str, list[PointImage]] = {}
    for item in items:
        by_scene.setdefault(scene_of.get(item.image.stem, "all"), []).append(item)
    train, val = [], []
    for scene_items in by_scene.values():
        scene_items.sort(key=lambda p: p.image.stem)  # names encode capture time
        cut = max(1, round(len(scene_items) * (1 - val_share))) if len(scene_items) > 1 else 1
        train += scene_items[:cut]
        val += scene_items[cut:]
    return train, val


def _write_yolo(item: PointImage, image_dir: Path, label_dir: Path, class_id: int) -> None:
    with Image.open(item.image) as im:
        width, height = im.size
    boxes = pseudo_boxes(item.points, width=width, height=height)
    shutil.copy2(item.image, image_dir / item.image.name)
    lines = []
    for x1, y1, x2, y2 in boxes:
        cx, cy, w, h = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    (label_dir / f"{item.image.stem}.txt").write_text("\n".join(lines) + "\n")


def build_training_set(
    *, box_yaml: Path, point_sets: list[Path], out_dir: Path, point_class: str = "cattle", val_share: float = 0.3
) -> Path:
    """Write a combined ultralytics dataset (box sets by reference, point sets as pseudo-boxes).

    Args:
        box_yaml: an ultralytics detect yaml with the box-labelled sets (its folders are referenced).
        point_sets: folders with ``images/`` and ``points/`` (one ``x y`` per animal).
        out_dir: where the combined yaml and the converted point sets are written.
        point_class: the species of the point-labelled animals.
        val_share: share of each scene's latest images kept for validation.

    Returns:
        The path of the combined dataset yaml.

    Raises:
        DatasetError: the box yaml is missing or names other classes.
    """
    if not box_yaml.exists():
        raise DatasetError(f"Dataset yaml {box_yaml} does not exist")
    spec = yaml.safe_load(box_yaml.read_text())
    names = spec.get("names", {})
    names = [names[k] for k in sorted(names)] if isinstance(names, dict) else list(names)
    if tuple(names) != SPECIES_CLASSES:
        raise DatasetError(f"{box_yaml} names classes {names}; expected {list(SPECIES_CLASSES)}")
    base = Path(spec.get("path") or box_yaml.parent)
    base = base if base.is_absolute() else box_yaml.parent / base

    def absolute(entries: str | list[str]) -> list[str]:
        return [str((base / e).resolve()) for e in ([entries] if isinstance(entries, str) else entries)]

    train, val = absolute(spec["train"]), absolute(spec["val"])
    class_id = SPECIES_CLASSES.index(point_class)
    for folder in point_sets:
        t_items, v_items = _scene_split(folder, iter_point_images(folder), val_share)
        for split, items, target in (("train", t_items, train), ("val", v_items, val)):
            image_dir = out_dir / folder.name / "images" / split
            label_dir = out_dir / folder.name / "labels" / split
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            for item in items:
                _write_yolo(item, image_dir, label_dir, class_id)
            target.append(str(image_dir.resolve()))
        log.info("point set %s: %d train, %d val images as pseudo-boxes", folder.name, len(t_items), len(v_items))
    combined = out_dir / "farmtrust_livestock.yaml"
    combined.write_text(yaml.safe_dump({"train": train, "val": val, "names": dict(enumerate(SPECIES_CLASSES))}))
    return combined
