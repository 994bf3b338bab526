import json
import shutil

import yaml

from tests.vision.samples import DEMO_SHEEP
from vision.model import LivestockModel, default_model_path
from vision.training import publish, train


def test_one_epoch_fine_tune_and_publish(tmp_path):
    data = tmp_path / "sheep"
    shutil.copytree(DEMO_SHEEP / "images", data / "images")  # ultralytics writes label caches beside labels
    shutil.copytree(DEMO_SHEEP / "labels", data / "labels")
    spec = tmp_path / "data.yaml"
    spec.write_text(yaml.safe_dump({"path": str(data), "train": "images/train", "val": "images/val",
                                    "names": {0: "cattle", 1: "sheep", 2: "pig"}}))  # fmt: skip
    run = train(data=spec, base=default_model_path(), epochs=1, imgsz=64, project=tmp_path / "runs", batch=8,
                workers=0)  # fmt: skip
    assert run.weights.is_file()
    assert "metrics/mAP50(B)" in run.metrics
    target = tmp_path / "published" / "tiny.pt"
    card_path = publish(run, target=target, card_extra={"classes": "cattle, sheep, pig"})
    card = json.loads(card_path.read_text())
    assert card["epochs"] == 1 and card["imgsz"] == 64 and card["weights"] == "tiny.pt"
    assert target.stat().st_size < 8_000_000  # optimizer stripped, fp16
    assert "# Model card: tiny.pt" in (target.parent / "MODEL_CARD.md").read_text()
    model = LivestockModel.from_path(target)
    assert model.identity.sha256 == card["sha256"]
    assert model.species == ("cattle", "pig", "sheep")
    assert model.imgsz == 64
