"""Device key pairs: Ed25519, private key as PEM (mode 0600), public key as 32 raw bytes (hex)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.errors import KeyFileError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceKey:
    """A device's Ed25519 private key; implements :class:`edge.protocol.Signer`."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> DeviceKey:
        """Make a new random key pair."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> DeviceKey:
        """Rebuild a key from its 32-byte seed (deterministic simulated devices use this)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        """Read a PEM private key written by :meth:`save`.

        Raises:
            KeyFileError: the file is missing or is not an unencrypted Ed25519 PEM key.
        """
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise KeyFileError(f"Key file {path} does not exist; create it with `farmtrust edge keygen`") from None
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"Key file {path} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"Key file {path} holds a {type(key).__name__}; FarmTrust devices use Ed25519")
        return cls(key)

    def save(self, path: Path) -> None:
        """Write the private key as PEM, readable by the owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        log.info("wrote device key %s", path)

    @property
    def public_raw(self) -> bytes:
        """The 32-byte raw public key, as stored in ``devices.public_key``."""
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        return self.private.sign(data)
