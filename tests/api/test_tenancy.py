"""Every route's happy path, and every cross-tenant attempt refused, against the real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.api.conftest import auth
from tests.api.factories import BOWTIE, SQUARE


def _pub_hex() -> str:
    return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def _consent(world, farm, lender, *, days=30):
    c = world["client"]
    expires = (datetime.now(UTC) + timedelta(days=days)).isoformat()
    r = c.post(
        f"/v1/farms/{farm}/consents",
        json={"lender_id": str(lender), "expires_at": expires},
        headers=auth(world["key_a"]),
    )
    assert r.status_code == 201, r.text
    return r.json()


def test_health_ready_metrics(world):
    c = world["client"]
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").json()["broker"] == "ok"
    metrics = c.get("/metrics")
    assert metrics.status_code == 200 and "farmtrust_ingest_messages_total" in metrics.text


def test_missing_unknown_and_revoked_keys_are_401_problems(world):
    c = world["client"]
    r = c.get("/v1/me")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 401
    assert c.get("/v1/me", headers=auth("ft_nope")).status_code == 401
    me = c.get("/v1/me", headers=auth(world["key_b"])).json()
    assert me["kind"] == "cooperative" and me["name"] == "Coop B"
    key_id = c.post(f"/v1/organizations/{world['coop_b']}/keys", headers=auth(world["key_admin"])).json()
    assert c.get("/v1/me", headers=auth(key_id["key"])).status_code == 200
    assert c.delete(f"/v1/keys/{key_id['id']}", headers=auth(world["key_admin"])).status_code == 204
    assert c.get("/v1/me", headers=auth(key_id["key"])).status_code == 401  # revoked: stops at once


def test_admin_creates_organizations_others_cannot(world):
    c = world["client"]
    r = c.post("/v1/organizations", json={"kind": "lender", "name": "New bank"}, headers=auth(world["key_admin"]))
    assert r.status_code == 201 and r.json()["kind"] == "lender"
    r = c.post("/v1/organizations", json={"kind": "lender", "name": "X"}, headers=auth(world["key_a"]))
    assert r.status_code == 403


def test_cooperative_manages_its_members_only(world):
    c = world["client"]
    r = c.post("/v1/farms", json={"name": "New member", "declared_herd": {"goat": 8}}, headers=auth(world["key_a"]))
    assert r.status_code == 201
    farm = r.json()["id"]
    listed = c.get("/v1/farms?limit=1", headers=auth(world["key_a"])).json()
    assert listed["count"] == 2 and len(listed["data"]) == 1 and listed["next_cursor"]
    page2 = c.get(f"/v1/farms?limit=1&cursor={listed['next_cursor']}", headers=auth(world["key_a"])).json()
    assert len(page2["data"]) == 1 and page2["next_cursor"] is None
    assert {f["id"] for f in listed["data"] + page2["data"]} == {farm, str(world["farm_a"])}
    # another cooperative's farm does not exist for B
    for path in (
        f"/v1/farms/{farm}",
        f"/v1/farms/{farm}/herd",
        f"/v1/farms/{farm}/fields",
        f"/v1/farms/{farm}/devices",
        f"/v1/farms/{farm}/crop-areas",
        f"/v1/farms/{farm}/alerts",
        f"/v1/farms/{farm}/coverage",
        f"/v1/farms/{farm}/evidence",
        f"/v1/farms/{farm}/sensors",
    ):
        r = c.get(path, headers=auth(world["key_b"]))
        assert r.status_code == 404, path
        assert "New member" not in r.text
    r = c.post(f"/v1/farms/{farm}/fields", json={"geometry": SQUARE}, headers=auth(world["key_b"]))
    assert r.status_code == 404


def test_bad_input_is_422_with_the_path_of_each_field(world):
    c = world["client"]
    r = c.post("/v1/farms", json={"name": "", "declared_herd": {"dragon": 2}}, headers=auth(world["key_a"]))
    assert r.status_code == 422
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"body/name", "body/declared_herd"} <= paths
    r = c.post(f"/v1/farms/{world['farm_a']}/fields", json={"geometry": BOWTIE}, headers=auth(world["key_a"]))
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "body/geometry"
    assert "Self-intersection" in r.json()["detail"]


def test_fields_devices_rotation_and_revocation(world):
    c = world["client"]
    farm = world["farm_a"]
    r = c.post(
        f"/v1/farms/{farm}/fields",
        json={"external_id": "F9", "geometry": SQUARE, "declared_crop": "maize", "declared_area_ha": "1.2"},
        headers=auth(world["key_a"]),
    )
    assert r.status_code == 201
    assert [f["external_id"] for f in c.get(f"/v1/farms/{farm}/fields", headers=auth(world["key_a"])).json()] == ["F9"]
    r = c.post(
        f"/v1/farms/{farm}/devices",
        json={"id": "barn-cam-9", "public_key_hex": _pub_hex()},
        headers=auth(world["key_a"]),
    )
    assert r.status_code == 201
    assert r.json()["mqtt_topic_prefix"] == f"farmtrust/v1/{farm}/barn-cam-9/"
    assert c.post("/v1/devices/barn-cam-9/revoke", headers=auth(world["key_b"])).status_code == 404
    new_key = _pub_hex()
    r = c.post("/v1/devices/barn-cam-9/rotate-key", json={"public_key_hex": new_key}, headers=auth(world["key_a"]))
    assert r.json()["public_key_hex"] == new_key
    assert c.post("/v1/devices/barn-cam-9/revoke", headers=auth(world["key_a"])).json()["status"] == "revoked"
    with psycopg.connect(world["db"]) as conn:
        assert conn.execute("SELECT status FROM devices WHERE id = 'barn-cam-9'").fetchone()[0] == "revoked"


def test_herd_record_in_daily_buckets(world):
    c = world["client"]
    herd = c.get(f"/v1/farms/{world['farm_a']}/herd?days=90", headers=auth(world["key_a"])).json()
    assert len(herd["data"]) == 60 and {d["head"] for d in herd["data"]} == {12}


def test_lender_sees_only_consented_farms_until_expiry(world):
    c = world["client"]
    farm = world["farm_a"]
    assert c.get(f"/v1/farms/{farm}", headers=auth(world["key_l"])).status_code == 404
    r = c.post(f"/v1/farms/{farm}/credit-limit", headers={**auth(world["key_l"]), "Idempotency-Key": "k-00000001"})
    assert r.status_code == 404
    _consent(world, farm, world["lender"])
    assert c.get(f"/v1/farms/{farm}", headers=auth(world["key_l"])).status_code == 200
    assert c.get(f"/v1/farms/{farm}", headers=auth(world["key_m"])).status_code == 404  # another lender
    assert c.get("/v1/farms", headers=auth(world["key_l"])).json()["count"] == 1
    with psycopg.connect(world["db"]) as conn:
        conn.execute("UPDATE consents SET expires_at = now() - interval '1 second'")
        conn.commit()
    assert c.get(f"/v1/farms/{farm}", headers=auth(world["key_l"])).status_code == 404


def test_credit_limit_loan_and_repayments_are_idempotent(world):
    c = world["client"]
    farm = world["farm_a"]
    _consent(world, farm, world["lender"])
    headers = {**auth(world["key_l"]), "Idempotency-Key": "limit-0001-farm-a"}
    first = c.post(f"/v1/farms/{farm}/credit-limit", headers=headers)
    assert first.status_code == 201, first.text
    again = c.post(f"/v1/farms/{farm}/credit-limit", headers=headers)
    assert again.json() == first.json()
    decision = first.json()
    assert decision["status"] == "approved" and float(decision["limit"]) > 0
    assert decision["audit_receipt"] and decision["policy_version"] == "ft-2025.1"
    with psycopg.connect(world["db"]) as conn:
        assert conn.execute("SELECT count(*) FROM credit_decisions").fetchone()[0] == 1
        stored = conn.execute("SELECT entry_hash FROM audit_log WHERE seq = %s", (decision["audit_entry_seq"],))
        assert stored.fetchone()[0] == decision["audit_receipt"]
    # the other lender cannot see the loan or open one on this decision
    body = {
        "decision_id": decision["decision_id"],
        "principal": "1000",
        "rate": "0.18",
        "months": 6,
        "kind": "seasonal",
        "start": date.today().isoformat(),
        "harvest_months": [7, 8],
    }
    assert c.post("/v1/loans", json=body, headers=auth(world["key_m"])).status_code == 404
    loan = c.post("/v1/loans", json=body, headers=auth(world["key_l"]))
    assert loan.status_code == 201, loan.text
    loan_id = loan.json()["loan_id"]
    principal = sum(float(i["principal"]) for i in loan.json()["schedule"])
    assert principal == pytest.approx(1000)
    pay = {"amount": "100", "paid_at": datetime.now(UTC).isoformat()}
    h = {**auth(world["key_l"]), "Idempotency-Key": "mpesa-0000001"}
    p1 = c.post(f"/v1/loans/{loan_id}/repayments", json=pay, headers=h)
    p2 = c.post(f"/v1/loans/{loan_id}/repayments", json=pay, headers=h)
    assert p1.status_code == 201 and p1.json()["created"] is True and p2.json()["created"] is False
    assert p2.json()["repayment_id"] == p1.json()["repayment_id"]
    status = c.get(f"/v1/loans/{loan_id}", headers=auth(world["key_l"])).json()
    assert status["bucket"] == "current" and float(status["outstanding_principal"]) < 1000
    assert c.get(f"/v1/loans/{loan_id}", headers=auth(world["key_m"])).status_code == 404
    par = c.get("/v1/portfolio", headers=auth(world["key_l"])).json()
    assert par["loans"] == 1 and float(par["par30"]) == 0
    assert c.get("/v1/portfolio", headers=auth(world["key_a"])).status_code == 403


def test_insufficient_data_is_a_decision_not_a_guess(world):
    c = world["client"]
    farm_b = world["farm_b"]
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    r = c.post(
        f"/v1/farms/{farm_b}/consents",
        json={"lender_id": str(world["lender"]), "expires_at": expires},
        headers=auth(world["key_b"]),
    )
    assert r.status_code == 201
    r = c.post(f"/v1/farms/{farm_b}/credit-limit", headers={**auth(world["key_l"]), "Idempotency-Key": "k-farm-b-01"})
    assert r.status_code == 201
    assert r.json()["status"] == "insufficient_data" and float(r.json()["limit"]) == 0 and r.json()["missing"]
