"""The append-only, hash-chained audit log and its signed checkpoints, as pure functions.

Each entry's hash covers the previous entry's hash and the canonical JSON of the entry (sequence number,
kind, time, payload), so editing, deleting, inserting or reordering any entry breaks the chain from there
on. A checkpoint signs (Ed25519) the hash of the entry at some sequence number; a verifier that holds the
public key (kept outside the database) then also detects truncation back past the last checkpoint, and a
full rewrite of the log (the rewriter cannot sign the new hashes).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from credit.canonical import canonical_json, sha256_hex
from credit.errors import AuditError

GENESIS_HASH = "0" * 64

__all__ = [
    "GENESIS_HASH",
    "AuditChain",
    "AuditEntry",
    "AuditProblem",
    "AuditReport",
    "Checkpoint",
    "entry_hash",
    "generate_signing_key",
    "public_key_of",
    "sign_checkpoint",
    "verify_chain",
]


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry; ``payload_json`` is canonical JSON text, exactly as hashed.

    ``signature`` is the server's Ed25519 signature of the entry (:mod:`credit.entry_signing`); it is not part
    of the hash, and None on entries logged before signing began (or forged without the key).
    """

    seq: int
    kind: str
    created_at: datetime
    payload_json: str
    prev_hash: str
    entry_hash: str
    signature: bytes | None = None

    @property
    def payload(self) -> Any:
        """The payload, parsed."""
        return json.loads(self.payload_json)


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that the entry ``seq`` had hash ``entry_hash`` at ``signed_at``."""

    seq: int
    entry_hash: str
    signed_at: datetime
    public_key: bytes
    signature: bytes

    def message(self) -> bytes:
        """The bytes that were signed."""
        return canonical_json({"entry_hash": self.entry_hash, "seq": self.seq, "signed_at": self.signed_at}).encode()


class AuditProblem(NamedTuple):
    """One finding of :func:`verify_chain`: where, what kind (a code), and in plain words."""

    seq: int
    code: str
    message: str


@dataclass(frozen=True)
class AuditReport:
    """The result of verifying a log: ``ok`` when no problem was found."""

    entries: int
    last_seq: int
    checkpoints: int
    signatures_checked: bool
    problems: tuple[AuditProblem, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether the log verified without any problem."""
        return not self.problems


def entry_hash(*, seq: int, kind: str, created_at: datetime, payload_json: str, prev_hash: str) -> str:
    """sha256 over the previous hash and the canonical JSON of the entry."""
    header = canonical_json({"created_at": created_at, "kind": kind, "prev_hash": prev_hash, "seq": seq})
    return sha256_hex(f"{prev_hash}\n{header}\n{payload_json}")


class AuditChain:
    """Builds entries in memory, each linked to the one before (the store persists them)."""

    def __init__(self, *, last_seq: int = 0, last_hash: str = GENESIS_HASH) -> None:
        self.last_seq = last_seq
        self.last_hash = last_hash

    def append(self, *, kind: str, payload: Any, created_at: datetime) -> AuditEntry:
        """Build the next entry for ``payload`` (any value :func:`~credit.canonical.canonical_json` accepts).

        Raises:
            AuditError: ``kind`` is empty, or the payload cannot be serialised canonically.
        """
        if not kind or not kind.replace("_", "").replace(".", "").isalnum():
            raise AuditError(f"audit kind={kind!r}; use a short name such as 'credit.decision'")
        try:
            text = canonical_json(payload)
        except TypeError as exc:
            raise AuditError(f"audit payload of kind {kind!r} cannot be serialised: {exc}") from None
        seq = self.last_seq + 1
        digest = entry_hash(seq=seq, kind=kind, created_at=created_at, payload_json=text, prev_hash=self.last_hash)
        entry = AuditEntry(seq, kind, created_at, text, self.last_hash, digest)
        self.last_seq, self.last_hash = seq, digest
        return entry


def generate_signing_key() -> bytes:
    """A new raw 32-byte Ed25519 private key for checkpoints."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def public_key_of(private_key: bytes) -> bytes:
    """The raw 32-byte public key of a raw Ed25519 private key.

    Raises:
        AuditError: ``private_key`` is not 32 bytes.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    if len(private_key) != 32:
        raise AuditError(f"checkpoint private key has {len(private_key)} bytes; an Ed25519 key has 32")
    key = Ed25519PrivateKey.from_private_bytes(private_key)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_checkpoint(entry: AuditEntry, *, private_key: bytes, signed_at: datetime) -> Checkpoint:
    """Sign the hash of ``entry`` with a raw Ed25519 private key.

    Raises:
        AuditError: the key is not a 32-byte Ed25519 private key.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    public = public_key_of(private_key)
    unsigned = Checkpoint(entry.seq, entry.entry_hash, signed_at, public, b"")
    signature = Ed25519PrivateKey.from_private_bytes(private_key).sign(unsigned.message())
    return Checkpoint(entry.seq, entry.entry_hash, signed_at, public, signature)


def _signature_ok(checkpoint: Checkpoint, public_key: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(checkpoint.signature, checkpoint.message())
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_chain(
    entries: Sequence[AuditEntry],
    checkpoints: Iterable[Checkpoint] = (),
    *,
    public_key: bytes | None = None,
) -> AuditReport:
    """Check every link and hash of ``entries`` (in stored order) and every checkpoint against them.

    Args:
        entries: the log in the order it is stored (by sequence number).
        checkpoints: signed checkpoints.
        public_key: the trusted raw Ed25519 public key; without it the checkpoint signatures are not checked
            (a full rewrite that also rewrote the checkpoints then goes unnoticed).
    """
    problems: list[AuditProblem] = []
    prev_hash, prev_seq = GENESIS_HASH, 0
    by_seq: dict[int, AuditEntry] = {}
    for e in entries:
        if e.seq != prev_seq + 1:
            code = "missing" if e.seq > prev_seq + 1 else "out_of_order"
            problems.append(
                AuditProblem(e.seq, code, f"entry {e.seq} follows entry {prev_seq}; expected {prev_seq + 1}")
            )
        if e.prev_hash != prev_hash:
            problems.append(AuditProblem(e.seq, "broken_link", f"entry {e.seq} does not link to the entry before it"))
        recomputed = entry_hash(
            seq=e.seq, kind=e.kind, created_at=e.created_at, payload_json=e.payload_json, prev_hash=e.prev_hash
        )
        if recomputed != e.entry_hash:
            problems.append(AuditProblem(e.seq, "edited", f"entry {e.seq} ({e.kind}) does not match its hash"))
        by_seq.setdefault(e.seq, e)
        prev_hash, prev_seq = e.entry_hash, e.seq
    cps = sorted(checkpoints, key=lambda c: c.seq)
    for c in cps:
        if public_key is not None and (c.public_key != public_key or not _signature_ok(c, public_key)):
            problems.append(
                AuditProblem(c.seq, "bad_signature", f"checkpoint at entry {c.seq} is not signed by the key")
            )
        entry = by_seq.get(c.seq)
        if entry is None:
            problems.append(AuditProblem(c.seq, "truncated", f"checkpoint names entry {c.seq}, which is gone"))
        elif entry.entry_hash != c.entry_hash:
            problems.append(AuditProblem(c.seq, "rewritten", f"entry {c.seq} differs from its signed checkpoint"))
    return AuditReport(len(entries), prev_seq, len(cps), public_key is not None, tuple(problems))
