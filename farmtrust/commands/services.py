"""``farmtrust services``: the local stack (embedded PostgreSQL and MQTT broker)."""

from __future__ import annotations

from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, MqttUrl, load_settings
from farmtrust.console import console
from farmtrust.signals import shutdown_event, wait_for_shutdown

app = typer.Typer(help="The local stack: embedded PostgreSQL and MQTT broker.", no_args_is_help=True)


@app.command()
def up(
    db_url: DbUrl = None,
    mqtt_url: MqttUrl = None,
    broker: Annotated[
        str | None,
        typer.Option(help="force the embedded broker: mosquitto or amqtt (default: mosquitto if on PATH)"),
    ] = None,
    migrate: Annotated[bool, typer.Option(help="apply migrations once the database is up")] = True,
) -> None:
    """Start embedded services for unset URLs, print the URLs, and run until Ctrl-C."""
    from farmtrust.services import local_stack
    from store.db import connect, redact
    from store.migrations import migrate as run_migrations

    settings = load_settings(db_url=db_url, mqtt_url=mqtt_url)
    stop = shutdown_event()
    with local_stack(settings, broker=broker) as stack:
        if migrate:
            with connect(stack.db_url, autocommit=True) as conn:
                done = run_migrations(conn)
            console.print(f"Migrations applied: {len(done)}")
        console.print(f"PostgreSQL: {redact(stack.db_url)}" + (" (embedded)" if stack.embedded_db else ""))
        console.print(
            f"MQTT:       {stack.mqtt_url} (MQTT {stack.mqtt_protocol.value}"
            + (f", embedded {stack.embedded_broker})" if stack.embedded_broker else ")")
        )
        console.print(
            f"export FARMTRUST_DB__URL='{stack.db_url}' FARMTRUST_MQTT__URL='{stack.mqtt_url}' "
            f"FARMTRUST_MQTT__PROTOCOL='{stack.mqtt_protocol.value}'"
        )
        console.print("Running; press Ctrl-C to stop.")
        wait_for_shutdown(stop)
        console.print("Stopping services.")
