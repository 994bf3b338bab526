import threading
import uuid
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import psycopg

from farmtrust.workers.vision import VisionWorker
from store.counts import counts_for_frame
from tests.vision.framesdb import add_frame
from vision.detections import Detections


class SquareCounter:
    """In-memory double of LivestockModel: every white square is one cow."""

    identity = SimpleNamespace(sha256="d" * 64)
    species = ("cattle", "pig")

    def __init__(self):
        self.batches = []

    def detect(self, images):
        self.batches.append(len(images))
        out = []
        for image in images:
            _n, _, stats, _ = cv2.connectedComponentsWithStats((image[:, :, 0] > 200).astype(np.uint8))
            boxes = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:]], np.float32).reshape(-1, 4)
            out.append(Detections(boxes, np.full(len(boxes), 0.9, np.float32), ("cattle",) * len(boxes)))
        return out


def jpeg_with_squares(n, seed=0):
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, :, 1] = np.random.default_rng(seed).integers(0, 80, (240, 320))
    for i in range(n):
        image[20 + (i // 4) * 60 : 60 + (i // 4) * 60, 20 + (i % 4) * 70 : 70 + (i % 4) * 70] = 255
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()


def test_worker_counts_quarantines_and_goes_on(fresh_db_url, tmp_path):
    farm = uuid.uuid4()
    frames, evidence = tmp_path / "frames", tmp_path / "evidence"
    truncated = jpeg_with_squares(2, seed=9)
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        good = [add_frame(setup, frames, jpeg_with_squares(n, seed=n), farm_id=farm) for n in (3, 5)]
        bad = {
            "empty": add_frame(setup, frames, b"", farm_id=farm),
            "corrupt": add_frame(setup, frames, b"garbage, not a jpeg", farm_id=farm),
            "truncated": add_frame(setup, frames, truncated[: len(truncated) // 2], farm_id=farm),
            "missing": add_frame(setup, frames, b"never stored", farm_id=farm, store_bytes=False),
        }
    model = SquareCounter()
    worker = VisionWorker(db_url=fresh_db_url, model=model, frame_dir=frames, evidence_dir=evidence, batch_size=8)
    with psycopg.connect(fresh_db_url) as conn:
        result = worker.run_round(conn)
        assert (result.counted, result.quarantined) == (2, 4)
        assert model.batches == [2]  # the good frames go through one batched call
        rows = conn.execute("SELECT sha256, status, status_reason FROM frames").fetchall()
        status = {sha: (st, reason) for sha, st, reason in rows}
        for reason, sha in bad.items():
            assert status[sha][0] == "quarantined"
            assert status[sha][1].startswith(f"{reason}: ")
        for sha, n in zip(good, (3, 5), strict=True):
            assert status[sha] == ("counted", None)
            counts = counts_for_frame(conn=conn, frame_sha256=sha)
            assert {r.species: r.count for r in counts} == {"cattle": n, "pig": 0}
            row = counts[0]
            assert row.model_sha256 == "d" * 64 and row.method == "snapshot" and row.camera_id == "cam1"
            assert len(row.phash) == 16 and row.flags == ()
            thumb = (evidence / row.evidence_path).read_bytes()
            assert thumb[:2] == b"\xff\xd8"
        assert worker.run_round(conn).counted == 0


def test_a_recycled_photo_is_flagged(fresh_db_url, tmp_path):
    farm = uuid.uuid4()
    frames = tmp_path / "frames"
    original = jpeg_with_squares(4, seed=1)
    image = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR)
    resent = cv2.imencode(".jpg", cv2.resize(image, (160, 120)), [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
    worker = VisionWorker(
        db_url=fresh_db_url, model=SquareCounter(), frame_dir=frames, evidence_dir=tmp_path / "ev", batch_size=1
    )
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        first = add_frame(setup, frames, original, farm_id=farm)
    with psycopg.connect(fresh_db_url) as conn:
        worker.run_round(conn)
        with psycopg.connect(fresh_db_url, autocommit=True) as setup:
            second = add_frame(setup, frames, resent, farm_id=farm)
        worker.run_round(conn)
        assert counts_for_frame(conn=conn, frame_sha256=first)[0].flags == ()
        assert counts_for_frame(conn=conn, frame_sha256=second)[0].flags == ("recycled_photo",)


def test_run_wakes_on_notify_and_stops(fresh_db_url, tmp_path):
    farm = uuid.uuid4()
    frames = tmp_path / "frames"
    worker = VisionWorker(
        db_url=fresh_db_url, model=SquareCounter(), frame_dir=frames, evidence_dir=tmp_path / "ev", batch_size=4
    )
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        add_frame(setup, frames, jpeg_with_squares(1), farm_id=farm)  # creates the table before the worker polls
        setup.execute("DELETE FROM frames")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, kwargs={"stop": stop, "idle_wait_s": 30.0})
    thread.start()
    try:
        with psycopg.connect(fresh_db_url, autocommit=True) as ingest:
            sha = add_frame(ingest, frames, jpeg_with_squares(2), farm_id=farm)
            ingest.execute("SELECT pg_notify('farmtrust_frames', %s)", (sha,))
            for _ in range(200):
                if ingest.execute("SELECT status FROM frames WHERE sha256 = %s", (sha,)).fetchone()[0] == "counted":
                    break
                threading.Event().wait(0.05)
            assert ingest.execute("SELECT status FROM frames WHERE sha256 = %s", (sha,)).fetchone()[0] == "counted"
    finally:
        stop.set()
        with psycopg.connect(fresh_db_url, autocommit=True) as nudge:
            nudge.execute("NOTIFY farmtrust_frames")
        thread.join(10)
    assert not thread.is_alive()
    assert Path(tmp_path / "ev").is_dir()


def test_a_cameras_profile_counts_its_frames_with_its_own_thresholds(fresh_db_url, tmp_path):
    # the real model on real thermal sheep frames: the drone camera's profile asks for near-certainty
    import json

    import pytest

    from farmtrust.commands.vision import camera_models
    from farmtrust.settings import Settings
    from tests.vision.samples import demo_sheep_val
    from vision.errors import ModelLoadError
    from vision.model import LivestockModel

    strict = tmp_path / "drone.thresholds.json"
    strict.write_text(json.dumps({"thresholds": {"sheep": 0.999}}))
    settings = Settings(vision={"camera_profiles": {"drone": {"thresholds_file": strict, "max_imgsz": 640}}})
    model = LivestockModel.from_path()
    profiled = camera_models(settings, model)
    assert profiled["drone"].thresholds["sheep"] == 0.999 and profiled["drone"].max_imgsz == 640
    assert profiled["drone"].thresholds["cattle"] == model.thresholds["cattle"]  # the rest kept
    assert profiled["drone"].identity.sha256 == model.identity.sha256  # same weights, same identity
    farm, frames = uuid.uuid4(), tmp_path / "frames"
    jpeg = demo_sheep_val()[0].read_bytes()
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        plain = add_frame(setup, frames, jpeg, farm_id=farm, camera_id="gate")
        drone = add_frame(setup, frames, jpeg + b"\0", farm_id=farm, camera_id="drone")  # same picture, new bytes
    worker = VisionWorker(
        db_url=fresh_db_url, model=model, frame_dir=frames, evidence_dir=tmp_path / "ev", camera_models=profiled
    )
    with psycopg.connect(fresh_db_url) as conn:
        assert worker.run_round(conn).counted == 2
        sheep = {
            sha: {r.species: r.count for r in counts_for_frame(conn=conn, frame_sha256=sha)}["sheep"]
            for sha in (plain, drone)
        }
    assert sheep[plain] >= 1 and sheep[drone] == 0
    missing = Settings(vision={"camera_profiles": {"barn": {"thresholds_file": tmp_path / "none.json"}}})
    with pytest.raises(ModelLoadError, match=r"none\.json"):
        camera_models(missing, model)
