"""/metrics: prometheus_client's text, read back with its parser; counters stored by the ingest workers."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

from api.app import create_app
from farmtrust.settings import Settings

ODD_REASON = 'bad "sig" \\ on\na new line'
BOUNDS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, "+Inf"]


def _snapshot(*, received, stored, duplicate, readings, quarantined, counts, sum_ms):
    return {
        "received": received,
        "stored": stored,
        "duplicate": duplicate,
        "readings_stored": readings,
        "frames_stored": 0,
        "batches": sum(counts),
        "quarantined": quarantined,
        "batch_latency_ms": {"buckets": BOUNDS_MS, "counts": counts, "sum": sum_ms, "count": sum(counts)},
    }


@pytest.fixture
def client(fresh_db_url, mqtt_url, tmp_path):
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        yield c


def _samples(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_worker_counters_are_summed_and_odd_labels_escaped(client, fresh_db_url):
    a = _snapshot(
        received=5,
        stored=4,
        duplicate=1,
        readings=100,
        quarantined={ODD_REASON: 2, "replay": 1},
        counts=[1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # 1 batch <= 1 ms, 2 in (2, 5] ms
        sum_ms=12.5,
    )
    b = _snapshot(
        received=2,
        stored=2,
        duplicate=0,
        readings=7,
        quarantined={"replay": 3},
        counts=[0] * 13 + [1],  # one batch over 10 s
        sum_ms=20000.0,
    )
    with psycopg.connect(fresh_db_url) as conn:
        for worker, snap in (("a", a), ("b", b)):
            conn.execute("INSERT INTO ingest_counters (worker_id, counters) VALUES (%s, %s)", (worker, Jsonb(snap)))
    samples = _samples(client)

    def value(name, **labels):
        return samples[(name, frozenset(labels.items()))]

    assert value("farmtrust_ingest_messages_total", outcome="received") == 7
    assert value("farmtrust_ingest_messages_total", outcome="stored") == 6
    assert value("farmtrust_ingest_messages_total", outcome="duplicate") == 1
    assert value("farmtrust_ingest_readings_total") == 107
    assert value("farmtrust_ingest_quarantined_total", reason=ODD_REASON) == 2
    assert value("farmtrust_ingest_quarantined_total", reason="replay") == 4
    assert value("farmtrust_ingest_workers") == 2
    assert value("farmtrust_open_alerts") == 0
    # cumulative buckets in seconds: 1 batch <= 1 ms, 3 <= 5 ms and up to 10 s, 4 in all
    latency = "farmtrust_ingest_batch_latency_seconds"
    assert value(f"{latency}_bucket", le="0.001") == 1
    assert value(f"{latency}_bucket", le="0.002") == 1
    assert value(f"{latency}_bucket", le="0.005") == 3
    assert value(f"{latency}_bucket", le="10.0") == 3
    assert value(f"{latency}_bucket", le="+Inf") == 4
    assert value(f"{latency}_count") == 4
    assert value(f"{latency}_sum") == pytest.approx(20.0125)


def test_request_latency_is_observed_per_route_template(client):
    for _ in range(2):
        assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/path").status_code == 404
    assert client.get("/v1/farms/00000000-0000-0000-0000-000000000001").status_code == 401
    samples = _samples(client)
    count = "farmtrust_http_request_duration_seconds_count"

    def n(route, status):
        return samples.get((count, frozenset({"method": "GET", "route": route, "status": status}.items())))

    assert n("/healthz", "200") == 2
    assert n("unmatched", "404") == 1
    assert n("/v1/farms/{farm_id}", "401") == 1


def test_two_apps_in_one_process_keep_their_own_registries(client, fresh_db_url, mqtt_url, tmp_path):
    client.get("/healthz")
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    with TestClient(create_app(settings)) as other:
        samples = _samples(other)
    healthz = [k for k in samples if k[0].startswith("farmtrust_http") and ("route", "/healthz") in k[1]]
    assert healthz == []
    assert (
        _samples(client)[
            (
                "farmtrust_http_request_duration_seconds_count",
                frozenset({"method": "GET", "route": "/healthz", "status": "200"}.items()),
            )
        ]
        == 1
    )
