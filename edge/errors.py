"""Errors raised by the edge agent and the wire protocol.

Exception tree::

    EdgeError
    ├── ConfigError          (ValueError)       edge.toml is missing a value or has a wrong one
    ├── KeyFileError         (ValueError)       a device key file is missing or malformed
    ├── ProtocolError        (ValueError)       a message does not follow the wire protocol
    │   └── SignatureError                      the Ed25519 signature does not verify
    ├── SensorError          (RuntimeError)     a sensor driver failed to produce a reading
    └── CameraError          (RuntimeError)     a camera source cannot be opened or read
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base class of every edge error; its message says what happened and what to do."""


class ConfigError(EdgeError, ValueError):
    """The agent configuration has a missing or wrong value."""


class KeyFileError(EdgeError, ValueError):
    """A device key file is missing or malformed."""


class ProtocolError(EdgeError, ValueError):
    """A message does not follow the wire protocol (bad JSON, wrong types, bad frame header).

    ``reason`` is the :class:`edge.protocol.QuarantineReason` value the server records for it.
    """

    def __init__(self, message: str, *, reason: str = "invalid_schema") -> None:
        """Keep the quarantine reason code next to the message."""
        super().__init__(message)
        self.reason = reason


class SignatureError(ProtocolError):
    """A message's Ed25519 signature does not verify against the device's public key."""

    def __init__(self, message: str, *, reason: str = "bad_signature") -> None:
        """Default the reason code to ``bad_signature``."""
        super().__init__(message, reason=reason)


class SensorError(EdgeError, RuntimeError):
    """A sensor driver failed to produce a reading."""


class CameraError(EdgeError, RuntimeError):
    """A camera source cannot be opened or read."""
