import uuid
from datetime import UTC, datetime
from decimal import Decimal

from store.tenants import authenticate
from usecases.demo_seed import DemoParcel, seed_demo


def _square(x):
    return {"type": "Polygon", "coordinates": [[[x, 50.0], [x + 0.001, 50.0], [x + 0.001, 50.001], [x, 50.0]]]}


PARCELS = [
    DemoParcel(parcel_id="P1", crop_name="Maize", area_ha=Decimal("3.0000"), geometry=_square(3.0)),
    DemoParcel(parcel_id="P2", crop_name="Potatoes", area_ha=Decimal("2.0000"), geometry=_square(3.01)),
    DemoParcel(parcel_id="P3", crop_name="Permanent grass crops", area_ha=Decimal("1.2345"), geometry=_square(3.02)),
    DemoParcel(parcel_id="P4", crop_name="Sugar beet", area_ha=Decimal("0.5000"), geometry=_square(3.03)),
    DemoParcel(parcel_id="P5", crop_name="Maize", area_ha=Decimal("0.1999"), geometry=_square(3.04)),
]


def test_seed_demo_deals_fields_registers_devices_and_grants_consent(conn):
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    tag = uuid.uuid4().hex[:6]
    seeded = seed_demo(conn, run_tag=tag, parcels=PARCELS, now=now)
    cast = seeded.cast
    assert seeded.fields == 4  # P5 is under 0.2 ha
    assert [f.name for f in cast.farms] == ["Wierda sheep farm", "Hoekstra sheep farm", "Bakker mixed farm"]
    f1, f2, f3 = cast.farms
    fields = conn.execute(
        "SELECT farm_id, external_id, name, declared_crop, declared_area_ha FROM fields WHERE farm_id = ANY(%s) "
        "ORDER BY external_id",
        ([f.farm_id for f in cast.farms],),
    ).fetchall()
    # dealt in turn; the third farm declares 1.6 x its area (1.2345 x 1.6 = 1.9752); LPIS names -> policy crops
    assert fields == [
        (f1.farm_id, "P1", "Maize #P1", "maize", Decimal("3.0000")),
        (f2.farm_id, "P2", "Potatoes #P2", "potato", Decimal("2.0000")),
        (f3.farm_id, "P3", "Permanent grass crops #P3", "grass", Decimal("1.9752")),
        (f1.farm_id, "P4", "Sugar beet #P4", None, Decimal("0.5000")),
    ]
    farms = conn.execute(
        "SELECT id, cooperative_id, declared_herd, country FROM farms WHERE id = ANY(%s)",
        ([f.farm_id for f in cast.farms],),
    ).fetchall()
    herds = {row[0]: row[2] for row in farms}
    assert herds == {f1.farm_id: {"sheep": 10}, f2.farm_id: {"sheep": 5}, f3.farm_id: {"sheep": 12}}
    assert {(row[1], row[3]) for row in farms} == {(cast.cooperative_id, "NL")}
    devices = conn.execute(
        "SELECT id, farm_id, public_key, status FROM devices WHERE farm_id = ANY(%s) ORDER BY id",
        ([f.farm_id for f in cast.farms],),
    ).fetchall()
    assert [(d[0], d[1], bytes(d[2]), d[3]) for d in devices] == [
        (f"demo-{tag}-farm{i}-cam", f.farm_id, f.device.key.public_raw, "active") for i, f in enumerate(cast.farms, 1)
    ]
    consents = conn.execute(
        "SELECT farm_id, granted_by, expires_at FROM consents WHERE lender_id = %s AND farm_id = ANY(%s)",
        (cast.lender_id, [f.farm_id for f in cast.farms]),
    ).fetchall()
    assert sorted(consents) == sorted(
        (f.farm_id, cast.cooperative_id, datetime(2026, 7, 30, 12, tzinfo=UTC)) for f in cast.farms
    )  # 90 days after 1 May
    for role, org in (("cooperative", cast.cooperative_id), ("lender", cast.lender_id), ("admin", cast.admin_id)):
        principal = authenticate(conn, token=seeded.api_keys[role])
        assert principal is not None and (principal.organization_id, principal.kind) == (org, role)


def test_a_second_run_reuses_the_organisations_but_not_the_farms(conn):
    now = datetime(2026, 5, 1, tzinfo=UTC)
    first = seed_demo(conn, run_tag=uuid.uuid4().hex[:6], parcels=PARCELS[:1], now=now).cast
    second = seed_demo(conn, run_tag=uuid.uuid4().hex[:6], parcels=PARCELS[:1], now=now).cast
    assert (first.cooperative_id, first.lender_id, first.admin_id) == (
        second.cooperative_id,
        second.lender_id,
        second.admin_id,
    )
    assert {f.farm_id for f in first.farms}.isdisjoint(f.farm_id for f in second.farms)
