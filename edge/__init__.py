"""FarmTrust edge agent: signed, spooled, at-least-once telemetry, frames and counts over MQTT.

Only paho-mqtt, cryptography, opencv, numpy and pydantic are imported here (the ``edge`` extra).
"""

from edge.agent import Agent, agent_from_config
from edge.config import AgentConfig, load_config
from edge.errors import CameraError, ConfigError, EdgeError, KeyFileError, ProtocolError, SensorError, SignatureError
from edge.keys import DeviceKey
from edge.protocol import (
    MessageKind,
    QuarantineReason,
    build_envelope,
    decode,
    parse_topic,
    topic_for,
    uuid7,
    verify,
)
from edge.publisher import Backoff, MqttOptions, Publisher
from edge.sensors import CommandDriver, SimulatedDriver
from edge.spool import Spool

__all__ = [
    "Agent",
    "AgentConfig",
    "Backoff",
    "CameraError",
    "CommandDriver",
    "ConfigError",
    "DeviceKey",
    "EdgeError",
    "KeyFileError",
    "MessageKind",
    "MqttOptions",
    "ProtocolError",
    "Publisher",
    "QuarantineReason",
    "SensorError",
    "SignatureError",
    "SimulatedDriver",
    "Spool",
    "agent_from_config",
    "build_envelope",
    "decode",
    "load_config",
    "parse_topic",
    "topic_for",
    "uuid7",
    "verify",
]
