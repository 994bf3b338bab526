import json
import os
import subprocess
import sys

import cv2
import numpy as np

from tests.vision.samples import DEMO_SHEEP, demo_sheep_val

FARMTRUST = [sys.executable, "-m", "farmtrust.cli", "vision"]


def run(*args, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARMTRUST_VISION")}
    return subprocess.run([*FARMTRUST, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def test_count_images_and_a_folder_as_json(tmp_path):
    images = demo_sheep_val()[:2]
    save = tmp_path / "evidence"
    proc = run("count", *images, "--json", "--save", save)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(report["model_sha256"]) == 64
    assert set(report["sources"]) == {str(p) for p in images}
    for entry in report["sources"].values():
        assert set(entry["counts"]) >= {"cattle", "sheep", "pig"}
        assert entry["frames"] == 1 and len(entry["phash"]) == 16 and len(entry["frame_sha256"]) == 64
    assert len(list(save.glob("*.jpg"))) == 2


def test_count_a_video_gives_a_window_count_with_spread(tmp_path):
    video = tmp_path / "clip.mp4"
    frame = cv2.imread(str(demo_sheep_val()[0]))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (frame.shape[1], frame.shape[0]))
    for _ in range(4):
        writer.write(frame)
    writer.release()
    proc = run("count", video, "--json", "--mode", "line")
    assert proc.returncode == 0, proc.stderr
    entry = json.loads(proc.stdout.strip().splitlines()[-1])["sources"][str(video)]
    assert entry["frames"] == 4
    assert entry["spread"]["sheep"] == 0.0  # identical frames agree
    assert entry["in_counts"] == {} and entry["out_counts"] == {}  # a still scene crosses nothing


def test_bad_inputs_give_one_line_naming_the_file(tmp_path):
    corrupt = tmp_path / "broken.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    bad_video = tmp_path / "bad.mp4"
    bad_video.write_bytes(b"\x00" * 100)
    not_a_model = tmp_path / "model.pt"
    not_a_model.write_text("hello")
    cases = [
        (("count", corrupt), "broken.jpg is not a readable image"),
        (("count", empty), "empty.jpg is empty (0 bytes)"),
        (("count", bad_video), "bad.mp4"),
        (("count", tmp_path / "nowhere.jpg"), "nowhere.jpg does not exist"),
        (("count", demo_sheep_val()[0], "--model", tmp_path / "missing.pt"), "missing.pt does not exist"),
        (("count", demo_sheep_val()[0], "--model", not_a_model), "model.pt is not a readable YOLO detector"),
        (("export", "--format", "tflite"), "'tflite' is not supported"),
        (("eval", tmp_path), "must contain images/ and points/ folders"),
        (("eval", tmp_path / "x.yaml"), "x.yaml is neither a dataset yaml"),
    ]
    for args, message in cases:
        proc = run(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_eval_json_on_the_repository_sample():
    proc = run("eval", DEMO_SHEEP, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    sheep = result["sets"]["sheep_thermal"]["species"]["sheep"]
    assert sheep["images"] == 11 and sheep["true_count"] == 17
    assert 0 <= sheep["map50"] <= 1
    assert sheep["count_mae"] == result["sets"]["sheep_thermal"]["count_mae"]


def test_tiled_mode_counts_a_large_image(tmp_path):
    tile = cv2.imread(str(demo_sheep_val()[0]))
    big = np.concatenate([np.concatenate([tile, tile], axis=1)] * 2, axis=0)
    path = tmp_path / "aerial.jpg"
    cv2.imwrite(str(path), big)
    single = json.loads(run("count", demo_sheep_val()[0], "--json").stdout.strip().splitlines()[-1])
    tiled = json.loads(run("count", path, "--json", "--mode", "tiled").stdout.strip().splitlines()[-1])
    one = next(iter(single["sources"].values()))["counts"]["sheep"]
    four = tiled["sources"][str(path)]["counts"]["sheep"]
    # four copies of the frame: about four times the animals, no doubles at the seams
    assert abs(four - 4 * one) <= max(2, one)


def test_worker_once_counts_pending_frames(fresh_db_url, tmp_path):
    import uuid

    import psycopg

    from tests.vision.framesdb import add_frame

    farm = uuid.uuid4()
    with psycopg.connect(fresh_db_url, autocommit=True) as setup:
        good = add_frame(setup, tmp_path / "frames", demo_sheep_val()[0].read_bytes(), farm_id=farm)
        bad = add_frame(setup, tmp_path / "frames", b"", farm_id=farm)
    env = {**os.environ, "FARMTRUST_DATA_DIR": str(tmp_path), "FARMTRUST_MQTT__URL": "mqtt://127.0.0.1:1"}
    proc = subprocess.run([*FARMTRUST, "worker", "--once", "--db-url", fresh_db_url], capture_output=True,
                          text=True, timeout=300, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "processed 2 frames" in proc.stdout
    with psycopg.connect(fresh_db_url) as conn:
        status = dict(conn.execute("SELECT sha256, status FROM frames").fetchall())
        species = {r[0] for r in conn.execute("SELECT species FROM livestock_counts WHERE frame_sha256 = %s", (good,))}
    assert status == {good: "counted", bad: "quarantined"}
    assert species == {"cattle", "sheep", "pig"}
    assert len(list((tmp_path / "evidence").rglob("*.jpg"))) == 1


def test_train_refuses_a_malformed_thinning_before_any_work(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("train: a\nval: b\nnames: {0: cattle, 1: sheep, 2: pig}\n")
    proc = run("train", data, "--box-every", "cattle_chute=x", "--work-dir", tmp_path / "w", timeout=60)
    assert proc.returncode == 2
    assert "--box-every" in proc.stderr and "SET=N" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "w").exists()


def test_eval_folds_on_the_repository_sample(tmp_path):
    intervals = tmp_path / "m.intervals.json"
    proc = run("eval", DEMO_SHEEP, "--folds", "2", "--setup", "416", "--write-intervals", intervals, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"model_sha256", "max_imgsz", "thresholds", "sets"} <= set(result)
    sheep = result["sets"]["sheep_thermal"]
    # the 11 val frames (17 sheep) only; the 20 the model trained on are left out
    assert sheep["images"] == 11 and sheep["true_count"] == 17 and result["trained_on_left_out"] == 20
    assert sheep["folds"] == 2 and sheep["count_mape"] is not None
    # each fold calibrates on the other fold's 5 or 6 frames, under the 9 a 90 % interval needs:
    # unbounded above, so every frame is covered and no finite width exists
    assert sheep["interval_coverage"] == 1.0 and sheep["interval_mean_width"] is None
    assert sheep["interval_unbounded"] == 1.0
    from vision.intervals import IntervalCalibration

    cal = IntervalCalibration.load(intervals)
    assert cal.profiles["aerial"].frames == 11 and cal.profiles["aerial"].bounded  # 11 >= 9 frames
    assert cal.counting["aerial"]["setup"] == "416"


def test_eval_folds_bad_input_is_one_line(tmp_path):
    for args, message in [
        (("eval", tmp_path, "--folds", "2"), "holds no set"),
        (("eval", DEMO_SHEEP, "--folds", "2", "--setup", "999"), "--setup '999' is unknown"),
        (("eval", DEMO_SHEEP, "--folds", "9"), "--folds 9 is more than"),
        (("eval",), "eval needs a DATASET"),
        (("eval", DEMO_SHEEP, "--folds", "2", "--split", "all"), "leave out --write-thresholds"),
    ]:
        proc = run(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
