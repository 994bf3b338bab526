"""Frames for cross-validation: each labelled frame with its camera profile, scene/time block and training use.

Folds must predict farms the model has never seen, so frames are grouped by what ties them together
(one scene, one clip, one stretch of time: near-duplicate neighbours) and a group never straddles two
folds. What identifies a group, per shared set (:func:`group_of`):

- ``cattle_chute`` (race): one camera; time blocks of 10 frame numbers (``frame_NNNNNN``).
- ``pig_pen`` (pen): the clip in ``sources.json`` plus blocks of 200 frame numbers within it.
- ``sheep_thermal_drone`` (aerial): one flight; 6-second blocks of the DJI capture time in the name
  (``DJI_<yyyymmddHHMMSS>_...``).
- ``cattle_pasture_cams`` (wide): the scene in ``sources.json`` plus the capture hour where the name
  starts with a Unix time (``1604672227p0``), else blocks of 5 frames in name order.
- any other set: blocks of 5 frames in name order.

Frames the committed model was trained on (box sets' ``images/train``, the earliest 70 % of each point
scene, :func:`vision.datasets.scene_split`) are marked ``trained_on``; cross-validation scores only
the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vision.datasets import SPECIES_CLASSES, iter_point_images, scene_split
from vision.errors import DatasetError
from vocabulary.cameras import DEFAULT_CAMERA_PROFILE

SET_PROFILES: dict[str, str] = {
    "cattle_chute": "race",
    "pig_pen": "pen",
    "sheep_thermal_drone": "aerial",
    "sheep_thermal": "aerial",  # the repository's copy of the thermal sheep frames
    "cattle_pasture_cams": "wide",
}
"""The camera profile of each known set; any other set is ``DEFAULT_CAMERA_PROFILE`` (wide)."""

COUNT_BINS: tuple[int, ...] = (0, 1, 2, 3, 6, 11, 31)
"""Lower edges of the animals-per-frame strata: 0, 1, 2, 3-5, 6-10, 11-30, 31 and more."""


@dataclass(frozen=True)
class Frame:
    """One labelled frame.

    Attributes:
        set_name: the dataset folder's name.
        profile: the camera profile of its set.
        path: the image file.
        species: the species of its animals (one per set).
        true_count: animals in the frame.
        group: scene / clip / time block (frames of one group share a fold).
        trained_on: whether the committed model was trained on this frame.
        boxes: true boxes (xyxy px, (N, 4)) where the set has boxes, else ``None``.
    """

    set_name: str
    profile: str
    path: Path
    species: str
    true_count: int
    group: str
    trained_on: bool
    boxes: np.ndarray | None = None


def _block(number: int, size: int) -> str:
    return f"b{number // size}"


def group_of(set_name: str, stem: str, source: dict) -> str:
    """The scene / clip / time block of one frame (see the module docstring)."""
    if set_name == "cattle_chute" and (m := re.search(r"(\d+)$", stem)):
        return _block(int(m.group(1)), 10)
    if set_name == "pig_pen" and "clip" in source:
        return f"{source['clip']}/{_block(int(source.get('frame', 0)), 200)}"
    if (m := re.match(r"DJI_\d{8}(\d{2})(\d{2})(\d{2})_", stem)) is not None:
        hh, mm, ss = (int(v) for v in m.groups())
        return _block(hh * 3600 + mm * 60 + ss, 6)
    scene = str(source.get("scene", "all"))
    if (m := re.match(r"(1[5-7]\d{8})", stem)) is not None:
        return f"{scene}/h{int(m.group(1)) // 3600}"
    return f"{scene}/{stem}"  # refined into blocks of 5 by catalog()


def _sources(folder: Path) -> dict[str, dict]:
    path = folder / "sources.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    entries = data if isinstance(data, list) else [e for v in data.values() if isinstance(v, list) for e in v]
    return {str(e["file"]): e for e in entries if isinstance(e, dict) and "file" in e}


def _box_frames(folder: Path, profile: str) -> list[Frame]:
    from vision.evaluation import load_sets

    sources, frames = _sources(folder), []
    for split in ("train", "val"):
        if not (folder / "images" / split).is_dir():
            continue
        (labelled,) = load_sets(folder, split=split)
        for image in labelled.images:
            kinds = sorted(set(image.species))
            species = kinds[0] if kinds else _species_of(folder.name)
            group = group_of(folder.name, image.path.stem, sources.get(image.path.stem, {}))
            frames.append(
                Frame(
                    folder.name,
                    profile,
                    image.path,
                    species,
                    len(image.species),
                    group,
                    split == "train",
                    image.boxes,
                )
            )
    return frames


def _species_of(set_name: str) -> str:
    return next((s for s in SPECIES_CLASSES if s in set_name), "cattle")


def _point_frames(folder: Path, profile: str) -> list[Frame]:
    sources, items = _sources(folder), iter_point_images(folder)
    train, _ = scene_split(folder, items, 0.3)
    trained = {p.image for p in train}
    species = _species_of(folder.name)
    return [
        Frame(
            folder.name,
            profile,
            p.image,
            species,
            len(p.points),
            group_of(folder.name, p.image.stem, sources.get(p.image.stem, {})),
            p.image in trained,
        )
        for p in items
    ]


def _refine_singletons(frames: list[Frame]) -> list[Frame]:
    """Frames whose group is only their own name (no time in it) are cut into blocks of 5 in name order."""
    from dataclasses import replace

    out, by_scene = [], {}
    for f in frames:
        scene, _, rest = f.group.rpartition("/")
        if scene and rest == f.path.stem:
            by_scene.setdefault((f.set_name, scene), []).append(f)
        else:
            out.append(f)
    for (_, scene), members in by_scene.items():
        for i, f in enumerate(sorted(members, key=lambda m: m.path.stem)):
            out.append(replace(f, group=f"{scene}/n{i // 5}"))
    return out


def catalog(root: Path) -> list[Frame]:
    """Every labelled frame under ``root``: a folder of sets, or one set folder.

    A set is a folder with ``images/`` and ``labels/`` (boxes, ``images/{train,val}`` or flat) or with
    ``images/`` and ``points/``.

    Raises:
        DatasetError: ``root`` holds no such set.
    """
    folders = [root] if (root / "images").is_dir() else sorted(p for p in root.iterdir() if (p / "images").is_dir())
    frames: list[Frame] = []
    for folder in folders:
        profile = SET_PROFILES.get(folder.name, str(DEFAULT_CAMERA_PROFILE))
        if (folder / "labels").is_dir():
            frames += _box_frames(folder, profile)
        elif (folder / "points").is_dir():
            frames += _point_frames(folder, profile)
    if not frames:
        raise DatasetError(f"Dataset folder {root} holds no set with images/ and labels/ or points/")
    return _refine_singletons(frames)


def stratum(frame: Frame) -> str:
    """The stratum of a frame: its set and its bin of animals per frame (``COUNT_BINS``)."""
    edge = max(b for b in COUNT_BINS if b <= frame.true_count)
    return f"{frame.set_name}:{edge}"


def stratified_group_folds(frames: Sequence[Frame], k: int, *, seed: int = 0) -> list[int]:
    """Assign each frame a fold in ``0..k-1``: whole groups, strata spread as evenly as the groups allow.

    The greedy rule of scikit-learn's ``StratifiedGroupKFold`` (not installed here): groups in order of
    decreasing spread of their strata counts (shuffled by ``seed`` first, for ties), each to the fold
    where it leaves the per-stratum shares of the folds most even, ties to the fold with fewer frames.

    Raises:
        DatasetError: ``k`` below 2.
    """
    if k < 2:
        raise DatasetError(f"--folds must be at least 2, got {k}")
    strata = sorted({stratum(f) for f in frames})
    column = {s: i for i, s in enumerate(strata)}
    groups = sorted({(f.set_name, f.group) for f in frames})
    row = {g: i for i, g in enumerate(groups)}
    counts = np.zeros((len(groups), len(strata)))
    for f in frames:
        counts[row[(f.set_name, f.group)], column[stratum(f)]] += 1
    totals = counts.sum(axis=0)
    order = np.random.default_rng(seed).permutation(len(groups))
    order = sorted(order, key=lambda g: -float(np.std(counts[g] / totals)))
    per_fold = np.zeros((k, len(strata)))
    fold_of_group = np.zeros(len(groups), dtype=int)
    for g in order:
        costs = []
        for fold in range(k):
            trial = per_fold.copy()
            trial[fold] += counts[g]
            costs.append((float(np.mean(np.std(trial / totals, axis=0))), trial[fold].sum()))
        best = min(range(k), key=lambda i: costs[i])
        per_fold[best] += counts[g]
        fold_of_group[g] = best
    return [int(fold_of_group[row[(f.set_name, f.group)]]) for f in frames]
