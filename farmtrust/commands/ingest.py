"""``farmtrust ingest``: the MQTT → PostgreSQL ingest worker (its command is added at the top level)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from farmtrust.commands._common import DbUrl, MqttUrl, load_settings
from farmtrust.console import console

app = typer.Typer(help="Ingest MQTT messages into the database.")


@app.command()
def ingest(
    db_url: DbUrl = None,
    mqtt_url: MqttUrl = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            help="MQTT client id and counters key; stable across restarts keeps the session (docs/scaling.md)",
            envvar="FARMTRUST_INGEST_WORKER_ID",
        ),
    ] = None,
    max_messages: Annotated[int, typer.Option(min=1, help="most messages per batch")] = 1000,
    max_wait_ms: Annotated[float, typer.Option(min=0, help="longest wait for a batch to fill")] = 50.0,
    duration: Annotated[
        float | None, typer.Option(min=0, help="stop after this many seconds (default: run until Ctrl-C)")
    ] = None,
    migrate: Annotated[bool, typer.Option(help="apply pending migrations first")] = True,
) -> None:
    """Subscribe to every device topic and write batches exactly once; acknowledge only after commit."""
    from farmtrust.services import local_stack, with_stack
    from farmtrust.workers.ingest import IngestOptions, IngestWorker
    from store.db import connect
    from store.migrations import migrate as run_migrations

    settings = load_settings(db_url=db_url, mqtt_url=mqtt_url)
    with local_stack(settings) as stack:
        settings = with_stack(settings, stack)
        assert settings.db.url is not None
        if migrate:
            with connect(settings.db.url, autocommit=True) as conn:
                run_migrations(conn)
        defaults = IngestOptions()
        options = IngestOptions(
            worker_id=worker_id or defaults.worker_id,
            max_messages=max_messages,
            max_wait_s=max_wait_ms / 1000,
            retention_days=settings.db.retention_days,
        )
        worker = IngestWorker(
            db_url=settings.db.url,
            mqtt_settings=settings.mqtt,
            frame_dir=settings.frame_dir,
            evidence_dir=settings.evidence_dir,
            options=options,
        )
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: worker.stop())
        if duration is not None:
            threading.Timer(duration, worker.stop).start()
        console.print(f"ingest {options.worker_id}: {stack.mqtt_url} (MQTT {stack.mqtt_protocol.value}) → database")
        worker.run()
        c = worker.counters
        console.print(
            f"received {c.received}, stored {c.stored} ({c.readings_stored} readings), duplicate {c.duplicate}, "
            f"quarantined {sum(c.quarantined.values())} {dict(c.quarantined)}"
        )
