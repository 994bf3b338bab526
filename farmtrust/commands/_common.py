"""Options and helpers shared by command groups."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from farmtrust.settings import Settings

if TYPE_CHECKING:
    from credit.policy import Policy

DbUrl = Annotated[
    str | None,
    typer.Option("--db-url", envvar="FARMTRUST_DB__URL", help="PostgreSQL URL; unset starts the embedded one"),
]
MqttUrl = Annotated[
    str | None,
    typer.Option("--mqtt-url", envvar="FARMTRUST_MQTT__URL", help="MQTT broker URL; unset starts an embedded one"),
]

PolicyFile = Annotated[
    Path | None,
    typer.Option("--policy", help="credit policy TOML file; default: the bundled credit/policies/ft-2025.1.toml"),
]


def load_policy_option(path: Path | None) -> Policy:
    """The credit policy of ``--policy`` (the bundled one when None).

    Raises:
        credit.errors.PolicyError: the file does not exist or is not a valid policy.
    """
    from credit.errors import PolicyError
    from credit.policy import DEFAULT_POLICY_PATH, load_policy

    source = path or DEFAULT_POLICY_PATH
    if not source.is_file():
        raise PolicyError(f"--policy {source} does not exist; pass a policy TOML file")
    return load_policy(source)


def load_settings(*, db_url: str | None = None, mqtt_url: str | None = None) -> Settings:
    """Build the settings once, with command-line overrides on top of the environment."""
    settings = Settings()
    if db_url:
        settings = settings.model_copy(
            update={"db": settings.db.model_validate({**settings.db.model_dump(), "url": db_url})}
        )
    if mqtt_url:
        settings = settings.model_copy(
            update={"mqtt": settings.mqtt.model_validate({**settings.mqtt.model_dump(), "url": mqtt_url})}
        )
    return settings


@contextlib.contextmanager
def database_url(db_url: str | None) -> Iterator[str]:
    """The PostgreSQL URL a command works on, for the duration of the ``with`` block.

    Args:
        db_url: the ``--db-url`` option (None: the settings' URL from the environment).

    Yields:
        The configured URL; when none is configured, the URL of an embedded PostgreSQL started under
        ``Settings.embedded_dir`` and stopped when the block ends.
    """
    settings = load_settings(db_url=db_url)
    if settings.db.url:
        yield settings.db.url
        return
    from farmtrust.services import start_embedded_postgres

    url, server = start_embedded_postgres(settings.embedded_dir / "postgres")
    try:
        yield url
    finally:
        server.cleanup()  # type: ignore[attr-defined]
