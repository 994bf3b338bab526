"""C2SP tlog-checkpoint: the signed tree head a log publishes and its relying parties keep.

The checkpoint is a signed note (:mod:`credit.signed_note`) whose text is the origin line, the tree size
in decimal, the base64 root hash, then optional extension lines::

    farmtrust.example/audit
    12
    6xV0YW...=

    — farmtrust.example/audit base64(key ID || Ed25519 signature)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from credit.errors import AuditError
from credit.merkle import HASH_SIZE
from credit.signed_note import NoteKey, format_note, sign_note, verify_note

__all__ = ["TreeHead", "parse_checkpoint_text", "sign_checkpoint_note", "verify_checkpoint_note"]


@dataclass(frozen=True)
class TreeHead:
    """A log's origin, tree size and root hash (and extension lines, usually none)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint's note text (newline-terminated)."""
        if not self.origin or "\n" in self.origin:
            raise AuditError("checkpoint origin must be one non-empty line")
        if self.size < 0 or len(self.root) != HASH_SIZE:
            raise AuditError("checkpoint needs a size of 0 or more and a 32-byte root")
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "\n".join(lines) + "\n"


def parse_checkpoint_text(text: str) -> TreeHead:
    """Parse a checkpoint's note text (no signatures).

    Raises:
        AuditError: a line is missing, the size is not a decimal without leading zeros, or the root is not
            32 bytes of base64.
    """
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise AuditError("checkpoint must have an origin line, a size line and a root line, each newline-ended")
    origin, size_text, root_text, *extensions = lines[:-1]
    if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise AuditError(f"checkpoint size {size_text!r} must be a decimal number without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise AuditError("checkpoint root hash is not valid base64") from None
    if len(root) != HASH_SIZE:
        raise AuditError(f"checkpoint root hash has {len(root)} bytes; {HASH_SIZE} expected")
    if any(not e for e in extensions):
        raise AuditError("checkpoint extension lines must not be empty")
    return TreeHead(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint_note(head: TreeHead, skey: str) -> str:
    """The checkpoint as a signed note, signed by the log's Ed25519 skey."""
    text = head.text()
    return format_note(text, [sign_note(text, skey)])


def verify_checkpoint_note(message: str, keys: Iterable[NoteKey], *, origin: str | None = None) -> TreeHead:
    """Verify a checkpoint note against the log's keys and parse its tree head.

    Args:
        message: the signed note.
        keys: the trusted log keys.
        origin: when given, the origin line the checkpoint must carry.

    Raises:
        AuditError: malformed, not signed by a trusted key, or of another log.
    """
    note = verify_note(message, keys)
    head = parse_checkpoint_text(note.text)
    if origin is not None and head.origin != origin:
        raise AuditError(f"checkpoint is of log {head.origin!r}, not {origin!r}")
    return head
