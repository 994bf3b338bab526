"""Twenty concurrent requests that contend for one lock, against a real uvicorn server (issue #12, item 5).

Every response arrives and is 2xx, 409 or 503 with Retry-After; ``/healthz`` answers during and after the
burst; nothing is stored twice. A synchronous test client would not show a hung threadpool, so real HTTP
clients in threads talk to a server that runs with the default settings (8 threads, 10 connections).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

import httpx
import psycopg
import pytest
import uvicorn

from api.app import create_app
from farmtrust.services import free_port
from farmtrust.settings import Settings
from store.tenants import grant_consent
from tests.api.factories import farm_with_data, org_with_key

BURST = 20
REQUEST_TIMEOUT_S = 30.0


@pytest.fixture
def server(fresh_db_url, mqtt_url, tmp_path) -> Iterator[dict]:
    with psycopg.connect(fresh_db_url) as conn:
        coop, _ = org_with_key(conn, "cooperative")
        lender, key = org_with_key(conn, "lender")
        farm = farm_with_data(conn, cooperative_id=coop)
        grant_consent(
            conn, farm_id=farm, lender_id=lender, granted_by=coop, expires_at=datetime.now(UTC) + timedelta(days=5)
        )
        conn.commit()
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    assert (settings.api.threads, settings.db.pool_max_size) == (8, 10)  # the defaults the issue saw hang
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uv.started
    yield {"base": f"http://127.0.0.1:{port}", "db": fresh_db_url, "farm": farm, "key": key}
    uv.should_exit = True
    thread.join(15)


class HealthProbe(threading.Thread):
    """Asks ``/healthz`` every 50 ms until stopped; keeps each status (or the error's name)."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base, self.seen, self.stop = base, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stop.is_set():
                try:
                    self.seen.append(client.get("/healthz").status_code)
                except httpx.HTTPError as exc:
                    self.seen.append(type(exc).__name__)
                time.sleep(0.05)


def _burst(
    server: dict, send: Callable[[httpx.Client, int], httpx.Response], also: tuple[int, ...] = ()
) -> list[httpx.Response]:
    """``BURST`` requests at once (a client each), with ``/healthz`` probed all along; every answer is checked."""
    probe = HealthProbe(server["base"])
    probe.start()
    start = threading.Barrier(BURST)

    def one(i: int) -> httpx.Response:
        with httpx.Client(base_url=server["base"], timeout=REQUEST_TIMEOUT_S) as client:
            start.wait()
            return send(client, i)

    try:
        with concurrent.futures.ThreadPoolExecutor(BURST) as pool:
            responses = list(pool.map(one, range(BURST)))  # a timeout would raise here: every answer must come
    finally:
        probe.stop.set()
        probe.join(10)
    assert probe.seen and set(probe.seen) == {200}, probe.seen  # health stayed green during the burst
    assert httpx.get(f"{server['base']}/healthz", timeout=5).status_code == 200  # and after it
    for r in responses:
        assert r.status_code in (200, 201, 409, 503, *also), r.text
        if r.status_code in (409, 503) and "Idempotency-Key" not in r.text:
            assert int(r.headers["Retry-After"]) > 0, r.text
    return responses


def _auth(server: dict, key: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {server['key']}", **({"Idempotency-Key": key} if key else {})}


def test_twenty_repayments_on_one_loan_all_answer_and_are_stored_once(server):
    limit = httpx.post(
        f"{server['base']}/v1/farms/{server['farm']}/credit-limit", headers=_auth(server, "burst-limit-0"), timeout=30
    ).json()
    body = {
        "decision_id": limit["decision_id"],
        "principal": "5000",
        "rate": "0.18",
        "months": 6,
        "kind": "annuity",
        "start": date.today().isoformat(),
    }
    loan = httpx.post(f"{server['base']}/v1/loans", json=body, headers=_auth(server), timeout=30)
    assert loan.status_code == 201, loan.text
    loan_id = loan.json()["loan_id"]
    paid_at = datetime.now(UTC).isoformat()

    responses = _burst(
        server,
        lambda client, i: client.post(
            f"/v1/loans/{loan_id}/repayments",
            json={"amount": "10.00", "paid_at": paid_at},
            headers=_auth(server, f"burst-pay-{i:04d}"),
        ),
    )
    created = [r for r in responses if r.status_code == 201]
    assert len(created) >= BURST // 2, [r.status_code for r in responses]  # most go through, one after another
    with psycopg.connect(server["db"]) as conn:
        stored = conn.execute(
            "SELECT idempotency_key FROM repayments WHERE loan_id = %s ORDER BY idempotency_key", (loan_id,)
        ).fetchall()
        entries = conn.execute("SELECT count(*) FROM audit_log WHERE kind = 'loan.repayment'").fetchone()[0]
    assert len(stored) == len(created) == entries  # each answered 201 stored once, nothing else stored
    assert len({r.json()["repayment_id"] for r in created}) == len(created)


def test_twenty_identical_credit_limit_retries_decide_once(server):
    responses = _burst(
        server,
        lambda client, _i: client.post(
            f"/v1/farms/{server['farm']}/credit-limit", headers=_auth(server, "burst-same-key-01")
        ),
    )
    ok = [r.json() for r in responses if r.status_code == 201]
    assert ok, [r.status_code for r in responses]
    assert all(body == ok[0] for body in ok)  # every retry that got through answers the first decision
    with psycopg.connect(server["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM credit_decisions").fetchone()[0] == 1
        assert conn.execute("SELECT count(*) FROM audit_log WHERE kind = 'credit.decision'").fetchone()[0] == 1


def test_twenty_concurrent_loans_from_one_decision_stay_within_its_limit(server):
    limit = httpx.post(
        f"{server['base']}/v1/farms/{server['farm']}/credit-limit", headers=_auth(server, "burst-limit-1"), timeout=30
    ).json()
    assert limit["status"] == "approved", limit
    quarter = (Decimal(limit["limit"]) / 4).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    body = {
        "decision_id": limit["decision_id"],
        "principal": str(quarter),
        "rate": "0.18",
        "months": 6,
        "kind": "annuity",
        "start": date.today().isoformat(),
    }
    responses = _burst(
        server, lambda client, _i: client.post("/v1/loans", json=body, headers=_auth(server)), also=(422,)
    )
    assert sum(r.status_code == 201 for r in responses) <= 4  # four quarters fit in the limit, a fifth does not
    for r in responses:
        if r.status_code == 422:
            assert "exceeds its approved limit" in r.json()["detail"], r.text
    with psycopg.connect(server["db"]) as conn:
        total, count = conn.execute(
            "SELECT coalesce(sum(principal), 0), count(*) FROM loans WHERE decision_id = %s", (limit["decision_id"],)
        ).fetchone()
    assert count == sum(r.status_code == 201 for r in responses) and total <= Decimal(limit["limit"])


def test_a_request_waiting_on_a_held_lock_gets_409_with_retry_after(fresh_db_url, mqtt_url, tmp_path):
    """Another transaction holds the loan's row: the repayment waits ``lock_timeout`` and answers 409, storing
    nothing; once the lock is gone the same request is stored."""
    from fastapi.testclient import TestClient

    with psycopg.connect(fresh_db_url) as conn:
        coop, _ = org_with_key(conn, "cooperative")
        lender, key = org_with_key(conn, "lender")
        farm = farm_with_data(conn, cooperative_id=coop)
        grant_consent(
            conn, farm_id=farm, lender_id=lender, granted_by=coop, expires_at=datetime.now(UTC) + timedelta(days=5)
        )
        conn.commit()
    settings = Settings(
        db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path, api={"lock_timeout_s": 0.3}
    )
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        limit = client.post(f"/v1/farms/{farm}/credit-limit", headers={**headers, "Idempotency-Key": "held-lock-1"})
        body = {
            "decision_id": limit.json()["decision_id"],
            "principal": "1000",
            "rate": "0.18",
            "months": 6,
            "kind": "annuity",
            "start": date.today().isoformat(),
        }
        loan_id = client.post("/v1/loans", json=body, headers=headers).json()["loan_id"]
        pay = {"amount": "50.00", "paid_at": datetime.now(UTC).isoformat()}
        url, pay_headers = f"/v1/loans/{loan_id}/repayments", {**headers, "Idempotency-Key": "held-pay-1"}
        with psycopg.connect(fresh_db_url) as holder:
            holder.execute("SELECT 1 FROM loans WHERE id = %s FOR UPDATE", (loan_id,))
            release = threading.Timer(10, holder.rollback)  # were there no lock timeout: let the request go on
            release.start()
            r = client.post(url, json=pay, headers=pay_headers)
            release.cancel()
            assert r.status_code == 409 and r.headers["Retry-After"] == "1", r.text
            assert r.headers["content-type"].startswith("application/problem+json")
            assert holder.execute("SELECT count(*) FROM repayments").fetchone()[0] == 0
            holder.rollback()
        r = client.post(url, json=pay, headers=pay_headers)
        assert r.status_code == 201, r.text
