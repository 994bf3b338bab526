"""Writing a loan off through the API: audited, out of PAR from that day, its lender's (or an admin's) alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

from tests.api.conftest import auth


def _open_loan(world, *, principal: str, started_days_ago: int) -> str:
    c, key = world["client"], auth(world["key_l"])
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = c.post(
        f"/v1/farms/{world['farm_a']}/consents",
        json={"lender_id": str(world["lender"]), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    assert r.status_code in (201, 409), r.text
    decision = c.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**key, "Idempotency-Key": f"wo-limit-{principal}"}
    ).json()
    start = datetime.now(UTC).date() - timedelta(days=started_days_ago)
    body = {
        "decision_id": decision["decision_id"],
        "principal": principal,
        "rate": "0.18",
        "months": 6,
        "kind": "equal-principal",
        "start": start.isoformat(),
    }
    r = c.post("/v1/loans", json=body, headers=key)
    assert r.status_code == 201, r.text
    return r.json()["loan_id"]


def _portfolio(world, key: str) -> tuple[int, Decimal]:
    r = world["client"].get("/v1/portfolio", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()["loans"], Decimal(str(r.json()["outstanding"]))


def test_a_written_off_loan_leaves_par_and_the_write_off_is_audited_once(world):
    c = world["client"]
    _open_loan(world, principal="1000", started_days_ago=10)  # kept
    gone = _open_loan(world, principal="700", started_days_ago=10)
    assert _portfolio(world, world["key_l"]) == (2, Decimal(1700))
    on = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()

    r = c.post(f"/v1/loans/{gone}/write-off", json={"on": on}, headers=auth(world["key_l"]))
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["loan_id"], first["written_off_on"], first["created"]) == (gone, on, True)
    assert first["receipt"]["entry"]["seq"] > 0
    # PAR for the lender and the admin: only the loan kept (1000 of principal)
    assert _portfolio(world, world["key_l"]) == (1, Decimal(1000))
    assert _portfolio(world, world["key_admin"]) == (1, Decimal(1000))

    # the same day again: the first write-off, no second audit entry; another day: 409
    again = c.post(f"/v1/loans/{gone}/write-off", json={"on": on}, headers=auth(world["key_l"]))
    assert again.status_code == 201 and again.json()["created"] is False
    assert again.json()["receipt"]["entry"]["seq"] == first["receipt"]["entry"]["seq"]
    moved = c.post(
        f"/v1/loans/{gone}/write-off", json={"on": (datetime.now(UTC).date()).isoformat()}, headers=auth(world["key_l"])
    )
    assert moved.status_code == 409 and "already written off from" in moved.json()["detail"], moved.text
    with psycopg.connect(world["db"]) as conn:
        entries = conn.execute(
            """SELECT payload::jsonb->>'loan_id', payload::jsonb->>'written_off_on'
               FROM audit_log WHERE kind = 'loan.written_off'"""
        ).fetchall()
    assert entries == [(gone, on)]


def test_write_off_refuses_bad_days_other_lenders_and_cooperatives(world):
    c = world["client"]
    loan = _open_loan(world, principal="500", started_days_ago=3)
    today = datetime.now(UTC).date()
    cases = [
        ({"on": (today - timedelta(days=4)).isoformat()}, "before the loan started"),
        ({"on": (today + timedelta(days=1)).isoformat()}, "is in the future"),
        ({"on": "2025-02-30"}, "date"),
        ({}, "Field required"),
    ]
    for body, message in cases:
        r = c.post(f"/v1/loans/{loan}/write-off", json=body, headers=auth(world["key_l"]))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "on" in str(r.json()) and message in r.text, r.text
    assert (
        c.post(f"/v1/loans/{loan}/write-off", json={"on": today.isoformat()}, headers=auth(world["key_m"])).status_code
        == 404
    )
    assert (
        c.post(f"/v1/loans/{loan}/write-off", json={"on": today.isoformat()}, headers=auth(world["key_a"])).status_code
        == 403
    )
    r = c.post(f"/v1/loans/{loan}/write-off", json={"on": today.isoformat()}, headers=auth(world["key_admin"]))
    assert r.status_code == 201 and r.json()["created"] is True, r.text
