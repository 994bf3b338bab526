"""Prometheus metrics of one API app, built with ``prometheus_client``.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (tests and several apps in one process
do not clash) holding the request-latency histogram that :class:`RequestTimer` feeds. What other
processes count lives in the database and is read on each scrape by :class:`StoredMetrics`: the ingest
workers' counters and batch-latency histogram (saved by ``farmtrust.workers.ingest``), credit decisions
and open alerts. The client library writes the text format, label escaping included.

Exposed names: ``farmtrust_http_request_duration_seconds`` (histogram; ``method``, ``route`` template,
``status``), ``farmtrust_ingest_messages_total`` (``outcome``), ``farmtrust_ingest_quarantined_total``
(``reason``), ``farmtrust_ingest_readings_total``, ``farmtrust_ingest_batch_latency_seconds`` (histogram),
``farmtrust_ingest_workers``, ``farmtrust_credit_decisions_total`` (``status``), ``farmtrust_open_alerts``.
Under ``farmtrust api --workers N`` each process keeps its own request histogram.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.ingest_writer import read_counters
from store.metrics import credit_decision_counts, open_alert_count

UNMATCHED_ROUTE = "unmatched"
"""The ``route`` label of requests no route matched (404s), so unknown paths cannot multiply the series."""


@dataclass(frozen=True)
class ApiMetrics:
    """The metrics of one app: its registry and the request-latency histogram in it."""

    registry: CollectorRegistry
    request_seconds: Histogram


def api_metrics() -> ApiMetrics:
    """A fresh registry with the request-latency histogram registered in it."""
    registry = CollectorRegistry()
    request_seconds = Histogram(
        "farmtrust_http_request_duration_seconds",
        "Time from a request's arrival to the end of its response, per route template.",
        ["method", "route", "status"],
        registry=registry,
    )
    return ApiMetrics(registry, request_seconds)


class RequestTimer:
    """ASGI middleware that observes each HTTP request's duration under its route template.

    Args:
        app: the wrapped ASGI app.
        histogram: the histogram with ``method``, ``route`` and ``status`` labels.
    """

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        """Wrap ``app``."""
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time one request; an exception counts as status 500."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE
            self.histogram.labels(scope["method"], route, str(status)).observe(time.perf_counter() - start)


def _latency_histogram(latency: dict[str, Any]) -> HistogramMetricFamily:
    """The stored batch-latency snapshot (per-bucket counts, bounds in ms) as a cumulative histogram in s."""
    family = HistogramMetricFamily(
        "farmtrust_ingest_batch_latency_seconds",
        "Time to validate and write one ingest batch, summed over ingest workers.",
    )
    bounds, counts = latency.get("buckets", []), latency.get("counts", [])
    buckets, running = [], 0
    for bound, n in zip(bounds, counts, strict=False):
        running += int(n)
        le = "+Inf" if bound == "+Inf" else floatToGoString(float(bound) / 1000)
        buckets.append((le, float(running)))
    if not buckets or buckets[-1][0] != "+Inf":
        buckets.append(("+Inf", float(running)))
    family.add_metric([], buckets, sum_value=float(latency.get("sum", 0.0)) / 1000)
    return family


class StoredMetrics(Collector):
    """A collector of what the database holds, read through one connection when collected.

    Args:
        conn: the request's connection.
    """

    def __init__(self, conn: psycopg.Connection) -> None:
        """Collect through ``conn``."""
        self.conn = conn

    def collect(self) -> Iterable[Metric]:
        """The ingest workers' counters, credit decisions and open alerts."""
        counters = read_counters(self.conn)
        messages = CounterMetricFamily(
            "farmtrust_ingest_messages_total", "Messages by outcome, summed over ingest workers.", labels=["outcome"]
        )
        for outcome in ("received", "stored", "duplicate"):
            messages.add_metric([outcome], float(counters.get(outcome, 0)))
        yield messages
        quarantined = CounterMetricFamily(
            "farmtrust_ingest_quarantined_total", "Messages quarantined, by reason.", labels=["reason"]
        )
        for reason, n in sorted((counters.get("quarantined") or {}).items()):
            quarantined.add_metric([str(reason)], float(n))
        yield quarantined
        yield CounterMetricFamily(
            "farmtrust_ingest_readings_total",
            "Sensor readings stored.",
            value=float(counters.get("readings_stored", 0)),
        )
        yield _latency_histogram(counters.get("batch_latency_ms") or {})
        yield GaugeMetricFamily(
            "farmtrust_ingest_workers", "Ingest workers that have saved counters.", value=float(counters["workers"])
        )
        decisions = CounterMetricFamily(
            "farmtrust_credit_decisions_total", "Credit decisions, by status.", labels=["status"]
        )
        for status, n in credit_decision_counts(self.conn).items():
            decisions.add_metric([status], float(n))
        yield decisions
        yield GaugeMetricFamily(
            "farmtrust_open_alerts", "Unresolved credit alerts.", value=float(open_alert_count(self.conn))
        )


class Collectors(Collector):
    """Several collectors read as one (what :func:`prometheus_client.generate_latest` takes)."""

    def __init__(self, *collectors: Collector) -> None:
        """Join ``collectors`` in order."""
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        """Every metric of every collector."""
        for collector in self.collectors:
            yield from collector.collect()
