"""Two lenders with consent on one farm: each lender's decisions and loans are its own (issue #12, item 2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg

from tests.api.conftest import auth, sign_in


def _consent(world, lender) -> None:
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = world["client"].post(
        f"/v1/farms/{world['farm_a']}/consents",
        json={"lender_id": str(lender), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    assert r.status_code == 201, r.text


def _loan_body(decision_id: str, principal: str = "1000") -> dict:
    return {
        "decision_id": decision_id,
        "principal": principal,
        "rate": "0.18",
        "months": 6,
        "kind": "seasonal",
        "start": date.today().isoformat(),
        "harvest_months": [7, 8],
    }


def _lender_page(client, key: str) -> str:
    """The lender's dashboard page, signed in with ``key`` through the sign-in form (its CSRF token included)."""
    try:
        sign_in(client, key)
        r = client.get("/ui")
    finally:
        client.cookies.clear()
    assert r.status_code == 200
    return r.text


def test_lender_two_cannot_touch_lender_ones_decision_or_loan(world):
    c = world["client"]
    _consent(world, world["lender"])
    _consent(world, world["other_lender"])  # Lender Two also has consent on the farm
    one, two = auth(world["key_l"]), auth(world["key_m"])
    decision = c.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**one, "Idempotency-Key": "one-limit-0001"}
    ).json()
    loan = c.post("/v1/loans", json=_loan_body(decision["decision_id"]), headers=one)
    assert loan.status_code == 201, loan.text
    loan_id = loan.json()["loan_id"]

    # Lender Two: the decision and the loan do not exist, and the answer does not name their owner
    r = c.post("/v1/loans", json=_loan_body(decision["decision_id"]), headers=two)
    assert r.status_code == 404 and "Lender L" not in r.text and str(world["lender"]) not in r.text
    r = c.get(f"/v1/loans/{loan_id}", headers=two)
    assert r.status_code == 404 and "Lender L" not in r.text and str(world["lender"]) not in r.text
    pay = {"amount": "100.00", "paid_at": datetime.now(UTC).isoformat()}
    r = c.post(f"/v1/loans/{loan_id}/repayments", json=pay, headers={**two, "Idempotency-Key": "two-pay-0001"})
    assert r.status_code == 404
    assert c.get("/v1/portfolio", headers=two).json()["loans"] == 0
    page_two = _lender_page(c, world["key_m"])
    assert "Portfolio: 0 loans" in page_two and "No decisions yet" in page_two and "No loans yet" in page_two

    # Lender One still has everything; nothing of Lender Two's attempts was stored
    assert c.get(f"/v1/loans/{loan_id}", headers=one).status_code == 200
    assert c.get("/v1/portfolio", headers=one).json()["loans"] == 1
    page_one = _lender_page(c, world["key_l"])
    assert "Portfolio: 1 loans" in page_one and f"audit entry #{decision['audit_entry_seq']}" in page_one
    first = loan.json()["schedule"][0]  # the loan's first instalment row, as the API gave it
    assert f"<td>1</td><td>{first['due_date']}</td>" in page_one and f'"num">{first["total"]}</td>' in page_one
    with psycopg.connect(world["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM repayments").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM loans").fetchone()[0] == 1
        owners = conn.execute(
            "SELECT d.lender_organization_id, l.lender_organization_id FROM loans l "
            "JOIN credit_decisions d ON d.id = l.decision_id"
        ).fetchone()
    assert owners == (world["lender"], world["lender"])

    # Lender Two's own decision on the same farm opens its own loan, which Lender One cannot see
    mine = c.post(f"/v1/farms/{world['farm_a']}/credit-limit", headers={**two, "Idempotency-Key": "two-limit-001"})
    loan_two = c.post("/v1/loans", json=_loan_body(mine.json()["decision_id"]), headers=two)
    assert loan_two.status_code == 201, loan_two.text
    assert c.get(f"/v1/loans/{loan_two.json()['loan_id']}", headers=one).status_code == 404
    assert c.get("/v1/portfolio", headers=one).json()["loans"] == 1
    assert c.get("/v1/portfolio", headers=two).json()["loans"] == 1
    assert c.get("/v1/portfolio", headers=auth(world["key_admin"])).json()["loans"] == 2  # admins see every loan
    assert c.get(f"/v1/loans/{loan_id}", headers=auth(world["key_admin"])).status_code == 200
