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
