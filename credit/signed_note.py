r"""C2SP signed notes (Ed25519, type 0x01) and tlog-cosignature/v1 witness cosignatures (type 0x04).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)``. The key ID is
``SHA-256(name || 0x0A || type || public key)[:4]``. Keys travel as Go-style *vkeys*
``<name>+<hex key ID>+base64(type || public key)`` and private *skeys*
``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)`` (golang.org/x/mod/sumdb/note).

A cosignature signs ``"cosignature/v1\ntime <t>\n" + note text`` and carries
``key ID || u64be(t) || signature`` (c2sp.org/tlog-cosignature). Ed25519 comes from ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from credit.errors import AuditError

ED25519 = 0x01
"""Signature type of a log's own Ed25519 note signature."""
COSIGNATURE_V1 = 0x04
"""Signature type of a timestamped Ed25519 witness cosignature (tlog-cosignature)."""
MAX_SIGNATURES = 100
_DASH = "— "

__all__ = [
    "COSIGNATURE_V1",
    "ED25519",
    "MAX_SIGNATURES",
    "NoteKey",
    "NoteSignature",
    "SignedNote",
    "cosign",
    "format_note",
    "generate_skey",
    "key_id",
    "note_key",
    "parse_note",
    "parse_skey",
    "parse_vkey",
    "public_vkey",
    "sign_note",
    "skey_from_seed",
    "verify_cosignature",
    "verify_note",
]


@dataclass(frozen=True)
class NoteKey:
    """A public key as a note verifier knows it: name, key ID, signature type, raw 32-byte key."""

    name: str
    key_id: bytes
    kind: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The key in vkey text form."""
        encoded = base64.b64encode(bytes([self.kind]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, the 4-byte key ID and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, newline-terminated."""
        return f"{_DASH}{self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class SignedNote:
    """A parsed note: its text (with the final newline) and its signature lines in order."""

    text: str
    signatures: tuple[NoteSignature, ...]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise AuditError(f"note key name {name!r} must be non-empty, with no spaces and no '+'")


def key_id(name: str, kind: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || kind || public key)[:4]``."""
    _check_name(name)
    return hashlib.sha256(name.encode() + b"\n" + bytes([kind]) + public_key).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise AuditError(f"{what} is not valid base64") from None


def parse_vkey(vkey: str) -> NoteKey:
    """Parse ``<name>+<hex key ID>+base64(type || public key)``; the key ID must match.

    Raises:
        AuditError: the text is malformed, the type is not Ed25519 or cosignature/v1, or the ID is wrong.
    """
    parts = vkey.strip().split("+", 2)  # base64 may hold "+"; a name may not
    if len(parts) != 3 or len(parts[1]) != 8:
        raise AuditError("verifier key must read <name>+<8 hex digits>+<base64 key>")
    name, hex_id, encoded = parts
    raw = _b64(encoded, "verifier key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise AuditError("verifier key must be an Ed25519 key (type 0x01 or 0x04, 32 bytes)")
    key = NoteKey(name, key_id(name, raw[0], raw[1:]), raw[0], raw[1:])
    if key.key_id.hex() != hex_id.lower():
        raise AuditError(f"verifier key {name}: its key ID {hex_id} does not match the key ({key.key_id.hex()})")
    return key


def parse_skey(skey: str) -> tuple[NoteKey, bytes]:
    """Parse ``PRIVATE+KEY+<name>+<hex key ID>+base64(type || seed)``; return the public key and the seed.

    Raises:
        AuditError: the text is malformed or its key ID does not match the key.
    """
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or len(parts[3]) != 8:
        raise AuditError("signing key must read PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
    name, hex_id, encoded = parts[2:]
    raw = _b64(encoded, "signing key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise AuditError("signing key must be an Ed25519 seed (type 0x01 or 0x04, 32 bytes)")
    public = _public_of(raw[1:])
    key = NoteKey(name, key_id(name, raw[0], public), raw[0], public)
    if key.key_id.hex() != hex_id.lower():
        raise AuditError(f"signing key {name}: its key ID {hex_id} does not match the key")
    return key, raw[1:]


def generate_skey(name: str, kind: int = ED25519) -> str:
    """A new signing key in skey text form (keep it secret; publish :func:`public_vkey` of it)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return skey_from_seed(name, seed, kind)


def skey_from_seed(name: str, seed: bytes, kind: int = ED25519) -> str:
    """The skey of an existing raw 32-byte Ed25519 private key (the server's checkpoint key) under ``name``.

    Raises:
        AuditError: the name is not a valid key name, or the key is not 32 bytes.
    """
    kid = key_id(name, kind, _public_of(seed))
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{base64.b64encode(bytes([kind]) + seed).decode()}"


def note_key(name: str, public_key: bytes, kind: int = ED25519) -> NoteKey:
    """The verifier of a raw 32-byte Ed25519 public key known under ``name``.

    Raises:
        AuditError: the name is not a valid key name, or the key is not 32 bytes.
    """
    if len(public_key) != 32:
        raise AuditError(f"Ed25519 public key has {len(public_key)} bytes; it must have 32")
    return NoteKey(name, key_id(name, kind, public_key), kind, public_key)


def public_vkey(skey: str) -> str:
    """The vkey that verifies signatures of ``skey``."""
    return parse_skey(skey)[0].vkey


def _public_of(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if len(seed) != 32:
        raise AuditError(f"Ed25519 private key has {len(seed)} bytes; it must have 32")
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _sign(seed: bytes, message: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def _ed25519_ok(public_key: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise AuditError("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise AuditError("note text must not contain control characters other than newline")


def format_note(text: str, signatures: Iterable[NoteSignature]) -> str:
    """The note: text, a blank line, one line per signature."""
    _check_text(text)
    lines = [s.line() for s in signatures]
    if not lines:
        raise AuditError("a signed note needs at least one signature")
    return text + "\n" + "".join(lines)


def sign_note(text: str, skey: str) -> NoteSignature:
    """Sign the note ``text`` with an Ed25519 (type 0x01) skey.

    Raises:
        AuditError: the text is not a valid note text, or the key is malformed or not type 0x01.
    """
    _check_text(text)
    key, seed = parse_skey(skey)
    if key.kind != ED25519:
        raise AuditError(f"key {key.name} is a cosigning key (type {key.kind:#04x}); a note needs type 0x01")
    return NoteSignature(key.name, key.key_id, _sign(seed, text.encode()))


def parse_note(message: str) -> SignedNote:
    """Split a signed note into its text and signatures (nothing is verified).

    Raises:
        AuditError: the note is malformed.
    """
    if any(ord(c) < 0x20 and c != "\n" for c in message) or not message.endswith("\n"):
        raise AuditError("malformed note: control characters, or no final newline")
    cut = message.rfind("\n\n")
    if cut < 0:
        raise AuditError("malformed note: no blank line before the signatures")
    text, sig_block = message[: cut + 1], message[cut + 2 :]
    signatures: list[NoteSignature] = []
    for line in sig_block.splitlines():
        if not line.startswith(_DASH):
            raise AuditError(f"malformed note: signature line {line[:40]!r} does not start with '— '")
        name, sep, encoded = line[len(_DASH) :].partition(" ")
        if not sep or " " in encoded:
            raise AuditError(f"malformed note: signature line {line[:40]!r}")
        _check_name(name)
        raw = _b64(encoded, f"signature of {name}")
        if len(raw) < 5:
            raise AuditError(f"malformed note: signature of {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise AuditError(f"malformed note: {len(signatures)} signatures; 1 to {MAX_SIGNATURES} expected")
    return SignedNote(text, tuple(signatures))


def _matching(note: SignedNote, key: NoteKey) -> list[NoteSignature]:
    return [s for s in note.signatures if s.name == key.name and s.key_id == key.key_id]


def verify_note(message: str, keys: Iterable[NoteKey]) -> SignedNote:
    """Parse a note and check every signature of a known Ed25519 (type 0x01) key; others are ignored.

    Returns:
        The note, with only the verified signatures.

    Raises:
        AuditError: the note is malformed, a known key's signature fails, or no known key signed it.
    """
    note = parse_note(message)
    verified: list[NoteSignature] = []
    for key in keys:
        if key.kind != ED25519:
            continue
        for sig in _matching(note, key):
            if not _ed25519_ok(key.public_key, sig.signature, note.text.encode()):
                raise AuditError(f"invalid signature for key {key.name}+{key.key_id.hex()}")
            verified.append(sig)
    if not verified:
        raise AuditError("note has no verifiable signature from a trusted key")
    return SignedNote(note.text, tuple(verified))


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, skey: str, *, timestamp: int) -> NoteSignature:
    """A witness's cosignature/v1 of the checkpoint ``text`` at POSIX time ``timestamp``.

    Raises:
        AuditError: the key is not a type 0x04 key, or the timestamp is out of range.
    """
    _check_text(text)
    key, seed = parse_skey(skey)
    if key.kind != COSIGNATURE_V1:
        raise AuditError(f"key {key.name} has type {key.kind:#04x}; a cosignature needs type 0x04")
    if not 0 <= timestamp < 2**63:
        raise AuditError(f"cosignature timestamp={timestamp} must be within 0 and 2**63 - 1")
    sig = timestamp.to_bytes(8, "big") + _sign(seed, _cosigned_message(text, timestamp))
    return NoteSignature(key.name, key.key_id, sig)


def verify_cosignature(message: str, key: NoteKey) -> int:
    """The timestamp of ``key``'s valid cosignature on the note ``message``.

    Raises:
        AuditError: the note is malformed, or carries no valid cosignature of ``key``.
    """
    if key.kind != COSIGNATURE_V1:
        raise AuditError(f"witness key {key.name} has type {key.kind:#04x}; cosignatures use type 0x04")
    note = parse_note(message)
    for sig in _matching(note, key):
        if len(sig.signature) != 72:
            raise AuditError(f"cosignature of {key.name} has {len(sig.signature)} bytes; 72 expected")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        if timestamp >= 2**63 or not _ed25519_ok(
            key.public_key, sig.signature[8:], _cosigned_message(note.text, timestamp)
        ):
            raise AuditError(f"invalid cosignature for key {key.name}+{key.key_id.hex()}")
        return timestamp
    raise AuditError(f"note carries no cosignature of witness {key.name}")
