from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt

from farmtrust.settings import MqttSettings


def test_publish_and_receive_through_the_real_broker(mqtt_url):
    settings = MqttSettings(url=mqtt_url)
    topic = f"farmtrust/test/{uuid.uuid4().hex}"
    got: list[bytes] = []
    received = threading.Event()
    subscribed = threading.Event()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    sub.on_message = lambda c, u, m: (got.append(m.payload), received.set())
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(settings.host, settings.port)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    assert subscribed.wait(5)

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    pub.connect(settings.host, settings.port)
    pub.loop_start()
    pub.publish(topic, b"\x00hello\xff", qos=1).wait_for_publish(5)
    assert received.wait(5)
    assert got == [b"\x00hello\xff"]
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
