"""FarmTrust settings, built once in the composition root and passed down.

Every value can come from the environment with the ``FARMTRUST_`` prefix and ``__`` between groups,
for example ``FARMTRUST_DB__URL=postgresql://...`` or ``FARMTRUST_MQTT__PROTOCOL=3.1.1``. An unset
database or broker URL means "start an embedded one" (see :mod:`farmtrust.services`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import platformdirs
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Return the per-user data folder (embedded databases, frame store, spool)."""
    return Path(platformdirs.user_data_dir("farmtrust", appauthor=False))


class MqttProtocol(StrEnum):
    """MQTT protocol version used by every client."""

    V5 = "5"
    """MQTT 5: shared subscriptions, reason codes (Mosquitto)."""
    V311 = "3.1.1"
    """MQTT 3.1.1: what the pure-Python amqtt broker speaks."""


class DatabaseSettings(BaseModel):
    """Where PostgreSQL is; ``url=None`` starts an embedded server."""

    url: str | None = Field(default=None, description="postgresql:// URL; unset means embedded")
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    retention_days: int | None = Field(
        default=None,
        ge=1,
        description="drop raw time series (sensor readings, livestock counts) older than this many days; the "
        "ingest worker runs it every few hours (keep it above the credit record window, 60 days)",
    )

    @field_validator("url")
    @classmethod
    def _check_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"postgresql", "postgres"}:
            raise ValueError(f"database URL must start with postgresql://, got {value!r}")
        return value


class MqttSettings(BaseModel):
    """Where the MQTT broker is; ``url=None`` starts an embedded broker."""

    url: str | None = Field(default=None, description="mqtt:// or mqtts:// URL; unset means embedded")
    protocol: MqttProtocol = MqttProtocol.V5
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = Field(default=None, description="CA bundle for mqtts://")
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_s: int = Field(default=30, ge=5)
    topic_root: str = Field(
        default="farmtrust/v1",
        description="first levels of every device topic; give a deployment its own on a shared broker",
    )
    share_group: str = Field(
        default="ingest", description="MQTT 5 shared-subscription group of the ingest workers ($share/{group}/...)"
    )

    @field_validator("topic_root")
    @classmethod
    def _check_topic_root(cls, value: str) -> str:
        levels = value.split("/")
        if value.startswith("$") or any(not level or set(level) & {"#", "+", "\x00"} for level in levels):
            raise ValueError(
                f"topic_root must be topic levels without wildcards, empty levels or a leading $, got {value!r}"
            )
        return value

    @field_validator("share_group")
    @classmethod
    def _check_share_group(cls, value: str) -> str:
        if not value or set(value) & {"/", "#", "+", "\x00"}:
            raise ValueError(f"share_group must be one non-empty topic level without wildcards, got {value!r}")
        return value

    @field_validator("url")
    @classmethod
    def _check_scheme(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in {"mqtt", "mqtts", "tcp", "ssl"}:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {value!r}")
        return value

    @property
    def host(self) -> str:
        """Broker host name from the URL."""
        return urlsplit(self.url or "mqtt://127.0.0.1").hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """Broker port from the URL (1883, or 8883 for TLS, when absent)."""
        parts = urlsplit(self.url or "mqtt://127.0.0.1")
        return parts.port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        """Whether the URL asks for TLS."""
        return urlsplit(self.url or "mqtt://").scheme in {"mqtts", "ssl"}


class CameraProfile(BaseModel):
    """How one camera's frames are counted when it differs from the rest (a wide pasture view, a fisheye)."""

    max_imgsz: int | None = Field(default=None, ge=32, description="largest inference size for this camera")
    thresholds_file: Path | None = Field(
        default=None, description="per-species thresholds chosen on this camera's labelled frames (JSON)"
    )


class VisionSettings(BaseModel):
    """Which livestock model counts the animals."""

    model_path: Path | None = Field(default=None, description="weights file; unset uses the bundled model")
    thresholds_file: Path | None = Field(default=None, description="per-species confidence thresholds (JSON)")
    intervals_file: Path | None = Field(
        default=None,
        description="count-interval calibration (JSON, vision.intervals); unset: <weights>.intervals.json beside "
        "the model, when present",
    )
    max_imgsz: int | None = Field(
        default=None, ge=32, description="largest inference size in pixels; unset: the training size"
    )
    camera_profiles: dict[str, CameraProfile] = Field(
        default_factory=dict, description="camera id -> its own size cap and thresholds; others use the defaults"
    )
    batch_size: int = Field(default=8, ge=1)
    device: str = "cpu"


class ApiSettings(BaseModel):
    """Where the HTTP API listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int | None = Field(
        default=None, ge=1, description="server processes; unset: one per core this process may run on"
    )
    threads: int = Field(
        default=8, ge=1, description="threads per process running blocking routes; the rest wait on the event loop"
    )
    session_idle_s: int = Field(default=1800, ge=1, description="a dashboard session ends after this long unused")
    session_absolute_s: int = Field(default=8 * 3600, ge=1, description="and this long after sign-in in any case")
    login_max_failures: int = Field(default=5, ge=1, description="failed dashboard sign-ins per client, then 429")
    login_window_s: int = Field(default=300, ge=1, description="the window those failures are counted in")
    trust_forwarded_proto: bool = Field(
        default=False, description="behind a TLS proxy: honour X-Forwarded-Proto (Secure cookies, HSTS)"
    )
    lock_timeout_s: float = Field(
        default=5.0, gt=0, le=600, description="a request waiting longer for a row or key lock is answered 409"
    )
    statement_timeout_s: float = Field(
        default=30.0, gt=0, le=3600, description="a request's SQL statement running longer is cancelled (503)"
    )


class AuditSettings(BaseModel):
    """The audit log's signed checkpoints (C2SP tlog-checkpoint): who signs, how often, where they go."""

    origin: str = Field(
        default="farmtrust.local/audit",
        min_length=1,
        description="the log's name on its checkpoints' first line and its key name (a schema-less URL)",
    )
    key_file: Path | None = Field(
        default=None, description="raw 32-byte Ed25519 private key; unset: <data_dir>/audit/checkpoint.key"
    )
    checkpoint_dir: Path | None = Field(
        default=None, description="where signed checkpoints are written to be published; unset: <data_dir>/audit/"
    )
    checkpoint_every_entries: int = Field(default=1000, ge=1, description="issue a checkpoint after this many entries")
    checkpoint_every_s: float = Field(
        default=300.0, gt=0, description="or after this many seconds with at least one new entry, whichever first"
    )

    @field_validator("origin")
    @classmethod
    def _check_origin(cls, value: str) -> str:
        if any(c.isspace() or c == "+" for c in value):
            raise ValueError(f"audit origin must have no spaces and no '+', got {value!r}")
        return value


class Settings(BaseSettings):
    """All FarmTrust settings; build once with ``Settings()`` and pass down."""

    model_config = SettingsConfigDict(
        env_prefix="FARMTRUST_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    db: DatabaseSettings = DatabaseSettings()
    mqtt: MqttSettings = MqttSettings()
    vision: VisionSettings = VisionSettings()
    api: ApiSettings = ApiSettings()
    audit: AuditSettings = AuditSettings()

    @property
    def frame_dir(self) -> Path:
        """Content-addressed frame store (sha256 file names)."""
        return self.data_dir / "frames"

    @property
    def evidence_dir(self) -> Path:
        """Annotated thumbnails kept as evidence for counts."""
        return self.data_dir / "evidence"

    @property
    def audit_key_file(self) -> Path:
        """The server's raw Ed25519 checkpoint key (its public half sits next to it as ``.pub``)."""
        return self.audit.key_file or self.data_dir / "audit" / "checkpoint.key"

    @property
    def audit_checkpoint_dir(self) -> Path:
        """Where signed tree-head checkpoints are written (``checkpoint``, and ``checkpoint.<size>`` each)."""
        return self.audit.checkpoint_dir or self.data_dir / "audit" / "checkpoints"

    @property
    def embedded_dir(self) -> Path:
        """Data folders of the embedded PostgreSQL and broker."""
        return self.data_dir / "embedded"
