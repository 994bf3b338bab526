"""Liveness, readiness and Prometheus metrics (including the ingest workers' counters)."""

from __future__ import annotations

import socket

from fastapi import APIRouter, Request, Response
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from api.deps import Conn, Settings
from api.errors import ApiError
from api.metrics import Collectors, StoredMetrics
from store.db import ping

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz")
async def healthz() -> dict[str, str]:
    """The process is up (answered on the event loop: it never waits for a worker thread)."""
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz")
def readyz(conn: Conn, settings: Settings) -> dict[str, str]:
    """The database answers and the broker accepts connections (503 otherwise)."""
    ping(conn)
    try:
        socket.create_connection((settings.mqtt.host, settings.mqtt.port), timeout=2).close()
    except OSError as exc:
        raise ApiError(503, "Not ready", f"MQTT broker {settings.mqtt.host}:{settings.mqtt.port}: {exc}") from None
    return {"status": "ready", "database": "ok", "broker": "ok"}


@router.get("/metrics", operation_id="metrics", response_class=Response)
def metrics(request: Request, conn: Conn) -> Response:
    """Prometheus text: request latency per route, ingest counters and batch latency, decisions, open alerts."""
    body = generate_latest(Collectors(request.app.state.metrics.registry, StoredMetrics(conn)))
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
