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
    ],
)
def test_bad_values_name_the_field(monkeypatch, var, value, field):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError) as info:
        Settings()
    assert field in {".".join(map(str, e["loc"])) for e in info.value.errors()}
