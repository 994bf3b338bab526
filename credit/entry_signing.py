"""Audit entries signed by the server's key: only the holder of the log's key can append an entry that verifies.

What is signed is :func:`entry_signing_message`: a context line, the entry's sequence number and its chain
hash (which commits to seq, kind, time, payload and predecessor). The sequence number and the chain hash pin
the signature to one place in one log: copied onto another index, or onto an edited entry, it no longer
verifies.

Where signing begins: a log created with signing (no :data:`SIGNING_BEGINS_KIND` entry) is signed from
entry 1. A log that had entries when signing came (migration 0074) holds one unsigned
:data:`SIGNING_BEGINS_KIND` entry after them; every later entry must be signed. The marker is an entry of
the chain and of the Merkle tree, so moving or removing it (to make later forgeries look like old unsigned
entries) is a rewrite that a kept checkpoint or receipt shows; a marker placed after a signed entry
excuses nothing. An unsigned entry where signing is required was appended without the key (e.g. straight
through ``ft_audit_append``): forged.

:func:`sign_entry` is the one place entries are signed; ``store.audit`` takes the signer as an argument and
stores what it returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple, Protocol

from credit.audit import AuditEntry, AuditProblem, public_key_of
from credit.errors import AuditError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "ENTRY_SIGNATURE_CONTEXT",
    "SIGNING_BEGINS_KIND",
    "Ed25519EntrySigner",
    "EntrySigner",
    "SignedHash",
    "entry_signature_ok",
    "entry_signature_problems",
    "entry_signing_message",
    "sign_entry",
    "signing_start",
]

ENTRY_SIGNATURE_CONTEXT = b"farmtrust audit entry signature v1\n"
"""The first line of every signed message: a signature made for anything else never verifies as an entry's."""

SIGNING_BEGINS_KIND = "audit.signing_begins"
"""The kind of the unsigned entry after which every entry must be signed (on logs older than signing)."""


class SignedHash(NamedTuple):
    """What a witness sees of an entry: its place, kind, chain hash and signature, not its content."""

    seq: int
    kind: str
    entry_hash: str
    signature: bytes | None


class EntrySigner(Protocol):
    """Signs audit entries: the server's key, or a test's."""

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key the signatures verify with."""
        ...

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        ...


@dataclass(frozen=True)
class Ed25519EntrySigner:
    """An :class:`EntrySigner` holding a raw 32-byte Ed25519 private key (the checkpoint key)."""

    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)
    _key: Ed25519PrivateKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check the key and keep its parsed form (signing then costs one Ed25519 signature).

        Raises:
            AuditError: ``seed`` is not 32 bytes.
        """
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        object.__setattr__(self, "public_key", public_key_of(self.seed))
        object.__setattr__(self, "_key", Ed25519PrivateKey.from_private_bytes(self.seed))

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``."""
        return self._key.sign(message)


def entry_signing_message(*, seq: int, entry_hash: str) -> bytes:
    """The bytes signed for entry ``seq`` whose chain hash is ``entry_hash`` (64 hex characters).

    Raises:
        AuditError: ``seq`` is below 1 or ``entry_hash`` is not 64 hex characters.
    """
    if seq < 1:
        raise AuditError(f"audit entry seq={seq}; entries are numbered from 1")
    try:
        raw = bytes.fromhex(entry_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise AuditError(f"audit entry {seq} hash {entry_hash[:16]!r} is not 64 hexadecimal characters")
    return ENTRY_SIGNATURE_CONTEXT + f"{seq}\n".encode() + raw


def sign_entry(entry: AuditEntry, signer: EntrySigner) -> AuditEntry:
    """``entry`` with its signature by ``signer`` (the one function every append path signs through)."""
    return replace(entry, signature=signer.sign(entry_signing_message(seq=entry.seq, entry_hash=entry.entry_hash)))


def entry_signature_ok(entry: AuditEntry | SignedHash, public_keys: Iterable[bytes]) -> bool:
    """Whether ``entry`` carries a valid signature by one of ``public_keys`` (raw 32-byte Ed25519 keys)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if entry.signature is None or len(entry.signature) != 64:
        return False
    try:
        message = entry_signing_message(seq=entry.seq, entry_hash=entry.entry_hash)
    except AuditError:
        return False
    for key in public_keys:
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(entry.signature, message)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


def signing_start(entries: Sequence[AuditEntry | SignedHash]) -> int:
    """The position in ``entries`` from which every entry must be signed (see the module's docstring)."""
    marker = next((i for i, e in enumerate(entries) if e.kind == SIGNING_BEGINS_KIND), None)
    if marker is None:
        return 0
    first_signed = next((i for i, e in enumerate(entries) if e.signature is not None), len(entries))
    return min(marker + 1, first_signed)


def entry_signature_problems(
    entries: Sequence[AuditEntry | SignedHash], public_keys: Iterable[bytes] | None
) -> list[AuditProblem]:
    """The entries, from where signing is required on, that are unsigned or not signed by the log's key.

    Args:
        entries: the log in stored order.
        public_keys: the log's trusted raw public keys; None checks only that a signature is present.
    """
    keys = None if public_keys is None else list(public_keys)
    problems: list[AuditProblem] = []
    for e in entries[signing_start(entries) :]:
        if e.signature is None:
            problems.append(
                AuditProblem(
                    e.seq, "unsigned", f"entry {e.seq} ({e.kind}) carries no signature: appended without the key"
                )
            )
        elif keys is not None and not entry_signature_ok(e, keys):
            problems.append(
                AuditProblem(e.seq, "bad_entry_signature", f"entry {e.seq} ({e.kind}) is not signed by the log's key")
            )
    return problems
