"""Liveness, readiness and Prometheus metrics (including the ingest workers' counters)."""

from __future__ import annotations

import socket

from fastapi import APIRouter, Request, Response

from api.deps import Conn, Settings
from api.errors import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up (answered on the event loop: it never waits for a worker thread)."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
def readyz(conn: Conn, settings: Settings) -> dict[str, str]:
    """The database answers and the broker accepts connections (503 otherwise)."""
    conn.execute("SELECT 1")
    try:
        socket.create_connection((settings.mqtt.host, settings.mqtt.port), timeout=2).close()
    except OSError as exc:
        raise ApiError(503, "Not ready", f"MQTT broker {settings.mqtt.host}:{settings.mqtt.port}: {exc}") from None
    return {"status": "ready", "database": "ok", "broker": "ok"}


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    label = ",".join(f'{k}="{v}"' for k, v in (labels or {}).items())
    return f"{name}{{{label}}} {value}" if label else f"{name} {value}"


@router.get("/metrics", operation_id="metrics", response_class=Response)
def metrics(request: Request, conn: Conn) -> Response:
    """Prometheus text: ingest counters summed over workers, quarantine by reason, decisions, open alerts."""
    from store.ingest_writer import read_counters

    counters = read_counters(conn)
    lines = [
        "# HELP farmtrust_ingest_messages_total Messages by outcome, summed over ingest workers.",
        "# TYPE farmtrust_ingest_messages_total counter",
    ]
    for outcome in ("received", "stored", "duplicate"):
        lines.append(_line("farmtrust_ingest_messages_total", float(counters.get(outcome, 0)), {"outcome": outcome}))
    lines.append("# TYPE farmtrust_ingest_quarantined_total counter")
    for reason, n in sorted((counters.get("quarantined") or {}).items()):
        lines.append(_line("farmtrust_ingest_quarantined_total", float(n), {"reason": reason}))
    lines.append("# TYPE farmtrust_ingest_readings_total counter")
    lines.append(_line("farmtrust_ingest_readings_total", float(counters.get("readings_stored", 0))))
    decisions = conn.execute("SELECT status, count(*) FROM credit_decisions GROUP BY status").fetchall()
    lines.append("# TYPE farmtrust_credit_decisions_total counter")
    lines += [_line("farmtrust_credit_decisions_total", float(n), {"status": s}) for s, n in decisions]
    open_alerts = conn.execute("SELECT count(*) FROM credit_alerts WHERE resolved_at IS NULL").fetchone()
    lines.append("# TYPE farmtrust_open_alerts gauge")
    lines.append(_line("farmtrust_open_alerts", float(open_alerts[0] if open_alerts else 0)))
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
