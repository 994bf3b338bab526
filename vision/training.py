"""Fine-tune a YOLO detector on livestock with ultralytics, and write a model card beside the weights."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vision.errors import DatasetError, ModelLoadError
from vision.model import file_sha256

log = logging.getLogger(__name__)

# Farm cameras look down (chutes, drones, fisheye ceilings), at night in IR, and through wide lenses:
# flips both ways, full rotation range for overhead views, some grey-scale images for IR/thermal,
# and mild perspective for fisheye distortion.
FARM_AUGMENTATION: dict[str, float] = {
    "fliplr": 0.5,
    "flipud": 0.5,
    "degrees": 90.0,
    "perspective": 0.0005,
    "hsv_s": 0.5,
    "hsv_v": 0.5,
    "bgr": 0.0,
    "mosaic": 1.0,
    "scale": 0.5,
}


@dataclass(frozen=True)
class TrainingRun:
    """Where a finished training run left its weights, and what it measured."""

    weights: Path
    metrics: dict[str, float]
    epochs: int
    imgsz: int
    base: Path
    data: Path


def train(
    *,
    data: Path,
    base: Path,
    epochs: int,
    imgsz: int,
    project: Path,
    name: str = "livestock",
    batch: int = 16,
    workers: int = 1,
    device: str = "cpu",
) -> TrainingRun:
    """Fine-tune ``base`` on the ultralytics dataset yaml ``data``.

    Args:
        data: ultralytics detect dataset yaml.
        base: starting weights (use an unfused checkpoint so every tensor transfers).
        epochs: training epochs.
        imgsz: square training size in pixels.
        project: folder for ultralytics' run directory.
        name: run name inside ``project``.
        batch: images per batch.
        workers: dataloader worker processes.
        device: ``cpu`` or a CUDA index.

    Raises:
        ModelLoadError: ``base`` does not exist.
        DatasetError: ``data`` does not exist.
    """
    if not base.exists():
        raise ModelLoadError(f"Base weights {base} do not exist; pass --base with a YOLO .pt file")
    if not data.exists():
        raise DatasetError(f"Dataset yaml {data} does not exist")
    from ultralytics import YOLO

    model = YOLO(str(base))
    model.train(
        data=str(data),
        epochs=epochs,
        imgsz=imgsz,
        batch=batch,
        workers=workers,
        device=device,
        project=str(project),
        name=name,
        exist_ok=True,
        plots=False,
        verbose=False,
        patience=max(5, epochs),
        cos_lr=True,
        close_mosaic=max(1, epochs // 5),
        **FARM_AUGMENTATION,
    )
    run_dir = project / name
    best = run_dir / "weights" / "best.pt"
    metrics: dict[str, float] = {}
    results_csv = run_dir / "results.csv"
    if results_csv.exists():
        metrics = best_epoch_metrics(results_csv)
    return TrainingRun(best, metrics, epochs, imgsz, base, data)


def best_epoch_metrics(results_csv: Path) -> dict[str, float]:
    """Validation metrics of the epoch ``best.pt`` comes from (ultralytics fitness: 0.1 mAP50 + 0.9 mAP50-95)."""
    lines = results_csv.read_text().strip().splitlines()
    header = [h.strip() for h in lines[0].split(",")]
    rows = [dict(zip(header, (float(v) for v in line.split(",")), strict=False)) for line in lines[1:]]
    best = max(rows, key=lambda r: 0.1 * r.get("metrics/mAP50(B)", 0.0) + 0.9 * r.get("metrics/mAP50-95(B)", 0.0))
    return {"epoch": best.get("epoch", 0.0)} | {k: v for k, v in best.items() if k.startswith("metrics/")}


def publish(run: TrainingRun, *, target: Path, card_extra: dict[str, object] | None = None) -> Path:
    """Write a run's best weights to ``target`` (optimizer stripped, fp16: a few MB) and its model card beside it.

    Returns:
        The path of the card JSON (``<stem>.card.json``); ``MODEL_CARD.md`` is written in the same folder.
    """
    from ultralytics.utils.torch_utils import strip_optimizer

    target.parent.mkdir(parents=True, exist_ok=True)
    strip_optimizer(str(run.weights), s=str(target))
    card = {
        "weights": target.name,
        "sha256": file_sha256(target),
        "base": run.base.name,
        "base_sha256": file_sha256(run.base),
        "data": str(run.data),
        "epochs": run.epochs,
        "imgsz": run.imgsz,
        "augmentation": FARM_AUGMENTATION,
        "validation_metrics": run.metrics,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **(card_extra or {}),
    }
    card_path = target.with_name(f"{target.stem}.card.json")
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (target.parent / "MODEL_CARD.md").write_text(model_card_markdown(card))
    return card_path


def attach_evaluation(
    card_path: Path, *, evaluation: dict[str, object], baseline: dict[str, object] | None = None
) -> None:
    """Add ``farmtrust vision eval --json`` results (and a baseline's) to a card; rewrite ``MODEL_CARD.md``.

    Args:
        card_path: the ``<stem>.card.json`` written by :func:`publish`.
        evaluation: the eval JSON of the published weights (with its ``thresholds``).
        baseline: the eval JSON of the COCO baseline on the same sets, if measured.

    Raises:
        ModelLoadError: the card is missing or does not describe the evaluated weights.
    """
    if not card_path.is_file():
        raise ModelLoadError(f"Model card {card_path} does not exist; publish the weights first")
    card = json.loads(card_path.read_text())
    if evaluation.get("model_sha256") != card["sha256"]:
        raise ModelLoadError(
            f"Evaluation of model {evaluation.get('model_sha256')} does not match card {card_path} ({card['sha256']})"
        )
    card["evaluation"] = evaluation
    card["thresholds"] = evaluation.get("thresholds", {})
    if baseline is not None:
        card["baseline_evaluation"] = baseline
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    (card_path.parent / "MODEL_CARD.md").write_text(model_card_markdown(card))


def _eval_rows(evaluation: dict[str, object], baseline: dict[str, object] | None) -> list[str]:
    lines = [
        "| set | species | images | true | predicted | count MAE | MAPE % | mAP50 "
        "| COCO MAE | COCO MAPE % | COCO mAP50 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base_sets = (baseline or {}).get("sets", {})
    for name, result in evaluation.get("sets", {}).items():  # type: ignore[union-attr]
        for species, m in result["species"].items():
            b = base_sets.get(name, {}).get("species", {}).get(species, {})  # type: ignore[union-attr]
            lines.append(
                f"| {name} | {species} | {m['images']} | {m['true_count']} | {m['pred_count']} | "
                f"{m['count_mae']} | {m['count_mape']} | {_dash(m['map50'])} | "
                f"{_dash(b.get('count_mae'))} | {_dash(b.get('count_mape'))} | {_dash(b.get('map50'))} |"
            )
    return lines


def _dash(value: object) -> str:
    return "-" if value is None else str(value)


def model_card_markdown(card: dict[str, object]) -> str:
    """Render a card (as written by :func:`publish`) as Markdown; ``evaluation`` holds ``vision eval`` JSON."""
    lines = [
        f"# Model card: {card['weights']}",
        "",
        f"- sha256: `{card['sha256']}`",
        f"- fine-tuned from `{card['base']}` (sha256 `{card['base_sha256']}`), {card['epochs']} epochs at "
        f"imgsz {card['imgsz']}, trained {card['trained_at']}",
        f"- classes: {card.get('classes', 'cattle, sheep, pig')}",
        f"- data: {card.get('data_description', card['data'])}",
        f"- augmentation: {card['augmentation']}",
        f"- ultralytics validation (best epoch): {card['validation_metrics']}",
        "",
    ]
    evaluation = card.get("evaluation")
    if isinstance(evaluation, dict):
        baseline = card.get("baseline_evaluation")
        lines += [
            "## Per set and species (validation splits, `farmtrust vision eval`)",
            "",
            *_eval_rows(evaluation, baseline if isinstance(baseline, dict) else None),
            "",
        ]
    if card.get("thresholds"):
        lines += ["## Per-species confidence thresholds (chosen on validation data)", "", f"`{card['thresholds']}`", ""]
    for key in ("limitations", "licence"):
        if key in card:
            lines += [f"## {key.capitalize()}", "", str(card[key]), ""]
    return "\n".join(lines)
