"""The vision worker's profiled path for ``python -m bench.vision``: frames counted as their intervals were calibrated.

A device's frames are counted by the ``vision.ProfileCounter`` of its camera profile (race and pen at 416 px,
wide at 640 px, aerial in 416-px tiles: the setups ``farmtrust_livestock.intervals.json`` records). Per
profile, on the same frames:

- raw: ``ultralytics.YOLO.predict`` at the sizes the profile runs them (the tiles for a tiled profile), batches
  of 8, score floor as the counter's;
- batched: what the worker does: safe decode, ``ProfileCounter.count_many`` (frames of a shape batched, a
  frame's tiles batched), perceptual hash, annotated thumbnail written, count rows as JSON lines;
- one at a time: the same with ``ProfileCounter.count`` per frame (the worker before batching).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

PROFILE_SETS = {
    "race": "cattle_chute",
    "pen": "pig_pen",
    "aerial": "sheep_thermal_drone",
    "wide": "cattle_pasture_cams",
}
"""The shared set whose camera each profile describes (as ``vision.folds`` assigns them)."""

BATCH = 8


def profile_frames(shared: Path, demo: Path, per_profile: int) -> dict[str, list[Path]]:
    """Per profile ``per_profile`` frames spread over its shared set (every image, any split).

    Without ``../shared`` the repository's thermal sheep frames stand in for the aerial profile alone.
    """
    out: dict[str, list[Path]] = {}
    for profile, name in PROFILE_SETS.items():
        files = sorted((shared / name / "images").rglob("*.jpg")) if shared.is_dir() else []
        if files:
            step = max(1, len(files) // per_profile)
            out[profile] = files[::step][:per_profile]
    if not out:
        files = sorted(demo.rglob("*.jpg"))
        out["aerial"] = (files * (per_profile // max(len(files), 1) + 1))[:per_profile]
    return out


def profile_paths(
    *, model: object, counters: dict[str, object], frames: dict[str, list[Path]], work: Path
) -> dict[str, Callable[[], None]]:
    """The timed paths, named ``PROFILE:raw``, ``PROFILE:batched`` and ``PROFILE:single``."""
    import supervision as sv

    from vision.crossval import SCORE_FLOOR
    from vision.evidence import phash, sha256_hex, thumbnail, write_thumbnail
    from vision.images import decode_image, read_image

    yolo = model._yolo  # type: ignore[attr-defined]
    paths: dict[str, Callable[[], None]] = {}
    for profile, files in frames.items():
        counter = counters[profile]
        run = counter._model  # type: ignore[attr-defined]  # the profile's size cap and NMS on the same weights
        blobs = [p.read_bytes() for p in files]
        tiled = counter.setup.tiled  # type: ignore[attr-defined]

        def raw(files: list[Path] = files, run: object = run, tiled: bool = tiled) -> None:
            if tiled:
                side = run.imgsz  # type: ignore[attr-defined]
                tiles = []
                for path in files:
                    image = read_image(path)
                    offsets = sv.InferenceSlicer._generate_offset(
                        (image.shape[1], image.shape[0]), (side, side), (side // 5, side // 5)
                    )
                    tiles += [sv.crop_image(image, xyxy=o) for o in offsets]
                for i in range(0, len(tiles), BATCH):
                    yolo.predict(tiles[i : i + BATCH], imgsz=side, conf=SCORE_FLOOR, batch=BATCH, verbose=False)
                return
            for i in range(0, len(files), BATCH):
                chunk = files[i : i + BATCH]
                sizes = [run.size_for(*read_size(p)) for p in chunk]  # type: ignore[attr-defined]
                for size in sorted(set(sizes)):
                    group = [str(p) for p, z in zip(chunk, sizes, strict=True) if z == size]
                    yolo.predict(group, imgsz=size, conf=SCORE_FLOOR, batch=BATCH, verbose=False)

        def worker(
            batched: bool, files: list[Path] = files, blobs: list[bytes] = blobs, counter: object = counter
        ) -> None:
            with (work / "profile-counts.jsonl").open("w") as sink:
                for i in range(0, len(blobs), BATCH):
                    chunk = blobs[i : i + BATCH]
                    images = [decode_image(b, name=str(files[i + k])) for k, b in enumerate(chunk)]
                    if batched:
                        found = counter.count_many(images, batch_size=BATCH)  # type: ignore[attr-defined]
                    else:
                        found = [counter.count(image) for image in images]  # type: ignore[attr-defined]
                    for data, image, result in zip(chunk, images, found, strict=True):
                        sha = sha256_hex(data)
                        write_thumbnail(work, frame_sha256=sha, jpeg=thumbnail(image, result.detections))
                        hash_hex = phash(image)
                        sink.writelines(
                            json.dumps({"frame": sha, "phash": hash_hex, "species": s, "count": n,
                                        "low": result.intervals[s].low, "high": result.intervals[s].high}) + "\n"
                            for s, n in result.counts.items()
                        )  # fmt: skip

        paths[f"{profile}:raw"] = raw
        paths[f"{profile}:batched"] = lambda worker=worker: worker(True)
        paths[f"{profile}:single"] = lambda worker=worker: worker(False)
    return paths


def read_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header."""
    from PIL import Image

    with Image.open(path) as im:
        return im.height, im.width


def profile_summary(best: dict[str, float], frames: dict[str, list[Path]]) -> dict[str, object]:
    """The JSON keys of the profiled path: overall and per profile frames/s and ratios to raw."""
    total = {k: sum(best[f"{p}:{k}"] for p in frames) for k in ("raw", "batched", "single")}
    n = sum(len(f) for f in frames.values())
    return {
        "profile_frames": n,
        "profile_frames_per_s": round(n / total["batched"], 2),
        "profile_raw_predict_frames_per_s": round(n / total["raw"], 2),
        "profile_ratio": round(total["raw"] / total["batched"], 3),
        "profile_one_at_a_time_frames_per_s": round(n / total["single"], 2),
        "profile_one_at_a_time_ratio": round(total["raw"] / total["single"], 3),
        "profiles": {
            p: {
                "frames": len(f),
                "frames_per_s": round(len(f) / best[f"{p}:batched"], 2),
                "ratio": round(best[f"{p}:raw"] / best[f"{p}:batched"], 3),
                "one_at_a_time_ratio": round(best[f"{p}:raw"] / best[f"{p}:single"], 3),
            }
            for p, f in frames.items()
        },
    }
