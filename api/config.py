"""What the API needs of its configuration, written as Protocols.

``create_app(settings)`` receives any object of the :class:`ApiConfig` shape. The composition root's
``farmtrust.settings.Settings`` is one; the API never imports the package that builds and serves it,
so the arrow runs one way: ``farmtrust`` -> ``api``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

__all__ = ["ApiConfig", "AuditConfig", "BrokerConfig", "DatabaseConfig", "ServerConfig"]


class DatabaseConfig(Protocol):
    """Where PostgreSQL is and how many connections a process pools."""

    @property
    def url(self) -> str | None: ...  # noqa: D102
    @property
    def pool_min_size(self) -> int: ...  # noqa: D102
    @property
    def pool_max_size(self) -> int: ...  # noqa: D102


class BrokerConfig(Protocol):
    """The MQTT broker that ``/readyz`` checks."""

    @property
    def host(self) -> str: ...  # noqa: D102
    @property
    def port(self) -> int: ...  # noqa: D102


class ServerConfig(Protocol):
    """Request handling: threads, lock and statement timeouts, dashboard sessions and sign-in throttle."""

    @property
    def threads(self) -> int: ...  # noqa: D102
    @property
    def lock_timeout_s(self) -> float: ...  # noqa: D102
    @property
    def statement_timeout_s(self) -> float: ...  # noqa: D102
    @property
    def session_idle_s(self) -> int: ...  # noqa: D102
    @property
    def session_absolute_s(self) -> int: ...  # noqa: D102
    @property
    def login_max_failures(self) -> int: ...  # noqa: D102
    @property
    def login_window_s(self) -> int: ...  # noqa: D102
    @property
    def trust_forwarded_proto(self) -> bool: ...  # noqa: D102


class AuditConfig(Protocol):
    """The audit log's checkpoints: the log's name and how often the schedule issues one."""

    @property
    def origin(self) -> str: ...  # noqa: D102
    @property
    def checkpoint_every_entries(self) -> int: ...  # noqa: D102
    @property
    def checkpoint_every_s(self) -> float: ...  # noqa: D102


class ApiConfig(Protocol):
    """Everything the API reads of its configuration."""

    @property
    def db(self) -> DatabaseConfig: ...  # noqa: D102
    @property
    def mqtt(self) -> BrokerConfig: ...  # noqa: D102
    @property
    def api(self) -> ServerConfig: ...  # noqa: D102
    @property
    def evidence_dir(self) -> Path: ...  # noqa: D102
    @property
    def audit(self) -> AuditConfig: ...  # noqa: D102
    @property
    def audit_key_file(self) -> Path: ...  # noqa: D102
    @property
    def audit_checkpoint_dir(self) -> Path: ...  # noqa: D102
