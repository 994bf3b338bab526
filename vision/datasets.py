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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from vision.errors import DatasetError

log = logging.getLogger(__name__)

SPECIES_CLASSES: tuple[str, ...] = ("cattle", "sheep", "pig")

Refiner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""A detector for :func:`refine_boxes`: BGR image -> (boxes xyxy (M, 4), scores (M,))."""


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


def refine_boxes(
    points: np.ndarray, pseudo: np.ndarray, found: np.ndarray, scores: np.ndarray, *, max_ratio: float = 3.0
) -> np.ndarray:
    """Replace pseudo-boxes by a detector's boxes where one clearly belongs to the point (self-training).

    A point takes the highest-scoring detected box that contains it and no other point, and whose
    side is within ``max_ratio`` of the pseudo-box's side; other points keep their pseudo-box. Real
    boxes follow each animal's outline (a pseudo-box is only a square sized by the herd's spacing),
    which is what makes the detector's scores on these cameras trustworthy.

    Args:
        points: (N, 2) animal positions.
        pseudo: (N, 4) pseudo-boxes of those points (xyxy).
        found: (M, 4) boxes a detector found in the same image (xyxy).
        scores: (M,) their confidences.
        max_ratio: how much bigger or smaller than the pseudo-box a detected box may be.
    """
    out = pseudo.copy()
    if len(points) == 0 or len(found) == 0:
        return out
    inside = (
        (points[:, None, 0] >= found[None, :, 0])
        & (points[:, None, 0] <= found[None, :, 2])
        & (points[:, None, 1] >= found[None, :, 1])
        & (points[:, None, 1] <= found[None, :, 3])
    )  # (N, M)
    lone = inside.sum(axis=0) == 1  # a box around two animals belongs to neither
    side_found = np.sqrt((found[:, 2] - found[:, 0]) * (found[:, 3] - found[:, 1]))
    side_pseudo = pseudo[:, 2] - pseudo[:, 0]
    refined = np.zeros(len(points), bool)
    for m in np.argsort(-scores):  # best boxes first: each point takes its best lone box
        if not lone[m]:
            continue
        n = int(np.flatnonzero(inside[:, m])[0])
        ratio = side_found[m] / max(side_pseudo[n], 1e-6)
        if not refined[n] and 1 / max_ratio <= ratio <= max_ratio:
            out[n] = found[m]
            refined[n] = True
    return out


def scene_split(folder: Path, items: list[PointImage], val_share: float) -> tuple[list[PointImage], list[PointImage]]:
    """Split a point folder's images into train and val by scene, the latest ``val_share`` of each scene to val.

    Scenes come from the folder's ``sources.json`` (``[{"file": stem, "scene": name}, ...]``; one scene
    when absent). Frames are ordered by name (names encode capture time), so val never holds a frame
    from the middle of a scene's training frames; a scene of one frame goes to train.
    """
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


def _yolo_lines(boxes: np.ndarray, *, width: int, height: int, class_id: int) -> str:
    lines = []
    for x1, y1, x2, y2 in boxes:
        cx, cy, w, h = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{class_id} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return "\n".join(lines) + "\n"


def crop_windows(width: int, height: int, crop_px: int, overlap: float = 0.2) -> list[tuple[int, int, int, int]]:
    """Square windows (x0, y0, x1, y1) of side ``crop_px`` covering an image, overlapping by ``overlap``.

    An image no larger than ``crop_px`` on both sides is one window, the whole image.
    """

    def starts(size: int) -> list[int]:
        if size <= crop_px:
            return [0]
        step = max(1, int(crop_px * (1 - overlap)))
        out = list(range(0, size - crop_px, step))
        return [*out, size - crop_px]

    return [(x, y, min(width, x + crop_px), min(height, y + crop_px)) for y in starts(height) for x in starts(width)]


def _write_yolo(
    item: PointImage,
    image_dir: Path,
    label_dir: Path,
    class_id: int,
    *,
    max_side: int | None = None,
    crop_px: int | None = None,
    refiner: Refiner | None = None,
) -> int:
    """Write one point image as YOLO pseudo-boxes; returns the number of images written.

    With ``max_side`` the image is first scaled down so its long side is at most ``max_side`` (the scale
    the model sees it at inference); with ``crop_px`` it is then cut into overlapping square crops,
    so small animals in wide views are trained at the size they are counted at. A box belongs to the
    crop holding its centre.
    """
    with Image.open(item.image) as im:
        width, height = im.size
        # decode the pixels only when a detector or the crops need them; otherwise the file is copied
        image = im.convert("RGB") if refiner is not None or max_side is not None or crop_px is not None else None
    boxes = pseudo_boxes(item.points, width=width, height=height)
    if refiner is not None and image is not None:
        found, scores = refiner(np.asarray(image)[:, :, ::-1].copy())
        boxes = refine_boxes(item.points, boxes, found, scores)
    if image is None or (max_side is None and crop_px is None):
        shutil.copy2(item.image, image_dir / item.image.name)
        (label_dir / f"{item.image.stem}.txt").write_text(
            _yolo_lines(boxes, width=width, height=height, class_id=class_id)
        )
        return 1
    scale = min(1.0, (max_side or max(width, height)) / max(width, height))
    if scale < 1.0:
        width, height = round(width * scale), round(height * scale)
        image = image.resize((width, height), Image.Resampling.LANCZOS)
        boxes = boxes * scale
    windows = crop_windows(width, height, crop_px or max(width, height))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    for i, (x0, y0, x1, y1) in enumerate(windows):
        inside = (centres[:, 0] >= x0) & (centres[:, 0] < x1) & (centres[:, 1] >= y0) & (centres[:, 1] < y1)
        crop_boxes = boxes[inside] - np.array([x0, y0, x0, y0])
        crop_boxes[:, [0, 2]] = crop_boxes[:, [0, 2]].clip(0, x1 - x0 - 1)
        crop_boxes[:, [1, 3]] = crop_boxes[:, [1, 3]].clip(0, y1 - y0 - 1)
        stem = f"{item.image.stem}_c{i}"
        image.crop((x0, y0, x1, y1)).save(image_dir / f"{stem}.jpg", quality=95)
        (label_dir / f"{stem}.txt").write_text(
            _yolo_lines(crop_boxes, width=x1 - x0, height=y1 - y0, class_id=class_id)
        )
    return len(windows)


def _thin_box_folder(folder: str, every: int, out_dir: Path, name: str) -> str:
    """A list file naming every ``every``-th image of a box folder (labels stay beside the originals)."""
    images = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    listing = out_dir / f"{name}.txt"
    listing.write_text("".join(f"{p}\n" for p in images[::every]))
    return str(listing.resolve())


def build_training_set(
    *,
    box_yaml: Path,
    point_sets: list[Path],
    out_dir: Path,
    point_class: str = "cattle",
    val_share: float = 0.3,
    max_side: int | None = None,
    crop_px: int | None = None,
    box_every: dict[str, int] | None = None,
    refiner: Refiner | None = None,
) -> Path:
    """Write a combined ultralytics dataset (box sets by reference, point sets as pseudo-boxes).

    Args:
        box_yaml: an ultralytics detect yaml with the box-labelled sets (its folders are referenced).
        point_sets: folders with ``images/`` and ``points/`` (one ``x y`` per animal).
        out_dir: where the combined yaml and the converted point sets are written.
        point_class: the species of the point-labelled animals.
        val_share: share of each scene's latest images kept for validation.
        max_side: scale point images down to this long side first (the model's inference cap).
        crop_px: cut point images into overlapping square crops of this size.
        box_every: keep every n-th training frame of the box folders whose path contains the key
            (e.g. ``{"cattle_chute": 5}`` for a set of near-identical consecutive frames).
        refiner: a detector whose confident boxes replace the pseudo-boxes of the points they hold
            (:func:`refine_boxes`), for a second round of training on point-labelled sets.

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
    out_dir.mkdir(parents=True, exist_ok=True)
    for key, every in (box_every or {}).items():
        train = [
            _thin_box_folder(f, every, out_dir, f"{key}_every{every}") if key in f and every > 1 else f for f in train
        ]
    class_id = SPECIES_CLASSES.index(point_class)
    for folder in point_sets:
        shutil.rmtree(out_dir / folder.name, ignore_errors=True)  # a rebuild must not keep old crops
        t_items, v_items = scene_split(folder, iter_point_images(folder), val_share)
        for split, items, target in (("train", t_items, train), ("val", v_items, val)):
            image_dir = out_dir / folder.name / "images" / split
            label_dir = out_dir / folder.name / "labels" / split
            image_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            written = sum(
                _write_yolo(item, image_dir, label_dir, class_id, max_side=max_side, crop_px=crop_px, refiner=refiner)
                for item in items
            )
            target.append(str(image_dir.resolve()))
            log.info("point set %s %s: %d images -> %d training images", folder.name, split, len(items), written)
    combined = out_dir / "farmtrust_livestock.yaml"
    combined.write_text(yaml.safe_dump({"train": train, "val": val, "names": dict(enumerate(SPECIES_CLASSES))}))
    return combined
