"""usecases.farms: the farms a caller may see, page by page; fields; consents."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from store.farms import FieldExistsError
from store.tenants import Principal, TenantError, create_organization, farm_visible
from usecases.errors import FarmNotFoundError
from usecases.farms import (
    add_farm_field,
    create_member_farm,
    farm_fields,
    grant_lender_consent,
    load_farm,
    visible_farms,
)

SQUARE = {"type": "Polygon", "coordinates": [[[3.0, 50.0], [3.001, 50.0], [3.001, 50.001], [3.0, 50.001], [3.0, 50.0]]]}


def _principal(conn, kind):
    org = create_organization(conn, kind=kind, name=f"{kind} {uuid.uuid4()}")
    return Principal(org, kind, "x", uuid.uuid4())


def test_visible_farms_page_by_id(conn):
    coop = _principal(conn, "cooperative")
    made = sorted(
        (create_member_farm(conn, cooperative_id=coop.organization_id, name=f"F{i}") for i in range(3)),
        key=lambda f: f.id,
    )
    first = visible_farms(conn, principal=coop, limit=2)
    assert (first.farms, first.total, first.has_more) == (made[:2], 3, True)
    rest = visible_farms(conn, principal=coop, after=made[1].id, limit=2)
    assert (rest.farms, rest.total, rest.has_more) == (made[2:], 3, False)
    stranger = visible_farms(conn, principal=_principal(conn, "cooperative"))
    assert (stranger.farms, stranger.total, stranger.has_more) == ([], 0, False)


def test_load_farm_fields_and_a_duplicate_field(conn):
    coop = _principal(conn, "cooperative")
    farm = create_member_farm(
        conn, cooperative_id=coop.organization_id, name="Wierda", country="NL", declared_herd={"sheep": 3}
    )
    assert load_farm(conn, farm_id=farm.id) == farm
    missing = uuid.uuid4()
    with pytest.raises(FarmNotFoundError, match=str(missing)):
        load_farm(conn, farm_id=missing)
    field = add_farm_field(conn, farm_id=farm.id, geometry=SQUARE, external_id="P1", name="North")
    with pytest.raises(FieldExistsError, match="P1"):
        add_farm_field(conn, farm_id=farm.id, geometry=SQUARE, external_id="P1")
    assert farm_fields(conn, farm_id=farm.id) == [field]


def test_grant_lender_consent_lets_the_lender_see_the_member_farm(conn):
    coop, lender = _principal(conn, "cooperative"), _principal(conn, "lender")
    farm = create_member_farm(conn, cooperative_id=coop.organization_id, name="Consenting").id
    assert not farm_visible(conn, principal=lender, farm_id=farm)
    grant_lender_consent(
        conn,
        farm_id=farm,
        lender_id=lender.organization_id,
        cooperative_id=coop.organization_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
        scope=("records",),
    )
    assert farm_visible(conn, principal=lender, farm_id=farm)
    other = _principal(conn, "cooperative")
    with pytest.raises(TenantError):
        grant_lender_consent(
            conn,
            farm_id=farm,
            lender_id=lender.organization_id,
            cooperative_id=other.organization_id,
            expires_at=datetime.now(UTC) + timedelta(days=30),
            scope=("records",),
        )
