"""Witness cosignatures of the log's checkpoints: accept one the server can check, serve them with the checkpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from credit.errors import AuditError
from credit.signed_note import COSIGNATURE_V1, MAX_SIGNATURES, parse_note, parse_vkey, verify_cosignature
from credit.tree_head import TreeHead, parse_checkpoint_text
from store.audit_cosignatures import cosignature_lines, save_cosignature
from usecases.checkpoint_files import CheckpointIssuer, issued_checkpoint

__all__ = ["CosignatureRefused", "accept_cosignature", "checkpoint_with_cosignatures"]


class CosignatureRefused(AuditError):
    """A posted cosignature the server does not keep; ``field`` names the part of the request at fault."""

    def __init__(self, field: str, message: str) -> None:
        """Keep the field and the reason."""
        super().__init__(message)
        self.field = field


def accept_cosignature(
    conn: psycopg.Connection, issuer: CheckpointIssuer, *, cosigned: str, witness_vkey: str
) -> TreeHead:
    """Verify a witness's cosigned checkpoint and keep its cosignature line.

    Args:
        conn: the database connection.
        issuer: the log's checkpoint issuer (its folder holds every checkpoint it signed).
        cosigned: the checkpoint note carrying the witness's tlog-cosignature/v1 line.
        witness_vkey: the witness's public key (vkey, type 0x04).

    Returns:
        The tree head the witness cosigned.

    Raises:
        CosignatureRefused: the key is not a cosigning key, the note is not a checkpoint this log signed,
            or it carries no valid cosignature of the key.
    """
    try:
        key = parse_vkey(witness_vkey)
    except AuditError as exc:
        raise CosignatureRefused("witness_key", str(exc)) from None
    if key.kind != COSIGNATURE_V1:
        raise CosignatureRefused("witness_key", f"key {key.name} has type {key.kind:#04x}; a witness uses 0x04")
    try:
        note = parse_note(cosigned)
        head = parse_checkpoint_text(note.text)
    except AuditError as exc:
        raise CosignatureRefused("checkpoint", str(exc)) from None
    issued = issued_checkpoint(issuer.directory, head.size)
    if head.origin != issuer.origin or issued is None or issued[0] != head:
        raise CosignatureRefused(
            "checkpoint", f"this log ({issuer.origin}) signed no such checkpoint at size {head.size}"
        )
    try:
        timestamp = verify_cosignature(cosigned, key)
    except AuditError as exc:
        raise CosignatureRefused("checkpoint", str(exc)) from None
    line = next(s for s in note.signatures if s.name == key.name and s.key_id == key.key_id).line().rstrip("\n")
    save_cosignature(
        conn,
        tree_size=head.size,
        root_hash=head.root,
        witness_name=key.name,
        key_id=key.key_id,
        witness_vkey=key.vkey,
        signature_line=line,
        cosigned_at=datetime.fromtimestamp(timestamp, UTC),
    )
    return head


def checkpoint_with_cosignatures(conn: psycopg.Connection, head: TreeHead, note: str) -> str:
    """The signed checkpoint ``note`` with the cosignature lines received for it appended."""
    room = MAX_SIGNATURES - len(parse_note(note).signatures)
    lines = cosignature_lines(conn, tree_size=head.size, root_hash=head.root)[:room]
    return note + "".join(f"{line}\n" for line in lines)
