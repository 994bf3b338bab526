"""The edge agent: samples sensors and cameras, signs and spools messages, and publishes them.

Every message is signed and written to the spool before anything is sent; :class:`edge.publisher.Publisher`
deletes it on PUBACK. ``Agent.step`` does one round of work, so many agents can share one thread
(``farmtrust edge simulate``).
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from edge.camera import CameraSource
from edge.config import AgentConfig, CameraSection
from edge.errors import CameraError, ConfigError, SensorError
from edge.keys import DeviceKey
from edge.protocol import (
    MessageKind,
    Signer,
    build_envelope,
    encode_binary,
    reading_dict,
    sha256_hex,
    topic_for,
)
from edge.publisher import MqttOptions, Publisher
from edge.sensors import CommandDriver, Sample, SensorDriver, SimulatedDriver
from edge.spool import SPOOL_POLICY, Spool, SpoolEntry

log = logging.getLogger(__name__)


class OnDeviceCountLike(Protocol):
    """What ``edge.onnx_counter.OnnxCounter.count_jpeg`` returns."""

    counts: dict[str, int]
    model_sha256: str
    frame_sha256: str
    phash: str
    thumbnail_jpeg: bytes


class Counter(Protocol):
    """An on-device counter (``edge.onnx_counter.OnnxCounter``)."""

    def count_jpeg(self, jpeg: bytes) -> OnDeviceCountLike:
        """Count the animals in one JPEG frame."""
        ...


def load_counter(model_path: str) -> Counter:
    """Import ``edge.onnx_counter`` lazily and load a model.

    Raises:
        ConfigError: the module or its dependencies (the ``edge-count`` extra) are missing.
    """
    try:
        module = importlib.import_module("edge.onnx_counter")
    except ImportError as exc:
        raise ConfigError(
            f"Camera mode 'count' needs on-device counting: pip install 'farmtrust[edge-count]' ({exc})"
        ) from None
    return module.OnnxCounter.from_path(model_path)  # type: ignore[no-any-return]


@dataclass
class CameraJob:
    """One camera and when it next captures."""

    section: CameraSection
    source: Any
    counter: Counter | None = None
    next_at: float = 0.0


@dataclass
class Agent:
    """One device: its identity, spool, publisher, sensors and cameras.

    Args:
        farm_id: the farm the device is registered to.
        device_id: the device id (and MQTT username).
        signer: the device's Ed25519 key.
        spool: the on-disk spool.
        publisher: moves the spool to the broker.
        sensors: sensor drivers, read every ``interval_s``.
        interval_s: seconds between sensor reads.
        flush_s: seconds between telemetry batches (a batch also closes at ``max_readings``).
        max_readings: most readings per telemetry message.
        cameras: camera jobs.
        status_interval_s: seconds between status messages.
    """

    farm_id: uuid.UUID
    device_id: str
    signer: Signer
    spool: Spool
    publisher: Publisher
    sensors: list[SensorDriver] = field(default_factory=list)
    interval_s: float = 10.0
    flush_s: float = 60.0
    max_readings: int = 1000
    cameras: list[CameraJob] = field(default_factory=list)
    status_interval_s: float = 60.0
    clock: Callable[[], float] = time.time
    _pending: list[dict[str, Any]] = field(default_factory=list, init=False)
    _next_read: float = field(default=0.0, init=False)
    _next_flush: float = field(default=0.0, init=False)
    _next_status: float = field(default=0.0, init=False)

    def topic(self, kind: MessageKind) -> str:
        """This device's topic for ``kind``."""
        root = self.publisher.options.topic_root
        return topic_for(farm_id=self.farm_id, device_id=self.device_id, kind=kind, root=root)

    def _envelope(self, kind: MessageKind, seq: int, body: dict[str, Any], now: datetime | None) -> bytes:
        return build_envelope(
            kind=kind,
            farm_id=self.farm_id,
            device_id=self.device_id,
            seq=seq,
            body=body,
            signer=self.signer,
            device_time=now,
        )

    def emit_telemetry(self, readings: list[dict[str, Any]], *, now: datetime | None = None) -> SpoolEntry:
        """Sign and spool one telemetry batch (readings as from :func:`edge.protocol.reading_dict`)."""
        body = {"readings": readings}
        return self.spool.append(
            kind=MessageKind.TELEMETRY.value,
            topic=self.topic(MessageKind.TELEMETRY),
            make_payload=lambda seq: self._envelope(MessageKind.TELEMETRY, seq, body, now),
        )

    def emit_frame(
        self, *, camera_id: str, jpeg: bytes, captured_at: datetime, width: int | None = None, height: int | None = None
    ) -> SpoolEntry:
        """Sign and spool one camera frame (binary header plus the JPEG bytes)."""
        body = {
            "camera_id": camera_id,
            "captured_at": captured_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "sha256": sha256_hex(jpeg),
            "bytes": len(jpeg),
            "width": width,
            "height": height,
        }
        return self.spool.append(
            kind=MessageKind.FRAME.value,
            topic=self.topic(MessageKind.FRAME),
            make_payload=lambda seq: encode_binary(self._envelope(MessageKind.FRAME, seq, body, None), jpeg),
        )

    def emit_count(self, *, camera_id: str, result: OnDeviceCountLike, captured_at: datetime) -> SpoolEntry:
        """Sign and spool one on-device count with its evidence thumbnail."""
        thumb = result.thumbnail_jpeg
        body = {
            "camera_id": camera_id,
            "captured_at": captured_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "counts": {str(k): int(v) for k, v in result.counts.items()},
            "model_sha256": result.model_sha256,
            "frame_sha256": result.frame_sha256,
            "phash": str(result.phash),
            "sha256": sha256_hex(thumb),
            "bytes": len(thumb),
        }
        return self.spool.append(
            kind=MessageKind.COUNT.value,
            topic=self.topic(MessageKind.COUNT),
            make_payload=lambda seq: encode_binary(self._envelope(MessageKind.COUNT, seq, body, None), thumb),
        )

    def status_body(self, *, online: bool) -> dict[str, Any]:
        """The status body: spool depth and bytes, last sequence, drops and the spool policy."""
        return {
            "online": online,
            "spool_depth": self.spool.depth,
            "spool_bytes": self.spool.size_bytes,
            "last_seq": self.spool.last_seq,
            "clock_skew_s": None,
            "dropped": self.spool.dropped(),
            "spool_policy": SPOOL_POLICY,
        }

    def status_payload(self, *, online: bool) -> bytes:
        """A signed status message; it repeats the last data sequence and consumes none (not part of coverage)."""
        seq = max(self.spool.last_seq, 0)
        return self._envelope(MessageKind.STATUS, seq, self.status_body(online=online), None)

    def emit_status(self) -> None:
        """Spool a retained status message."""
        self.spool.append(
            kind=MessageKind.STATUS.value,
            topic=self.topic(MessageKind.STATUS),
            make_payload=lambda seq: self._envelope(MessageKind.STATUS, seq, self.status_body(online=True), None),
            retain=True,
            takes_seq=False,
        )

    def flush_telemetry(self) -> None:
        """Close the pending telemetry batch (if any) into a message."""
        while self._pending:
            batch, self._pending = self._pending[: self.max_readings], self._pending[self.max_readings :]
            self.emit_telemetry(batch)

    def step(self, *, timeout_s: float = 0.01) -> None:
        """Do whatever is due now: read sensors, close a batch, capture cameras, send status, publish."""
        now = self.clock()
        if self.sensors and now >= self._next_read:
            self._next_read = now + self.interval_s
            at = datetime.fromtimestamp(now, UTC)
            for driver in self.sensors:
                try:
                    samples: list[Sample] = driver.read(now=at)
                except SensorError as exc:
                    log.warning("device %s: %s", self.device_id, exc)
                    continue
                self._pending.extend(reading_dict(metric=s.metric, value=s.value, time=s.time) for s in samples)
            if len(self._pending) >= self.max_readings:
                self.flush_telemetry()
        if now >= self._next_flush:
            self._next_flush = now + self.flush_s
            self.flush_telemetry()
        for job in self.cameras:
            if now >= job.next_at:
                job.next_at = now + job.section.interval_s
                self._capture(job, now)
        if now >= self._next_status:
            self._next_status = now + self.status_interval_s
            self.emit_status()
        self.publisher.step(timeout_s=timeout_s)

    def _capture(self, job: CameraJob, now: float) -> None:
        try:
            jpeg, width, height = job.source.read_jpeg()
        except CameraError as exc:
            log.warning("device %s camera %s: %s", self.device_id, job.section.camera_id, exc)
            return
        at = datetime.fromtimestamp(now, UTC)
        if job.counter is not None:
            try:
                result = job.counter.count_jpeg(jpeg)
            except CameraError as exc:
                # the on-device model could not count it: send the frame itself, so the server counts it
                # or quarantines it with the reason; the capture is not lost and the agent keeps running
                log.warning("device %s camera %s: on-device count failed (%s); sending the frame", self.device_id,
                            job.section.camera_id, exc)  # fmt: skip
            else:
                self.emit_count(camera_id=job.section.camera_id, result=result, captured_at=at)
                return
        self.emit_frame(camera_id=job.section.camera_id, jpeg=jpeg, captured_at=at, width=width, height=height)

    def close(self, *, flush_timeout_s: float = 5.0) -> None:
        """Spool what is pending, try briefly to deliver the spool, disconnect and close the spool."""
        self.flush_telemetry()
        if self.publisher.connected and flush_timeout_s > 0:
            self.publisher.flush(timeout_s=flush_timeout_s)
        self.publisher.close()
        for job in self.cameras:
            if hasattr(job.source, "close"):
                job.source.close()
        self.spool.close()


def agent_from_config(config: AgentConfig, *, key: DeviceKey | None = None) -> Agent:
    """Compose an agent from ``edge.toml``.

    Raises:
        KeyFileError: the key file is missing.
        ConfigError: a sensor or camera entry is incomplete.
    """
    dev = config.device
    key = key or DeviceKey.load(dev.key_file)
    spool = Spool(path=dev.spool_path, max_bytes=int(dev.spool_max_mb * 1024 * 1024), synchronous=dev.spool_synchronous)
    m = config.mqtt
    options = MqttOptions.from_url(
        m.url,
        protocol=m.protocol,
        username=m.username or dev.device_id,
        password=m.password.get_secret_value() if m.password else None,
        ca_file=m.ca_file,
        cert_file=m.cert_file,
        key_file=m.key_file,
        keepalive_s=m.keepalive_s,
        topic_root=m.topic_root,
    )
    publisher = Publisher(
        spool=spool,
        options=options,
        client_id=dev.device_id,
        max_inflight=m.max_inflight,
        backlog_rate_per_s=m.backlog_rate_per_s,
    )
    sensors: list[SensorDriver] = []
    for s in config.sensors:
        if s.driver == "simulated":
            sensors.append(
                SimulatedDriver(metrics=tuple(s.metrics), seed=s.seed) if s.metrics else SimulatedDriver(seed=s.seed)
            )
        else:
            if not (s.command or s.path):
                raise ConfigError("A [[sensors]] entry with driver = 'command' needs `command` or `path`")
            sensors.append(CommandDriver(command=s.command, path=s.path, metric=s.metric, scale=s.scale))
    cameras = []
    for c in config.cameras:
        counter = None
        if c.mode == "count":
            if c.model_path is None:
                raise ConfigError(f"Camera {c.camera_id!r} has mode = 'count' but no model_path; set model_path")
            counter = load_counter(str(c.model_path))
        source = CameraSource(c.source, max_width=c.max_width, jpeg_quality=c.jpeg_quality)
        cameras.append(CameraJob(c, source, counter))
    agent = Agent(
        farm_id=dev.farm_id,
        device_id=dev.device_id,
        signer=key,
        spool=spool,
        publisher=publisher,
        sensors=sensors,
        interval_s=config.telemetry.interval_s,
        flush_s=config.telemetry.flush_s,
        max_readings=config.telemetry.max_readings,
        cameras=cameras,
        status_interval_s=config.status.interval_s,
    )
    will = agent.status_payload(online=False)
    publisher.client.will_set(agent.topic(MessageKind.STATUS), will, qos=1, retain=True)
    return agent
