"""Repayment and loan values are validated to what is stored; a violation is a 422 naming the field (#12, 7)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest

from tests.api.conftest import auth


@pytest.fixture
def loan(world):
    """Lender L's 1,000 KES seasonal loan on farm A, started today."""
    c = world["client"]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    c.post(
        f"/v1/farms/{world['farm_a']}/consents",
        json={"lender_id": str(world["lender"]), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    decision = c.post(
        f"/v1/farms/{world['farm_a']}/credit-limit", headers={**auth(world["key_l"]), "Idempotency-Key": "limit-vals-1"}
    ).json()
    body = {
        "decision_id": decision["decision_id"],
        "principal": "1000",
        "rate": "0.18",
        "months": 6,
        "kind": "annuity",
        "start": date.today().isoformat(),
    }
    r = c.post("/v1/loans", json=body, headers=auth(world["key_l"]))
    assert r.status_code == 201, r.text
    return {**world, "loan_id": r.json()["loan_id"], "decision": decision, "loan_body": body}


def _paths(response) -> set[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["path"] for e in response.json()["errors"]}


def _repay(world, amount, paid_at=None, key="pay-values-0001"):
    return world["client"].post(
        f"/v1/loans/{world['loan_id']}/repayments",
        json={"amount": amount, "paid_at": paid_at or datetime.now(UTC).isoformat()},
        headers={**auth(world["key_l"]), "Idempotency-Key": key},
    )


@pytest.mark.parametrize(
    "amount",
    ["12.1234567891", "1e20", "100000000000000", "0", "-5", "NaN", "Infinity", 12.5, True, "twelve"],
)
def test_a_bad_repayment_amount_is_a_422_naming_amount_and_nothing_is_stored(loan, amount):
    assert _paths(_repay(loan, amount)) == {"body/amount"}
    assert _paths(_repay(loan, amount)) == {"body/amount"}  # the identical retry: the same answer
    with psycopg.connect(loan["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM repayments").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM audit_log WHERE kind = 'loan.repayment'").fetchone()[0] == 0


@pytest.mark.parametrize(
    "paid_at",
    [
        "1990-01-01T00:00:00+00:00",  # before the loan started
        "2099-01-01T00:00:00+00:00",  # in the future
        "2025-01-01T00:00:00",  # no time zone
        "yesterday",
    ],
)
def test_a_bad_repayment_time_is_a_422_naming_paid_at(loan, paid_at):
    assert _paths(_repay(loan, "10.00", paid_at=paid_at)) == {"body/paid_at"}


def test_a_repayment_in_cents_is_stored_exactly_as_sent_and_its_retry_is_the_same(loan):
    when = datetime.now(UTC).isoformat()
    first = _repay(loan, "12.12", paid_at=when, key="pay-cents-0001")
    again = _repay(loan, "12.12", paid_at=when, key="pay-cents-0001")
    assert first.status_code == 201 and again.status_code == 201, (first.text, again.text)
    assert again.json()["repayment_id"] == first.json()["repayment_id"] and again.json()["created"] is False
    assert sum(Decimal(v) for v in first.json()["allocation"].values()) == Decimal("12.12")
    with psycopg.connect(loan["db"]) as conn:
        assert conn.execute("SELECT amount FROM repayments").fetchall() == [(Decimal("12.12"),)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("principal", "1000.005"),
        ("principal", "1e20"),
        ("principal", 1000.5),
        ("principal", "0"),
        ("rate", "0.1234567"),
        ("months", "6"),
        ("months", 6.5),
        ("harvest_months", [13]),
        ("start", "1990-01-01"),
        ("start", "2099-01-01"),
        ("reviewed_by", ""),
    ],
)
def test_a_bad_loan_value_is_a_422_naming_the_field(loan, field, value):
    r = loan["client"].post("/v1/loans", json={**loan["loan_body"], field: value}, headers=auth(loan["key_l"]))
    assert {p.split("/")[1] for p in _paths(r)} == {field}
    with psycopg.connect(loan["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM loans").fetchone()[0] == 1  # only the fixture's


def test_loans_opened_one_after_another_stop_at_the_decisions_limit(loan):
    c, limit = loan["client"], Decimal(loan["decision"]["limit"])
    rest = {**loan["loan_body"], "principal": str(limit - 1000)}  # the fixture's loan holds 1,000 of the limit
    assert c.post("/v1/loans", json=rest, headers=auth(loan["key_l"])).status_code == 201
    over = c.post("/v1/loans", json={**rest, "principal": "0.01"}, headers=auth(loan["key_l"]))
    assert over.status_code == 422 and "exceeds its approved limit" in over.json()["detail"], over.text
    with psycopg.connect(loan["db"]) as conn:
        assert conn.execute("SELECT sum(principal) FROM loans").fetchone()[0] == limit


@pytest.mark.parametrize(("value", "accepted"), [("", False), ("0", False), ("1.234", False), ("12.10", True)])
def test_the_openapi_document_says_which_amounts_are_accepted(loan, value, accepted):
    """Clients (and schemathesis) learn from the schema alone that ``""`` or 3 decimals are refused."""
    schemas = loan["client"].get("/openapi.json").json()["components"]["schemas"]
    for model, name in (("LoanCreate", "principal"), ("RepaymentCreate", "amount")):
        (text,) = [s for s in schemas[model]["properties"][name]["anyOf"] if s["type"] == "string"]
        assert bool(re.fullmatch(text["pattern"], value)) is accepted
