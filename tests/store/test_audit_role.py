"""The application's database role (migration 0073): it appends to the audit log and can rewrite none of it.

The append-only triggers already refuse UPDATE, DELETE and TRUNCATE to everyone; these tests show the
refusal happens earlier, by privilege, for ``farmtrust_app``, and that the role cannot switch the triggers
off, while the API connected as a member of the role still decides, lends and takes repayments.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from farmtrust.settings import Settings
from store.audit import append_entry
from tests.api.factories import farm_with_data, org_with_key
from tests.signers import TEST_SIGNER

WHEN = datetime(2025, 4, 1, tzinfo=UTC)


def _as_app(conn: psycopg.Connection) -> None:
    conn.execute("SET ROLE farmtrust_app")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET kind = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log CASCADE",
        "UPDATE audit_tree_nodes SET hash = hash",
        "DELETE FROM audit_tree_nodes",
        "TRUNCATE audit_tree_nodes",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
        "ALTER TABLE audit_log DISABLE TRIGGER USER",
        "DELETE FROM schema_migrations",
    ],
)
def test_the_app_role_cannot_rewrite_the_log(fresh_db_url, statement):
    with psycopg.connect(fresh_db_url) as conn:
        append_entry(conn, signer=TEST_SIGNER, kind="test.role", payload={"i": 1}, created_at=WHEN)
        conn.commit()
        _as_app(conn)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_the_app_role_appends_and_the_tree_follows(fresh_db_url):
    with psycopg.connect(fresh_db_url) as conn:
        _as_app(conn)
        entries = [
            append_entry(conn, signer=TEST_SIGNER, kind="test.role", payload={"i": i}, created_at=WHEN)
            for i in range(3)
        ]
        conn.commit()
        assert [e.seq for e in entries] == [1, 2, 3]
        assert conn.execute("SELECT count(*) FROM audit_tree_nodes WHERE level = 0").fetchone()[0] == 3


@pytest.fixture
def app_login(fresh_db_url):
    """A login role in farmtrust_app and the database URL that connects as it."""
    name = f"ft_app_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE farmtrust_app")
    parts = urlsplit(fresh_db_url)
    yield urlunsplit(parts._replace(netloc=f"{name}@{parts.netloc.rpartition('@')[2]}"))
    with psycopg.connect(fresh_db_url, autocommit=True) as conn:
        conn.execute(f"DROP ROLE {name}")


def test_the_api_connected_as_the_app_role_lends_with_receipts(fresh_db_url, app_login, mqtt_url, tmp_path):
    with psycopg.connect(fresh_db_url) as conn:
        coop, key_c = org_with_key(conn, "cooperative", "Coop")
        lender, key_l = org_with_key(conn, "lender", "Lender")
        farm = farm_with_data(conn, cooperative_id=coop)
        conn.commit()
    settings = Settings(db={"url": app_login}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        with psycopg.connect(app_login) as conn:
            assert conn.execute("SELECT current_user").fetchone()[0] != "postgres"
        expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
        consent = c.post(
            f"/v1/farms/{farm}/consents",
            json={"lender_id": str(lender), "expires_at": expires},
            headers={"Authorization": f"Bearer {key_c}"},
        )
        assert consent.status_code == 201, consent.text
        lender_auth = {"Authorization": f"Bearer {key_l}"}
        decision = c.post(f"/v1/farms/{farm}/credit-limit", headers={**lender_auth, "Idempotency-Key": "role-limit-1"})
        assert decision.status_code == 201, decision.text
        assert decision.json()["receipt"]["index"] == decision.json()["audit_entry_seq"] - 1
        loan = c.post(
            "/v1/loans",
            json={
                "decision_id": decision.json()["decision_id"],
                "principal": "1000",
                "rate": "0.18",
                "months": 6,
                "kind": "annuity",
                "start": date.today().isoformat(),
            },
            headers=lender_auth,
        )
        assert loan.status_code == 201, loan.text
        paid = c.post(
            f"/v1/loans/{loan.json()['loan_id']}/repayments",
            json={"amount": "100", "paid_at": datetime.now(UTC).isoformat()},
            headers={**lender_auth, "Idempotency-Key": "role-pay-0001"},
        )
        assert paid.status_code == 201, paid.text
