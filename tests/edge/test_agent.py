"""Agent pieces: config errors, sensor drivers, camera folder source, frame and count messages, backoff."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from edge.agent import Agent
from edge.camera import CameraSource
from edge.config import load_config
from edge.errors import CameraError, ConfigError, KeyFileError, SensorError
from edge.keys import DeviceKey
from edge.protocol import METRIC_RANGES, CountMessage, FrameMessage, Reading, check_reading, decode, verify
from edge.publisher import Backoff, MqttOptions, Publisher
from edge.sensors import CommandDriver, SimulatedDriver
from edge.spool import Spool


def test_config_errors_name_the_field_and_value(tmp_path):
    path = tmp_path / "edge.toml"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(path)
    path.write_text('[device]\nfarm_id = "not-a-uuid"\ndevice_id = "barn 1"\n')
    with pytest.raises(ConfigError, match=r"device\.farm_id.*not-a-uuid") as err:
        load_config(path)
    assert "device.device_id" in str(err.value)
    path.write_text(f'[device]\nfarm_id = "{uuid.uuid4()}"\ndevice_id = "barn-1"\n[mqtt]\nprotocol = "4"\n')
    with pytest.raises(ConfigError, match=r"mqtt\.protocol"):
        load_config(path)
    path.write_text(f'[device]\nfarm_id = "{uuid.uuid4()}"\ndevice_id = "barn-1"\nkey_file = "k.pem"\n')
    config = load_config(path)
    assert config.device.key_file == tmp_path / "k.pem"
    with pytest.raises(KeyFileError, match="edge keygen"):
        DeviceKey.load(config.device.key_file)


def test_simulated_sensors_stay_physical_over_a_day_and_follow_the_daily_cycle():
    driver = SimulatedDriver(seed=1)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    temps = {}
    for minute in range(0, 24 * 60, 10):
        at = start + timedelta(minutes=minute)
        for sample in driver.read(now=at):
            reading = Reading(metric=sample.metric, value=sample.value, unit=METRIC_RANGES[sample.metric].unit, time=at)
            assert check_reading(reading) is None, reading
            if sample.metric == "barn_temperature_c":
                temps[at.hour] = sample.value
    assert temps[15] - temps[3] > 6  # warm afternoon, cold night


def test_command_driver_parses_lines_and_reports_bad_output(tmp_path):
    sysfs = tmp_path / "temperature"
    sysfs.write_text("21437\n")
    driver = CommandDriver(path=sysfs, metric="barn_temperature_c", scale=0.001)
    [sample] = driver.read(now=datetime.now(UTC))
    assert sample.metric == "barn_temperature_c" and sample.value == pytest.approx(21.437)
    out = CommandDriver(command="printf 'humidity_pct 61.5\\nwater_flow_l_min 3\\n'").read(now=datetime.now(UTC))
    assert [(s.metric, s.value) for s in out] == [("humidity_pct", 61.5), ("water_flow_l_min", 3.0)]
    with pytest.raises(SensorError, match="not 'metric value'"):
        CommandDriver(command="echo a b c").read(now=datetime.now(UTC))
    with pytest.raises(SensorError, match="failed"):
        CommandDriver(command="false").read(now=datetime.now(UTC))


def test_camera_folder_source_resizes_and_encodes(tmp_path):
    with pytest.raises(CameraError, match=r"no \.jpg"):
        CameraSource(str(tmp_path)).open()
    image = np.zeros((480, 640, 3), np.uint8)
    cv2.rectangle(image, (100, 100), (300, 300), (0, 255, 0), -1)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    jpeg, width, height = CameraSource(str(tmp_path), max_width=320, jpeg_quality=70).read_jpeg()
    assert jpeg[:2] == b"\xff\xd8" and (width, height) == (320, 240)
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (240, 320, 3)


@dataclass(frozen=True)
class FakeCount:
    counts: dict
    model_sha256: str
    frame_sha256: str
    phash: str
    thumbnail_jpeg: bytes


def make_agent(tmp_path, key):
    spool = Spool(path=tmp_path / "spool.sqlite")
    publisher = Publisher(spool=spool, options=MqttOptions(port=1), client_id="barn-1")
    return Agent(farm_id=uuid.uuid4(), device_id="barn-1", signer=key, spool=spool, publisher=publisher)


def test_agent_spools_signed_frames_and_counts(tmp_path):
    key = DeviceKey.generate()
    agent = make_agent(tmp_path, key)
    jpeg = b"\xff\xd8frame\xff\xd9"
    frame = agent.emit_frame(camera_id="gate", jpeg=jpeg, captured_at=datetime.now(UTC), width=2, height=1)
    result = FakeCount({"sheep": 12}, "a" * 64, "b" * 64, "c0ffee", b"\xff\xd8thumb\xff\xd9")
    count = agent.emit_count(camera_id="gate", result=result, captured_at=datetime.now(UTC))
    decoded_frame, decoded_count = decode(frame.payload), decode(count.payload)
    for d in (decoded_frame, decoded_count):
        verify(d, key.public_raw)
    assert isinstance(decoded_frame.message, FrameMessage) and decoded_frame.blob == jpeg
    assert isinstance(decoded_count.message, CountMessage) and decoded_count.message.body.counts == {"sheep": 12}
    assert (frame.seq, count.seq) == (0, 1) and frame.topic.endswith("/barn-1/frame")
    status = decode(agent.status_payload(online=False)).message
    assert status.body.spool_depth == 2 and status.body.last_seq == 1 and status.body.online is False


def test_a_frame_the_device_cannot_count_is_sent_as_a_frame(tmp_path):
    from edge.agent import CameraJob
    from edge.config import CameraSection

    class Source:
        def read_jpeg(self):
            return b"\xff\xd8odd\xff\xd9", 4, 3

    class BrokenCounter:
        def count_jpeg(self, jpeg):
            raise CameraError("frame is not a decodable JPEG")

    key = DeviceKey.generate()
    agent = make_agent(tmp_path, key)
    job = CameraJob(CameraSection(camera_id="pen", source="x", mode="count"), Source(), BrokenCounter())
    agent._capture(job, datetime.now(UTC).timestamp())  # no exception: the agent goes on
    (pending,) = agent.spool.live(since=0.0, limit=10, exclude=set())
    message = decode(pending.payload)
    assert isinstance(message.message, FrameMessage) and message.blob == b"\xff\xd8odd\xff\xd9"


def test_backoff_grows_exponentially_with_jitter_and_caps():
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(4))
    delays = [backoff.next_delay() for _ in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) == len(delays)
    backoff.reset()
    assert backoff.next_delay() <= 1.0
