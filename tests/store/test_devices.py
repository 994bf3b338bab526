"""store.ingest_devices: the one device insert (refuse or replace a duplicate) and the device reads."""

import uuid

import pytest

from store.farms import create_farm, get_farm
from store.ingest_devices import (
    DeviceExistsError,
    device_farm,
    ensure_farm,
    insert_device,
    list_devices,
    register_device,
    revoke_device,
    rotate_device_key,
)

KEY_A, KEY_B = bytes([0xA]) * 32, bytes([0xB]) * 32


def test_insert_refuses_a_duplicate_and_keeps_the_stored_device(conn):
    farm = create_farm(conn, name="One").id
    row = insert_device(conn, device_id="dup-1", farm_id=farm, public_key=KEY_A)
    assert (row.id, row.farm_id, row.status, row.public_key, row.last_seen_at) == ("dup-1", farm, "active", KEY_A, None)
    other = create_farm(conn, name="Two").id
    with pytest.raises(DeviceExistsError, match="dup-1"):
        insert_device(conn, device_id="dup-1", farm_id=other, public_key=KEY_B)
    # the transaction is still usable and nothing changed
    assert list_devices(conn, farm_ids=[farm]) == [row]
    assert device_farm(conn, device_id="dup-1") == farm


def test_replace_moves_rekeys_and_reactivates(conn):
    farm, other = create_farm(conn, name="One").id, create_farm(conn, name="Two").id
    insert_device(conn, device_id="re-1", farm_id=farm, public_key=KEY_A)
    revoked = revoke_device(conn, device_id="re-1")
    assert revoked is not None and revoked.status == "revoked"
    register_device(conn, device_id="re-1", farm_id=other, public_key=KEY_B)
    (row,) = list_devices(conn, farm_ids=[other])
    assert (row.farm_id, row.status, row.public_key) == (other, "active", KEY_B)
    assert list_devices(conn, farm_ids=[farm]) == []


def test_a_key_must_be_32_bytes_and_unknown_devices_are_none(conn):
    farm = create_farm(conn, name="Keys").id
    with pytest.raises(ValueError, match="32-byte"):
        insert_device(conn, device_id="short", farm_id=farm, public_key=b"\x01" * 31)
    assert rotate_device_key(conn, device_id="nobody", public_key=KEY_A) is None
    assert revoke_device(conn, device_id="nobody") is None
    assert device_farm(conn, device_id="nobody") is None


def test_list_devices_of_several_farms_by_id(conn):
    one, two = create_farm(conn, name="One").id, create_farm(conn, name="Two").id
    for device_id, farm in (("c", one), ("a", two), ("b", one)):
        insert_device(conn, device_id=f"{device_id}-{one.hex[:4]}", farm_id=farm, public_key=KEY_A)
    assert [d.id[0] for d in list_devices(conn, farm_ids=[one, two])] == ["a", "b", "c"]


def test_ensure_farm_creates_once_through_create_farm(conn):
    farm_id = uuid.uuid4()
    ensure_farm(conn, farm_id=farm_id, name="First name")
    ensure_farm(conn, farm_id=farm_id, name="Second name")  # exists: left as it is
    farm = get_farm(conn, farm_id=farm_id)
    assert farm is not None and (farm.name, farm.declared_herd) == ("First name", {})
