"""Options and helpers shared by command groups."""

from __future__ import annotations

from typing import Annotated

import typer

from farmtrust.settings import Settings

DbUrl = Annotated[
    str | None,
    typer.Option("--db-url", envvar="FARMTRUST_DB__URL", help="PostgreSQL URL; unset starts the embedded one"),
]
MqttUrl = Annotated[
    str | None,
    typer.Option("--mqtt-url", envvar="FARMTRUST_MQTT__URL", help="MQTT broker URL; unset starts an embedded one"),
]


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
