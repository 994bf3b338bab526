"""``farmtrust vision``: train, count, evaluate and export the livestock detector; run the worker."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from farmtrust.commands._common import DbUrl, load_settings
from farmtrust.console import console

if TYPE_CHECKING:
    from farmtrust.settings import Settings
    from vision.model import LivestockModel

app = typer.Typer(help="Livestock detection and counting.", no_args_is_help=True)

ModelOpt = Annotated[
    Path | None,
    typer.Option("--model", envvar="FARMTRUST_VISION__MODEL_PATH", help="weights; default the bundled model"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object as the last line")]
MaxImgszOpt = Annotated[
    int | None,
    typer.Option("--max-imgsz", min=32, help="largest inference size (a camera profile's cap); default the model's"),
]
SHARED_BASE = Path("../shared/data/vision/weights/yolov8n_coco_dequant_unfused.pt")


class Mode(StrEnum):
    """Counting mode."""

    snapshot = "snapshot"
    line = "line"
    tiled = "tiled"


def _model(path: Path | None, *, max_imgsz: int | None = None) -> LivestockModel:
    from vision.model import LivestockModel

    settings = load_settings()
    return LivestockModel.from_path(
        path or settings.vision.model_path,
        thresholds_file=settings.vision.thresholds_file,
        max_imgsz=max_imgsz or settings.vision.max_imgsz,
    )


def camera_models(settings: Settings, detector: LivestockModel) -> dict[str, LivestockModel]:
    """The detector with each configured camera's profile (size cap, thresholds), by camera id.

    Raises:
        ModelLoadError: a profile's thresholds file is missing or malformed.
    """
    from vision.model import load_thresholds

    return {
        camera: detector.profiled(
            max_imgsz=profile.max_imgsz,
            thresholds=load_thresholds(profile.thresholds_file) if profile.thresholds_file else None,
        )
        for camera, profile in settings.vision.camera_profiles.items()
    }


@app.command()
def train(
    data_yaml: Annotated[Path, typer.Argument(help="ultralytics detect dataset yaml (classes cattle, sheep, pig)")],
    base: Annotated[Path, typer.Option("--base", help="unfused COCO YOLO weights to start from")] = SHARED_BASE,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 12,
    imgsz: Annotated[int, typer.Option("--imgsz", min=32, help="training size in pixels")] = 416,
    points: Annotated[
        list[Path] | None, typer.Option("--points", help="point-labelled folder (images/ + points/) to add")
    ] = None,
    work_dir: Annotated[Path, typer.Option("--work-dir", help="runs and converted sets")] = Path(
        "/tmp/farmtrust-train"
    ),
    publish_to: Annotated[Path | None, typer.Option("--publish", help="copy best weights here, with a card")] = None,
    max_side: Annotated[
        int | None, typer.Option("--max-side", min=32, help="scale point images to this long side (inference cap)")
    ] = None,
    crop: Annotated[
        int | None, typer.Option("--crop", min=32, help="cut point images into overlapping square crops")
    ] = None,
    box_every: Annotated[
        list[str] | None, typer.Option("--box-every", help="SET=N: keep every n-th training frame of a box set")
    ] = None,
    refine_with: Annotated[
        Path | None,
        typer.Option("--refine-with", help="a trained model whose boxes replace the points' pseudo-boxes"),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", min=0)] = 1,
    device: Annotated[str, typer.Option("--device", help="cpu or a CUDA index")] = "cpu",
) -> None:
    """Fine-tune the livestock detector from COCO weights, with farm-camera augmentation."""
    from vision.datasets import build_training_set
    from vision.training import publish
    from vision.training import train as run_training

    thinning: dict[str, int] = {}
    for spec in box_every or []:
        name, _, every = spec.partition("=")
        if not name or not every.isdigit() or int(every) < 1:
            raise typer.BadParameter(f"{spec!r} must be SET=N, N a positive whole number", param_hint="--box-every")
        thinning[name] = int(every)
    data = data_yaml
    if points or thinning:
        data = build_training_set(
            box_yaml=data_yaml,
            point_sets=points or [],
            out_dir=work_dir / "data",
            max_side=max_side,
            crop_px=crop,
            box_every=thinning,
            refiner=_refiner(refine_with) if refine_with else None,
        )
    run = run_training(
        data=data, base=base, epochs=epochs, imgsz=imgsz, project=work_dir / "runs", workers=workers, device=device
    )
    console.print(f"best weights: {run.weights}  metrics: {json.dumps(run.metrics)}")
    if publish_to:
        card = publish(run, target=publish_to)
        console.print(f"published {publish_to} with card {card}")


def _refiner(path: Path):  # noqa: ANN202
    """A detector for ``vision.datasets.refine_boxes``: every box at a 0.05 score floor."""
    detector = _model(path)

    def found(image):  # noqa: ANN001, ANN202
        (dets,) = detector.predict([image], conf=0.05)
        return dets.xyxy, dets.confidence

    return found


@app.command()
def count(
    sources: Annotated[list[str], typer.Argument(help="images, folders, videos or rtsp:// URLs")],
    model: ModelOpt = None,
    mode: Annotated[Mode, typer.Option("--mode")] = Mode.snapshot,
    save: Annotated[Path | None, typer.Option("--save", help="folder for annotated evidence thumbnails")] = None,
    line: Annotated[
        str | None, typer.Option("--line", help="gate line x1,y1,x2,y2 in pixels; default the horizontal middle")
    ] = None,
    stride: Annotated[int, typer.Option("--stride", min=1, help="keep every n-th video frame")] = 1,
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", help="stop a video or stream after n frames")
    ] = None,
    max_imgsz: MaxImgszOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Count livestock per species in images, folders, videos and streams."""
    from rich.progress import track

    from vision.counting import LineCounter, tiled_detections, window_count
    from vision.evidence import phash, sha256_hex, thumbnail
    from vision.sources import expand_sources, is_video, iter_frames

    detector = _model(model, max_imgsz=max_imgsz)
    files = expand_sources(sources)
    report: dict[str, object] = {"model_sha256": detector.identity.sha256, "mode": mode.value, "sources": {}}
    for source in track(files, description="counting", console=console, disable=as_json):
        frames = iter_frames(source, stride=stride, max_frames=max_frames)
        per_frame: list[dict[str, int]] = []
        counter: LineCounter | None = None
        entry: dict[str, object] = {}
        for frame in frames:
            if mode is Mode.tiled:
                found = tiled_detections(
                    frame.image,
                    detect=lambda t: detector.detect([t])[0],
                    slice_px=detector.imgsz,
                    overlap_px=detector.imgsz // 5,
                )
            else:
                found = detector.detect([frame.image])[0]
            if mode is Mode.line:
                if counter is None:
                    h, w = frame.image.shape[:2]
                    xy = [float(v) for v in line.split(",")] if line else [0, h / 2, w, h / 2]
                    counter = LineCounter(start=(xy[0], xy[1]), end=(xy[2], xy[3]))
                counter.update(found)
            per_frame.append(found.counts())
            if save:
                save.mkdir(parents=True, exist_ok=True)
                (save / f"{Path(source).stem}_{frame.index:06d}.jpg").write_bytes(thumbnail(frame.image, found))
            if not is_video(source):
                data = Path(source).read_bytes()
                entry.update(frame_sha256=sha256_hex(data), phash=phash(frame.image))
        species = sorted({s for c in per_frame for s in c} | set(detector.species))
        if counter is not None:
            entry.update(in_counts=counter.in_counts, out_counts=counter.out_counts)
        if len(per_frame) > 1:
            windows = {s: window_count([c.get(s, 0) for c in per_frame]) for s in species}
            entry["counts"] = {s: w.count for s, w in windows.items()}
            entry["spread"] = {s: w.spread for s, w in windows.items()}
        else:
            entry["counts"] = {s: (per_frame[0].get(s, 0) if per_frame else 0) for s in species}
        entry["frames"] = len(per_frame)
        report["sources"][source] = entry  # type: ignore[index]
        if not as_json:
            console.print(
                f"{source}: {entry['counts']}"
                + (f" in {entry['in_counts']} out {entry['out_counts']}" if counter else "")
            )
    if as_json:
        print(json.dumps(report))  # noqa: T201


SHARED_LIVESTOCK = Path("../shared/data/vision/livestock")


@app.command("eval")
def evaluate(
    datasets: Annotated[
        list[Path] | None,
        typer.Argument(
            help="dataset yaml (boxes) or folder with images/ and points/; with --folds, folders of sets "
            "(default ../shared/data/vision/livestock)"
        ),
    ] = None,
    model: ModelOpt = None,
    folds: Annotated[
        int | None,
        typer.Option("--folds", min=2, help="grouped, stratified k-fold over scenes and time blocks (see docs)"),
    ] = None,
    setup: Annotated[
        list[str] | None,
        typer.Option("--setup", help="with --folds: inference setups to choose from (repeatable; 'all')"),
    ] = None,
    committed: Annotated[
        bool, typer.Option("--committed", help="with --folds: no choices, the committed setup and thresholds")
    ] = False,
    write_intervals: Annotated[
        Path | None,
        typer.Option("--write-intervals", help="with --folds: save the interval calibration fitted on all frames"),
    ] = None,
    split: Annotated[str, typer.Option("--split", help="val, train or all")] = "val",
    write_thresholds: Annotated[
        Path | None, typer.Option("--write-thresholds", help="choose per-species thresholds here and save JSON")
    ] = None,
    card: Annotated[
        Path | None, typer.Option("--card", help="add the results to this model card JSON (and MODEL_CARD.md)")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="eval --json output of the baseline model, for --card")
    ] = None,
    max_imgsz: MaxImgszOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per set and species: images, true and predicted count, count MAE, MAPE, and mAP50 where boxes exist.

    With ``--folds K``: count MAE, MAPE and 90 % interval coverage and width as mean ± sd over K folds.
    """
    from rich.table import Table

    from vision.errors import DatasetError
    from vision.evaluation import choose_thresholds, load_sets, predict_sets, score_set

    detector = _model(model, max_imgsz=max_imgsz)
    if folds is not None:
        if write_thresholds or card or split != "val":
            message = "--folds chooses thresholds inside each fold; leave out --write-thresholds, --card, --split"
            raise DatasetError(message)
        roots = datasets or [SHARED_LIVESTOCK]
        _evaluate_folds(detector, roots, folds, setup, write_intervals, committed=committed, as_json=as_json)
        return
    if not datasets:
        raise DatasetError("eval needs a DATASET (a yaml or a folder), or --folds K for the shared sets")
    sets = [s for d in datasets for s in load_sets(d, split=split)]
    results = list(predict_sets(detector, sets))
    thresholds = detector.thresholds
    if write_thresholds:
        thresholds = choose_thresholds(results)
        write_thresholds.write_text(
            json.dumps(
                {
                    "thresholds": thresholds,
                    "chosen_on": [s.name for s in sets],
                    "split": split,
                    "model_sha256": detector.identity.sha256,
                    "max_imgsz": detector.max_imgsz,
                },
                indent=2,
            )
            + "\n"
        )
    scores = {labelled.name: score_set(labelled, found, thresholds) for labelled, found in results}
    table = Table("set", "species", "images", "true", "pred", "MAE", "MAPE %", "mAP50")
    for name, score in scores.items():
        for species, m in score["species"].items():  # type: ignore[attr-defined]
            table.add_row(
                name,
                species,
                *(str(m[k]) for k in ("images", "true_count", "pred_count", "count_mae", "count_mape", "map50")),
            )
    result = {
        "model_sha256": detector.identity.sha256,
        "max_imgsz": detector.max_imgsz,
        "thresholds": thresholds,
        "sets": scores,
    }
    if card:
        from vision.errors import DatasetError
        from vision.training import attach_evaluation

        base = None
        if baseline:
            try:
                base = json.loads(baseline.read_text().strip().splitlines()[-1])
            except (OSError, ValueError, IndexError):
                message = f"Baseline {baseline} is not the JSON output of 'farmtrust vision eval --json'"
                raise DatasetError(message) from None
        attach_evaluation(card, evaluation=result, baseline=base)
    if not as_json:
        console.print(table)
    else:
        print(json.dumps(result))  # noqa: T201


def _evaluate_folds(
    detector: LivestockModel,
    roots: list[Path],
    folds: int,
    setups: list[str] | None,
    write_intervals: Path | None,
    *,
    committed: bool,
    as_json: bool,
) -> None:
    """``eval --folds``: the fold table, and the calibration file when asked."""
    from rich.progress import Progress
    from rich.table import Table

    from vision.validation import SCORED, fold_report, select_setups

    chosen = select_setups(["416"] if committed else setups)
    with Progress(console=console, disable=as_json, transient=True) as bar:
        task = bar.add_task("folds", total=None)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        report = fold_report(detector, roots, folds=folds, setups=chosen, committed=committed, progress=progress)
    if write_intervals:
        report.calibration.save(write_intervals)
    table = Table("set", "profile", "folds", "images", "count MAE", "MAPE %", "interval coverage", "mean width")

    def pm(m: dict, key: str) -> str:
        return "-" if m[key] is None else f"{m[key]:.3g} ± {m[f'{key}_sd']:.2g}"

    for name, m in report.sets.items():
        table.add_row(
            name,
            m["profile"],
            str(m["folds"]),
            str(m["images"]),
            *(pm(m, k) for k in ("count_mae", "count_mape", "interval_coverage", "interval_mean_width")),
        )
    result = {
        "model_sha256": detector.identity.sha256,
        "max_imgsz": detector.max_imgsz,
        "thresholds": detector.thresholds,
        "sets": report.sets,
        "folds": folds,
        "scored": SCORED,
        "frames": report.frames,
        "trained_on_left_out": report.trained_on_left_out,
        "setups": [s.name for s in chosen],
        "committed": committed,
        "fold_choices": report.fold_choices,
        "profiles": dict(report.calibration.counting),
    }
    if as_json:
        print(json.dumps(result))  # noqa: T201
        return
    console.print(table)
    console.print(f"scored: {SCORED}; {report.trained_on_left_out} trained-on frames left out")
    if write_intervals:
        console.print(f"wrote {write_intervals}")


@app.command()
def export(
    model: ModelOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="only onnx")] = "onnx",
    output: Annotated[Path | None, typer.Option("--output", help="target .onnx; default beside the weights")] = None,
) -> None:
    """Export the detector for on-device counting with onnxruntime (no torch on the device)."""
    from vision.errors import ModelLoadError

    if fmt != "onnx":
        raise ModelLoadError(f"Export format {fmt!r} is not supported; use --format onnx")
    detector = _model(model)
    target = output or detector.identity.path.with_suffix(".onnx")
    console.print(f"exported {detector.export_onnx(target=target)}")


@app.command()
def worker(
    db_url: DbUrl = None,
    model: ModelOpt = None,
    once: Annotated[bool, typer.Option("--once", help="count what is pending, then stop")] = False,
) -> None:
    """Count the frames ingest announces and write livestock_counts."""
    from farmtrust.services import local_stack

    settings = load_settings(db_url=db_url)
    detector = _model(model)
    with local_stack(settings) as stack:
        _work(stack.db_url, settings, detector, once=once)


def _work(url: str, settings: Settings, detector: LivestockModel, *, once: bool) -> None:
    import threading

    from farmtrust.workers.vision import VisionWorker, load_intervals, profile_counters

    intervals = load_intervals(model=detector, path=settings.vision.intervals_file)
    vision_worker = VisionWorker(
        db_url=url,
        model=detector,
        frame_dir=settings.frame_dir,
        evidence_dir=settings.evidence_dir,
        batch_size=settings.vision.batch_size,
        camera_models=camera_models(settings, detector),
        intervals=intervals,
        profile_counters=profile_counters(model=detector, intervals=intervals),
    )
    if once:
        import psycopg

        with psycopg.connect(url) as conn:
            total = 0
            while (result := vision_worker.run_round(conn)).counted + result.quarantined:
                total += result.counted + result.quarantined
        console.print(f"processed {total} frames")
        return
    stop = threading.Event()
    try:
        vision_worker.run(stop=stop)
    except KeyboardInterrupt:
        stop.set()
