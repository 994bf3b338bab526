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


def test_get_list_and_cooperative_farms(conn):
    from store.farms import cooperative_farms, get_farm, list_farms

    coop = create_organization(conn, kind="cooperative", name=f"coop {uuid.uuid4()}")
    made = [create_farm(conn, name=name, cooperative_id=coop) for name in ("Zeta", "Alpha", "Mid")]
    create_farm(conn, name="Outsider")
    assert [f.name for f in cooperative_farms(conn, cooperative_id=coop)] == ["Alpha", "Mid", "Zeta"]
    by_id = sorted(made, key=lambda f: f.id)
    ids = [f.id for f in made]
    assert list_farms(conn, farm_ids=ids) == by_id
    assert list_farms(conn, farm_ids=ids, after=by_id[0].id, limit=1) == [by_id[1]]
    assert list_farms(conn, farm_ids=[]) == []
    assert get_farm(conn, farm_id=made[0].id) == made[0] and get_farm(conn, farm_id=uuid.uuid4()) is None


def test_create_farm_with_an_id_refuses_a_duplicate_unless_exist_ok(conn):
    import psycopg

    farm_id = uuid.uuid4()
    first = create_farm(conn, name="Given id", farm_id=farm_id)
    assert first.id == farm_id
    assert create_farm(conn, name="Other name", farm_id=farm_id, exist_ok=True) == first
    with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
        create_farm(conn, name="Again", farm_id=farm_id)


def test_list_fields_by_external_id(conn):
    from store.farms import list_fields

    farm = create_farm(conn, name="Listed fields").id
    b = add_field(conn, farm_id=farm, external_id="b", geometry=SQUARE)
    a = add_field(conn, farm_id=farm, external_id="a", geometry=SQUARE, declared_area_ha=Decimal("2"))
    assert list_fields(conn, farm_id=farm) == [a, b]
    assert a.declared_area_ha == Decimal("2.0000") and a.geometry == SQUARE
