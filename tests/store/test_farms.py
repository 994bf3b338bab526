import uuid
from decimal import Decimal

import pytest

from store.farms import FieldExistsError, add_field, create_farm, farm_exists
from store.tenants import create_organization

SQUARE = {"type": "Polygon", "coordinates": [[[3.0, 50.0], [3.001, 50.0], [3.001, 50.001], [3.0, 50.001], [3.0, 50.0]]]}


def test_create_farm_returns_the_stored_row(conn):
    coop = create_organization(conn, kind="cooperative", name=f"coop {uuid.uuid4()}")
    farm = create_farm(
        conn, name="Wierda", cooperative_id=coop, country="NL", region="Drenthe", declared_herd={"sheep": 10}
    )
    row = conn.execute(
        "SELECT name, country, region, declared_herd, cooperative_id FROM farms WHERE id = %s", (farm.id,)
    ).fetchone()
    assert row == ("Wierda", "NL", "Drenthe", {"sheep": 10}, coop)
    assert (farm.name, farm.country, farm.region, farm.declared_herd, farm.cooperative_id) == row
    assert farm.created_at.tzinfo is not None
    assert farm_exists(conn, farm_id=farm.id) and not farm_exists(conn, farm_id=uuid.uuid4())


def test_a_farm_without_cooperative_or_herd(conn):
    farm = create_farm(conn, name="Lone farm")
    assert (farm.cooperative_id, farm.country, farm.declared_herd) == (None, None, {})


def test_add_field_and_refuse_a_second_with_the_same_external_id(conn):
    farm = create_farm(conn, name="Fields farm").id
    field = add_field(
        conn,
        farm_id=farm,
        external_id="P-1",
        name="Maize #1",
        geometry=SQUARE,
        declared_crop="maize",
        declared_area_ha=Decimal("1.5"),
    )
    assert (field.farm_id, field.external_id, field.name, field.declared_crop) == (farm, "P-1", "Maize #1", "maize")
    assert field.geometry == SQUARE and field.declared_area_ha == Decimal("1.5000")
    with pytest.raises(FieldExistsError, match="already has a field 'P-1'"):
        add_field(conn, farm_id=farm, external_id="P-1", geometry=SQUARE)
    # nothing was written, and the transaction is still usable
    assert conn.execute("SELECT count(*) FROM fields WHERE farm_id = %s", (farm,)).fetchone()[0] == 1
    other = create_farm(conn, name="Other farm").id
    assert add_field(conn, farm_id=other, external_id="P-1", geometry=SQUARE).farm_id == other
