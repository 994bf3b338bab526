from __future__ import annotations

import re

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from farmtrust.settings import Settings
from tests.api.factories import farm_with_data, org_with_key


@pytest.fixture
def world(fresh_db_url, mqtt_url, tmp_path):
    """Two cooperatives with a farm each, two lenders, an admin; keys for all; farm A has 60 days of data."""
    with psycopg.connect(fresh_db_url) as conn:
        coop_a, key_a = org_with_key(conn, "cooperative", "Coop A")
        coop_b, key_b = org_with_key(conn, "cooperative", "Coop B")
        lender, key_l = org_with_key(conn, "lender", "Lender L")
        other_lender, key_m = org_with_key(conn, "lender", "Lender M")
        admin, key_admin = org_with_key(conn, "admin", "Ops")
        farm_a = farm_with_data(conn, cooperative_id=coop_a)
        farm_b = farm_with_data(conn, cooperative_id=coop_b, cattle=5, days=5)
        conn.commit()
    settings = Settings(db={"url": fresh_db_url}, mqtt={"url": mqtt_url}, data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        yield {
            "client": client,
            "db": fresh_db_url,
            "coop_a": coop_a,
            "coop_b": coop_b,
            "lender": lender,
            "other_lender": other_lender,
            "admin": admin,
            "farm_a": farm_a,
            "farm_b": farm_b,
            "key_a": key_a,
            "key_b": key_b,
            "key_l": key_l,
            "key_m": key_m,
            "key_admin": key_admin,
        }


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sign_in(client: TestClient, key: str) -> None:
    """Sign in to the dashboard as a browser does: the form's CSRF token, then the session cookie."""
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/login").text).group(1)
    response = client.post("/ui/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
