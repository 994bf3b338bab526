import uuid

import pytest

from store.farms import create_farm
from usecases.devices import DeviceKeyError, register_farm_device
from usecases.errors import FarmNotFoundError


def _device(conn, device_id):
    return conn.execute("SELECT farm_id, public_key, status FROM devices WHERE id = %s", (device_id,)).fetchone()


def test_register_then_rekey_a_revoked_device(conn):
    farm = create_farm(conn, name="device farm").id
    device = f"cam-{uuid.uuid4().hex[:8]}"
    register_farm_device(conn, device_id=device, farm_id=farm, public_key=b"\x01" * 32)
    assert _device(conn, device) == (farm, b"\x01" * 32, "active")
    conn.execute("UPDATE devices SET status = 'revoked' WHERE id = %s", (device,))
    register_farm_device(conn, device_id=device, farm_id=farm, public_key=b"\x02" * 32)
    assert _device(conn, device) == (farm, b"\x02" * 32, "active")


def test_unknown_farm_and_short_key_are_refused_and_store_nothing(conn):
    device = f"cam-{uuid.uuid4().hex[:8]}"
    missing = uuid.uuid4()
    with pytest.raises(FarmNotFoundError, match=f"Farm {missing} does not exist"):
        register_farm_device(conn, device_id=device, farm_id=missing, public_key=b"\x01" * 32)
    farm = create_farm(conn, name="device farm").id
    with pytest.raises(DeviceKeyError, match=r"must be 32 bytes .* got 31 bytes"):
        register_farm_device(conn, device_id=device, farm_id=farm, public_key=b"\x01" * 31)
    assert _device(conn, device) is None


def test_provision_refuses_a_taken_id_rotate_and_revoke_need_a_device(conn):
    from store.ingest_devices import DeviceExistsError
    from usecases.devices import farm_devices, provision_device, revoke_device, rotate_key
    from usecases.errors import DeviceNotFoundError

    farm = create_farm(conn, name="provisioned").id
    device = f"gw-{uuid.uuid4().hex[:8]}"
    row = provision_device(conn, farm_id=farm, device_id=device, public_key=b"\x01" * 32)
    with pytest.raises(DeviceExistsError):
        provision_device(conn, farm_id=farm, device_id=device, public_key=b"\x02" * 32)
    assert farm_devices(conn, farm_id=farm) == [row]  # the first key stays
    assert rotate_key(conn, device_id=device, public_key=b"\x03" * 32).public_key == b"\x03" * 32
    assert revoke_device(conn, device_id=device).status == "revoked"
    with pytest.raises(DeviceNotFoundError, match="'nobody'"):
        rotate_key(conn, device_id="nobody", public_key=b"\x03" * 32)
    with pytest.raises(DeviceNotFoundError):
        revoke_device(conn, device_id="nobody")
    with pytest.raises(DeviceKeyError):
        rotate_key(conn, device_id=device, public_key=b"\x03" * 3)


def test_a_device_is_visible_only_to_its_farms_cooperative(conn):
    from store.tenants import Principal, create_organization
    from usecases.devices import provision_device, visible_device_farm

    coop = create_organization(conn, kind="cooperative", name=f"c {uuid.uuid4()}")
    other = create_organization(conn, kind="cooperative", name=f"o {uuid.uuid4()}")
    farm = create_farm(conn, name="member", cooperative_id=coop).id
    device = f"gw-{uuid.uuid4().hex[:8]}"
    provision_device(conn, farm_id=farm, device_id=device, public_key=b"\x01" * 32)
    member = Principal(coop, "cooperative", "c", uuid.uuid4())
    stranger = Principal(other, "cooperative", "o", uuid.uuid4())
    assert visible_device_farm(conn, principal=member, device_id=device) == farm
    assert visible_device_farm(conn, principal=stranger, device_id=device) is None
    assert visible_device_farm(conn, principal=member, device_id="nobody") is None
