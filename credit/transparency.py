"""The audit log as a transparency log: its leaves, and receipts a lender verifies offline.

Leaf ``seq - 1`` of the tree is ``SHA-256(0x00 || bytes.fromhex(entry_hash))``: the entry's chain hash
already commits to its sequence number, kind, time, payload and predecessor (:func:`credit.audit.entry_hash`).

A :class:`Receipt` holds one entry, its index, leaf hash and inclusion proof, and the signed checkpoint
(:mod:`credit.tree_head`) the proof is against. :func:`verify_receipt` needs only the log's public key.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from credit.audit import AuditEntry, entry_hash
from credit.entry_signing import entry_signature_ok
from credit.errors import AuditError
from credit.merkle import hash_leaf, verify_inclusion
from credit.signed_note import NoteKey
from credit.tree_head import TreeHead, verify_checkpoint_note

__all__ = ["Receipt", "check_receipt_proof", "checkpoint_due", "entry_leaf_hash", "verify_receipt"]


def entry_leaf_hash(entry_hash_hex: str) -> bytes:
    """The Merkle leaf hash of an audit entry, from its hex chain hash."""
    try:
        raw = bytes.fromhex(entry_hash_hex)
    except ValueError:
        raise AuditError(f"audit entry hash {entry_hash_hex[:16]!r} is not hexadecimal") from None
    if len(raw) != 32:
        raise AuditError(f"audit entry hash has {len(raw)} bytes; 32 expected")
    return hash_leaf(raw)


def checkpoint_due(
    *,
    size: int,
    last_size: int | None,
    last_issued_at: datetime | None,
    now: datetime,
    every_entries: int,
    every_seconds: float,
) -> bool:
    """Whether a new checkpoint is due: after ``every_entries`` new entries or ``every_seconds``, whichever first.

    Time alone never makes one due: there must be at least one new entry. The first is due at the first entry.
    """
    if size == 0 or size == last_size:
        return False
    if last_size is None or last_issued_at is None:
        return True
    return size - last_size >= every_entries or (now - last_issued_at).total_seconds() >= every_seconds


@dataclass(frozen=True)
class Receipt:
    """Proof that ``entry`` is leaf ``index`` of the log whose signed checkpoint is ``checkpoint``."""

    entry: AuditEntry
    index: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    checkpoint: str

    def to_json(self) -> str:
        """The receipt as JSON (hashes in hex, the checkpoint note as text)."""
        e = self.entry
        return json.dumps(
            {
                "entry": {
                    "seq": e.seq,
                    "kind": e.kind,
                    "created_at": e.created_at.isoformat(),
                    "payload": e.payload_json,
                    "prev_hash": e.prev_hash,
                    "entry_hash": e.entry_hash,
                    "signature": None if e.signature is None else e.signature.hex(),
                },
                "index": self.index,
                "leaf_hash": self.leaf_hash.hex(),
                "inclusion_proof": [p.hex() for p in self.proof],
                "checkpoint": self.checkpoint,
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Receipt:
        """Parse a receipt written by :meth:`to_json`.

        Raises:
            AuditError: the text is not a receipt; the message names the field.
        """
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AuditError(f"receipt is not JSON: {exc}") from None
        field = "receipt"
        try:
            field = "entry"
            e = data["entry"]
            entry = AuditEntry(
                int(e["seq"]),
                str(e["kind"]),
                datetime.fromisoformat(e["created_at"]),
                str(e["payload"]),
                str(e["prev_hash"]),
                str(e["entry_hash"]),
                None if e.get("signature") is None else bytes.fromhex(e["signature"]),
            )
            field = "index"
            index = int(data["index"])
            field = "leaf_hash"
            leaf = bytes.fromhex(data["leaf_hash"])
            field = "inclusion_proof"
            proof = tuple(bytes.fromhex(p) for p in data["inclusion_proof"])
            field = "checkpoint"
            checkpoint = str(data["checkpoint"])
        except (KeyError, TypeError, ValueError, binascii.Error):
            raise AuditError(f"receipt field {field!r} is missing or malformed") from None
        if entry.created_at.tzinfo is None:
            raise AuditError("receipt field 'entry.created_at' has no time zone")
        return cls(entry, index, leaf, proof, checkpoint)


def check_receipt_proof(receipt: Receipt, head: TreeHead) -> None:
    """The hash checks of a receipt against ``head``: entry hash, index, leaf and inclusion proof (no signature).

    Raises:
        AuditError: any check fails; the message says which.
    """
    e = receipt.entry
    recomputed = entry_hash(
        seq=e.seq, kind=e.kind, created_at=e.created_at, payload_json=e.payload_json, prev_hash=e.prev_hash
    )
    if recomputed != e.entry_hash:
        raise AuditError(f"receipt entry {e.seq} does not match its hash (the entry was altered)")
    if receipt.index != e.seq - 1:
        raise AuditError(f"receipt index {receipt.index} is not entry {e.seq}'s leaf ({e.seq - 1})")
    if entry_leaf_hash(e.entry_hash) != receipt.leaf_hash:
        raise AuditError("receipt leaf hash is not the entry's leaf hash")
    if not verify_inclusion(receipt.index, head.size, receipt.leaf_hash, receipt.proof, head.root):
        raise AuditError(f"inclusion proof of entry {e.seq} does not lead to the checkpoint's root (size {head.size})")


def verify_receipt(receipt: Receipt, keys: Iterable[NoteKey], *, origin: str | None = None) -> TreeHead:
    """Check a receipt offline: the entry's hash and signature, its leaf, the inclusion proof and the checkpoint.

    Returns:
        The checkpoint's tree head the entry is proven to be in.

    Raises:
        AuditError: any check fails; the message says which.
    """
    e = receipt.entry
    keys = list(keys)
    head = verify_checkpoint_note(receipt.checkpoint, keys, origin=origin)
    check_receipt_proof(receipt, head)
    if e.signature is None:
        raise AuditError(
            f"receipt entry {e.seq} carries no signature by the log's key: appended without the server's key"
            " (forged), or logged before entry signing began"
        )
    if not entry_signature_ok(e, [k.public_key for k in keys]):
        raise AuditError(f"receipt entry {e.seq} is not signed by the log's key (an append signed by another key)")
    return head
