from __future__ import annotations

import pytest
from pydantic import ValidationError

from farmtrust.settings import MqttProtocol, Settings


def test_nested_environment_variables(monkeypatch, tmp_path):
    monkeypatch.setenv("FARMTRUST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FARMTRUST_DB__URL", "postgresql://u@db:5432/farmtrust")
    monkeypatch.setenv("FARMTRUST_MQTT__URL", "mqtts://broker.example:8883")
    monkeypatch.setenv("FARMTRUST_MQTT__PROTOCOL", "3.1.1")
    monkeypatch.setenv("FARMTRUST_API__PORT", "9000")
    s = Settings()
    assert s.db.url == "postgresql://u@db:5432/farmtrust"
    assert s.mqtt.tls and s.mqtt.host == "broker.example" and s.mqtt.port == 8883
    assert s.mqtt.protocol is MqttProtocol.V311
    assert s.api.port == 9000
    assert s.frame_dir == tmp_path / "frames"


def test_topic_root_and_share_group_come_from_the_environment(monkeypatch):
    from farmtrust.workers.ingest import subscription_topic

    for var in ("FARMTRUST_MQTT__TOPIC_ROOT", "FARMTRUST_MQTT__SHARE_GROUP"):
        monkeypatch.delenv(var, raising=False)
    assert (Settings().mqtt.topic_root, Settings().mqtt.share_group) == ("farmtrust/v1", "ingest")
    monkeypatch.setenv("FARMTRUST_MQTT__TOPIC_ROOT", "staging/farmtrust/v1")
    monkeypatch.setenv("FARMTRUST_MQTT__SHARE_GROUP", "staging-ingest")
    m = Settings().mqtt
    assert (m.topic_root, m.share_group) == ("staging/farmtrust/v1", "staging-ingest")
    topic = subscription_topic(MqttProtocol.V5, share_group=m.share_group, topic_root=m.topic_root)
    assert topic == "$share/staging-ingest/staging/farmtrust/v1/+/+/+"
    assert (
        subscription_topic(MqttProtocol.V311, share_group="x", topic_root=m.topic_root) == "staging/farmtrust/v1/+/+/+"
    )


def test_unset_urls_mean_embedded(monkeypatch):
    monkeypatch.delenv("FARMTRUST_DB__URL", raising=False)
    monkeypatch.delenv("FARMTRUST_MQTT__URL", raising=False)
    s = Settings()
    assert s.db.url is None and s.mqtt.url is None


@pytest.mark.parametrize(
    ("var", "value", "field"),
    [
        ("FARMTRUST_DB__URL", "mysql://x", "db.url"),
        ("FARMTRUST_MQTT__URL", "http://x", "mqtt.url"),
        ("FARMTRUST_API__PORT", "99999", "api.port"),
        ("FARMTRUST_MQTT__TOPIC_ROOT", "farmtrust/+/v1", "mqtt.topic_root"),
        ("FARMTRUST_MQTT__TOPIC_ROOT", "farmtrust//v1", "mqtt.topic_root"),
        ("FARMTRUST_MQTT__TOPIC_ROOT", "$SYS/farmtrust", "mqtt.topic_root"),
        ("FARMTRUST_MQTT__SHARE_GROUP", "a/b", "mqtt.share_group"),
        ("FARMTRUST_MQTT__SHARE_GROUP", "", "mqtt.share_group"),
    ],
)
def test_bad_values_name_the_field(monkeypatch, var, value, field):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert field in {".".join(map(str, e["loc"])) for e in info.value.errors()}
