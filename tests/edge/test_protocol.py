"""The wire protocol: topics, ids, signing over the bytes as sent, decoding errors, exact bytes through Mosquitto."""

from __future__ import annotations

import struct
import threading
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from edge.errors import ProtocolError, SignatureError
from edge.keys import DeviceKey
from edge.protocol import (
    METRIC_RANGES,
    MessageKind,
    QuarantineReason,
    Reading,
    build_envelope,
    check_reading,
    decode,
    encode_binary,
    parse_topic,
    reading_dict,
    sha256_hex,
    signed_bytes,
    topic_for,
    uuid7,
    verify,
)

FARM = uuid.UUID("6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab")
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KEY = DeviceKey.from_seed(bytes(range(32)))


def telemetry(seq=0, **kw):
    body = {"readings": [reading_dict(metric="barn_temperature_c", value=21.5, time=AT)]}
    return build_envelope(
        kind=MessageKind.TELEMETRY,
        farm_id=FARM,
        device_id="barn-1",
        seq=seq,
        body=body,
        signer=KEY,
        device_time=AT,
        message_id=uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057"),
        **kw,
    )


def test_envelope_bytes_are_stable_and_signature_is_last():
    payload = telemetry()
    assert payload.startswith(
        b'{"schema_version":1,"message_id":"01890a5d-ac96-774b-bcce-b302099a8057",'
        b'"farm_id":"6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab","device_id":"barn-1","kind":"telemetry","seq":0,'
        b'"device_time":"2026-05-01T12:00:00Z","body":{"readings":[{"metric":"barn_temperature_c","value":21.5,'
        b'"unit":"degC","time":"2026-05-01T12:00:00Z"}]},"signature":"'
    )
    assert payload == telemetry()  # Ed25519 is deterministic
    decoded = decode(payload)
    assert decoded.signed == signed_bytes(payload) == payload[: payload.index(b',"signature"')] + b"}"
    verify(decoded, KEY.public_raw)


def test_topics_round_trip_and_bad_topics_are_rejected():
    topic = topic_for(farm_id=FARM, device_id="barn-1", kind="frame")
    assert topic == f"farmtrust/v1/{FARM}/barn-1/frame"
    assert parse_topic(topic) == (str(FARM), "barn-1", MessageKind.FRAME)
    for bad in ("farmtrust/v1/x/barn-1/frame", f"farmtrust/v2/{FARM}/barn-1/frame", f"farmtrust/v1/{FARM}/d/video"):
        with pytest.raises(ProtocolError, match="Topic") as err:
            parse_topic(bad)
        assert err.value.reason == "bad_topic"


def test_uuid7_is_version_7_and_sorts_by_time():
    ids = [uuid7(unix_ms=1_700_000_000_000 + i) for i in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids, key=lambda u: u.bytes)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "malformed"),
        (b"[1, 2]", "invalid_schema"),
        (telemetry().replace(b'"schema_version":1', b'"schema_version":2'), "unsupported_version"),
        (telemetry().replace(b'"seq":0', b'"seq":"0"'), "invalid_schema"),
        (telemetry().replace(b'"value":21.5', b'"value":"21.5"'), "invalid_schema"),
        (
            telemetry().replace(b'"device_time":"2026-05-01T12:00:00Z"', b'"device_time":"2026-05-01T12:00:00"'),
            "invalid_schema",
        ),  # naive time
        (telemetry().replace(b'"seq":0', b'"seq":0,"extra":1'), "invalid_schema"),
        (b"{" + b" " * 1_048_576 + b"}", "oversize"),
        (b"FTB1" + struct.pack(">I", 999) + b"{}", "malformed"),
    ],
)
def test_decode_names_the_reason(payload, reason):
    with pytest.raises(ProtocolError) as err:
        decode(payload)
    assert err.value.reason == reason


def test_tampered_or_foreign_signature_fails():
    payload = telemetry().replace(b'"value":21.5', b'"value":25.5')
    with pytest.raises(SignatureError, match="does not verify"):
        verify(decode(payload), KEY.public_raw)
    with pytest.raises(SignatureError):
        verify(decode(telemetry()), DeviceKey.generate().public_raw)


def test_binary_frame_carries_raw_jpeg_and_checks_its_hash():
    jpeg = b"\xff\xd8" + bytes(range(256)) * 4 + b"\xff\xd9"
    body = {"camera_id": "gate", "captured_at": "2026-05-01T12:00:00Z", "sha256": sha256_hex(jpeg), "bytes": len(jpeg)}
    header = build_envelope(kind=MessageKind.FRAME, farm_id=FARM, device_id="barn-1", seq=1, body=body, signer=KEY)
    payload = encode_binary(header, jpeg)
    assert payload.endswith(jpeg) and len(payload) == 8 + len(header) + len(jpeg)  # no base64
    decoded = decode(payload)
    verify(decoded, KEY.public_raw)
    assert decoded.blob == jpeg
    with pytest.raises(ProtocolError) as err:
        decode(payload[:-1] + b"\x00")
    assert err.value.reason == "hash_mismatch"


@pytest.mark.parametrize(
    ("metric", "value", "unit", "reason"),
    [
        ("humidity_pct", 55.0, "%", None),
        ("humidity_pct", 101.0, "%", "out_of_range"),
        ("barn_temperature_c", float("nan"), "degC", "out_of_range"),
        ("barn_temperature_c", 20.0, "degF", "wrong_unit"),
        ("gps_lat_deg", -91.0, "deg", "out_of_range"),
        ("soil_ph", 6.0, "pH", "unknown_metric"),
    ],
)
def test_physical_ranges(metric, value, unit, reason):
    assert check_reading(Reading(metric=metric, value=value, unit=unit, time=AT)) == reason


def test_every_contract_metric_has_a_range_and_every_reason_is_documented():
    assert set(METRIC_RANGES) == {
        "barn_temperature_c",
        "humidity_pct",
        "water_flow_l_min",
        "feed_weight_kg",
        "gps_lat_deg",
        "gps_lon_deg",
    }
    assert all(member.__doc__ for member in QuarantineReason)


def test_exact_envelope_bytes_through_a_real_mosquitto(mqtt_url):
    port = int(mqtt_url.rsplit(":", 1)[1])
    topic = topic_for(farm_id=uuid.uuid4(), device_id="barn-1", kind=MessageKind.TELEMETRY)
    got, ready = [], threading.Event()
    sub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    sub.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: ready.set()
    sub.on_message = lambda c, u, m: got.append(m.payload)
    sub.connect("127.0.0.1", port)
    sub.loop_start()
    try:
        assert ready.wait(10)
        pub = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        pub.connect("127.0.0.1", port)
        pub.loop_start()
        pub.publish(topic, telemetry(), qos=1).wait_for_publish(10)
        pub.disconnect()
        pub.loop_stop()
        for _ in range(100):
            if got:
                break
            threading.Event().wait(0.05)
    finally:
        sub.disconnect()
        sub.loop_stop()
    assert got == [telemetry()]


def _telemetry_on_days(days):
    """A signed telemetry message with one reading at noon UTC on each of ``days`` consecutive days."""
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    readings = [
        reading_dict(metric="barn_temperature_c", value=20.0, time=start + timedelta(days=d)) for d in range(days)
    ]
    return build_envelope(
        kind=MessageKind.TELEMETRY,
        farm_id=FARM,
        device_id="barn-1",
        seq=0,
        body={"readings": readings},
        signer=KEY,
        device_time=AT,
    )


def test_a_telemetry_message_may_cover_a_month_of_days_but_not_more():
    assert len({r.time.date() for r in decode(_telemetry_on_days(31)).message.body.readings}) == 31
    with pytest.raises(ProtocolError, match="32 distinct UTC days, more than 31") as err:
        decode(_telemetry_on_days(32))
    assert err.value.reason == "invalid_schema"


def test_readings_late_in_one_utc_day_and_early_in_the_next_are_two_days():
    # 23:59 UTC and 00:01 UTC the next day: two days; 31 such pairs are 62 days.
    late = datetime(2026, 1, 1, 23, 59, tzinfo=UTC)
    times = [late + timedelta(days=d) for d in range(31)] + [late + timedelta(days=d, minutes=2) for d in range(31)]
    body = {"readings": [reading_dict(metric="humidity_pct", value=50.0, time=t) for t in times]}
    payload = build_envelope(
        kind=MessageKind.TELEMETRY, farm_id=FARM, device_id="barn-1", seq=0, body=body, signer=KEY, device_time=AT
    )
    with pytest.raises(ProtocolError, match="32 distinct UTC days"):
        decode(payload)


def _count(species):
    thumb = b"\xff\xd8thumb\xff\xd9"
    body = {
        "camera_id": "pen",
        "captured_at": "2026-05-01T11:58:00Z",
        "counts": {species: 3},
        "model_sha256": "a" * 64,
        "frame_sha256": "b" * 64,
        "phash": "ffd8a0c0e0f0f8fc",
        "sha256": sha256_hex(thumb),
        "bytes": len(thumb),
    }
    header = build_envelope(kind=MessageKind.COUNT, farm_id=FARM, device_id="barn-1", seq=0, body=body, signer=KEY)
    return encode_binary(header, thumb)


@pytest.mark.parametrize("length", [65, 6400])
def test_species_names_and_metric_keys_longer_than_64_characters_are_refused(length):
    assert decode(_count("s" * 64)).message.body.counts == {"s" * 64: 3}
    with pytest.raises(ProtocolError) as err:
        decode(_count("s" * length))
    assert err.value.reason == "invalid_schema"
    metric = telemetry().replace(b'"metric":"barn_temperature_c"', b'"metric":"' + b"m" * length + b'"')
    with pytest.raises(ProtocolError) as err:
        decode(metric)
    assert err.value.reason == "invalid_schema"


def test_topics_under_another_root():
    topic = topic_for(farm_id=FARM, device_id="barn-1", kind="count", root="staging/ft")
    assert topic == f"staging/ft/{FARM}/barn-1/count"
    assert parse_topic(topic, root="staging/ft") == (str(FARM), "barn-1", MessageKind.COUNT)
    for other_root in ("farmtrust/v1", "staging", "staging/ft/x"):
        with pytest.raises(ProtocolError) as err:
            parse_topic(topic, root=other_root)
        assert err.value.reason == "bad_topic"
