"""``farmtrust demo``: the whole pipeline end to end, then the API and dashboard until Ctrl-C."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from farmtrust.commands._common import DbUrl, MqttUrl, load_settings
from farmtrust.console import console

if TYPE_CHECKING:
    import threading

    from farmtrust.demo_report import DemoReport
    from farmtrust.settings import Settings

app = typer.Typer()


@app.command()
def demo(
    db_url: DbUrl = None,
    mqtt_url: MqttUrl = None,
    once: Annotated[bool, typer.Option("--once", help="exit after the report (tests and CI)")] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the report's figures as one JSON object on the last line")
    ] = False,
) -> None:
    """Run the whole pipeline on real data: devices, ingest, vision, remote sensing, credit, loan, alerts."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from farmtrust.demo import run_demo
    from farmtrust.demo_report import DemoReport, render
    from farmtrust.services import local_stack, with_stack
    from farmtrust.signals import shutdown_event
    from store.db import redact

    settings = load_settings(db_url=db_url, mqtt_url=mqtt_url)
    stop = shutdown_event()
    with local_stack(settings) as stack:
        settings = with_stack(settings, stack)
        report = DemoReport(stack={"db": redact(stack.db_url), "mqtt": stack.mqtt_url})
        console.print(
            f"PostgreSQL: {redact(stack.db_url)}{' (embedded)' if stack.embedded_db else ''}   "
            f"MQTT: {stack.mqtt_url} (MQTT {stack.mqtt_protocol.value}"
            f"{', embedded ' + stack.embedded_broker if stack.embedded_broker else ''})"
        )
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            run_demo(settings, progress=progress, report=report)
        render(report, console)
        if json_out:
            typer.echo(json.dumps(_figures(report), default=str))
        if once:
            return
        _serve(settings, report, stop)


def _figures(report: object) -> dict[str, object]:
    from farmtrust.demo_report import DemoReport

    assert isinstance(report, DemoReport)
    return {
        "ingest": report.ingest,
        "herd": [{k: v for k, v in h.items() if k != "evidence"} for h in report.herd],
        "decisions": [
            {"farm": d["farm"], "decision_id": d["decision_id"], "status": d["status"], "limit": str(d["limit"].number)}
            for d in report.decisions
        ],
        "alerts": report.alerts,
        "audit": report.audit,
        "loan_id": report.loan.get("loan_id"),
    }


def _serve(settings: Settings, report: DemoReport, stop: threading.Event) -> None:
    """Serve the API and dashboard until Ctrl-C."""
    import threading

    import uvicorn

    from api.app import create_app
    from farmtrust.audit_checkpoints import start_checkpoint_schedule
    from farmtrust.signals import wait_for_shutdown

    app = create_app(settings)
    schedule = start_checkpoint_schedule(settings, stop=stop)
    config = uvicorn.Config(
        app, host=settings.api.host, port=settings.api.port, log_level="warning", proxy_headers=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    console.print(f"API and dashboard: http://{settings.api.host}:{settings.api.port}/ui  (Ctrl-C to stop)")
    for role, key in report.api_keys.items():
        console.print(f"  sign in as {role}: {key}")
    every = f"every {settings.audit.checkpoint_every_entries} entries or {settings.audit.checkpoint_every_s:g} s"
    console.print(
        f"Audit checkpoints ({every}, and with each receipt) are published in {settings.audit_checkpoint_dir};"
        f" the log's public key: {settings.audit_key_file.with_suffix('.vkey')}",
        highlight=False,
    )
    wait_for_shutdown(stop)
    server.should_exit = True
    thread.join(10)
    schedule.join(10)
