"""The agent's configuration file (``edge.toml``), validated with pydantic.

Example::

    [device]
    farm_id = "6f1c..."            # the farm's UUID from registration
    device_id = "barn-1"           # also the MQTT username
    camera_profile = "pen"         # race, pen, wide (default) or aerial: picks its count intervals
    key_file = "device.key"        # from `farmtrust edge keygen`
    spool_path = "spool.sqlite"
    spool_max_mb = 64

    [mqtt]
    url = "mqtts://broker.example.org:8883"
    protocol = "5"                 # or "3.1.1"
    password = "..."               # username defaults to the device id
    ca_file = "ca.pem"
    topic_root = "farmtrust/v1"    # the server's FARMTRUST_MQTT__TOPIC_ROOT

    [telemetry]
    interval_s = 10                # sample every 10 s
    flush_s = 60                   # one signed batch per minute

    [[sensors]]
    driver = "simulated"

    [[sensors]]
    driver = "command"
    path = "/sys/bus/w1/devices/28-0000/temperature"
    metric = "barn_temperature_c"
    scale = 0.001

    [[cameras]]
    camera_id = "gate"
    source = "rtsp://10.0.0.5/stream1"
    interval_s = 300
    mode = "frame"                 # or "count" (needs the edge-count extra and model_path)
"""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from edge.errors import ConfigError
from edge.protocol import TOPIC_ROOT
from vocabulary.cameras import DEFAULT_CAMERA_PROFILE, CameraProfile
from vocabulary.devices import DEVICE_ID_PATTERN


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceSection(_Section):
    """Who this device is and where it keeps its key and spool."""

    farm_id: uuid.UUID
    device_id: str = Field(pattern=DEVICE_ID_PATTERN)
    camera_profile: CameraProfile = Field(
        default=DEFAULT_CAMERA_PROFILE,
        description="how its cameras look at the animals; `farmtrust edge register --config` registers it",
    )
    key_file: Path = Path("device.key")
    spool_path: Path = Path("spool.sqlite")
    spool_max_mb: float = Field(default=64.0, gt=0)
    spool_synchronous: Literal["FULL", "NORMAL"] = "FULL"


class MqttSection(_Section):
    """Broker address, protocol, TLS and credentials."""

    url: str = "mqtt://127.0.0.1:1883"
    protocol: Literal["5", "3.1.1"] = "5"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5)
    topic_root: str = Field(default=TOPIC_ROOT, description="first topic levels (server: FARMTRUST_MQTT__TOPIC_ROOT)")
    backlog_rate_per_s: float = Field(default=50.0, gt=0)
    max_inflight: int = Field(default=64, ge=1)


class TelemetrySection(_Section):
    """How often sensors are sampled and batches sent."""

    interval_s: float = Field(default=10.0, gt=0)
    flush_s: float = Field(default=60.0, gt=0)
    max_readings: int = Field(default=1000, ge=1, le=20_000)


class SensorSection(_Section):
    """One sensor driver."""

    driver: Literal["simulated", "command"]
    metrics: list[str] | None = None
    seed: int = 0
    command: str | None = None
    path: Path | None = None
    metric: str | None = None
    scale: float = 1.0


class CameraSection(_Section):
    """One camera."""

    camera_id: str = Field(min_length=1, max_length=64)
    source: str
    interval_s: float = Field(default=300.0, gt=0)
    max_width: int | None = Field(default=1280, ge=16)
    jpeg_quality: int = Field(default=85, ge=10, le=100)
    mode: Literal["frame", "count"] = "frame"
    model_path: Path | None = None


class StatusSection(_Section):
    """How often the retained status message is refreshed."""

    interval_s: float = Field(default=60.0, gt=0)


class AgentConfig(_Section):
    """The whole ``edge.toml``."""

    device: DeviceSection
    mqtt: MqttSection = MqttSection()
    telemetry: TelemetrySection = TelemetrySection()
    sensors: list[SensorSection] = Field(default_factory=list)
    cameras: list[CameraSection] = Field(default_factory=list)
    status: StatusSection = StatusSection()


def load_config(path: Path) -> AgentConfig:
    """Read and validate ``edge.toml``; relative paths are resolved next to the file.

    Raises:
        ConfigError: the file is missing, is not TOML, or a value is wrong (each bad field is named).
    """
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"Config file {path} does not exist; pass --config with the path of edge.toml") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Config file {path} is not valid TOML: {exc}") from None
    try:
        config = AgentConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in exc.errors()
        )
        raise ConfigError(f"Config file {path} has wrong values: {problems}") from None
    base = path.parent
    device = config.device
    device = device.model_copy(update={"key_file": base / device.key_file, "spool_path": base / device.spool_path})
    return config.model_copy(update={"device": device})
