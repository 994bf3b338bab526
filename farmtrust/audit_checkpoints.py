"""The audit log's signed checkpoints on disk: the server's key, issuing when due, and the published folder.

The folder (``settings.audit_checkpoint_dir``) holds ``checkpoint`` (the latest, as C2SP tlog-tiles serves
it) and ``checkpoint.<size>`` for every one issued. It is meant to be copied out and published: what it
holds lives outside the database, so an insider who rewrites the database cannot rewrite it too.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from credit.audit import generate_signing_key, public_key_of
from credit.errors import AuditError
from credit.signed_note import NoteKey, note_key, parse_vkey, skey_from_seed
from credit.transparency import checkpoint_due
from credit.tree_head import TreeHead, parse_checkpoint_text
from farmtrust.settings import Settings
from usecases.audit import current_size, sign_tree_head

log = logging.getLogger(__name__)

__all__ = ["ensure_server_key", "issue_checkpoint", "latest_checkpoint", "load_public_keys", "server_skey"]


def ensure_server_key(path: Path, *, origin: str) -> bytes:
    """The raw Ed25519 key at ``path``; created on first use with ``.pub`` (raw) and ``.vkey`` (note form) beside it."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(generate_signing_key())
        path.chmod(0o600)
        log.info("created audit key %s", path)
    seed = path.read_bytes()
    public = public_key_of(seed)
    path.with_suffix(".pub").write_bytes(public)
    path.with_suffix(".vkey").write_text(note_key(origin, public).vkey + "\n")
    return seed


def server_skey(settings: Settings) -> str:
    """The server's checkpoint signing key as a note skey named after the log's origin."""
    seed = ensure_server_key(settings.audit_key_file, origin=settings.audit.origin)
    return skey_from_seed(settings.audit.origin, seed)


def load_public_keys(path: Path, *, origin: str) -> list[NoteKey]:
    """The trusted log keys in ``path``: a raw 32-byte public key (named ``origin``) or vkey lines.

    Raises:
        AuditError: the file is missing or holds neither form.
    """
    if not path.is_file():
        raise AuditError(f"public key file {path} does not exist")
    raw = path.read_bytes()
    if len(raw) == 32:
        return [note_key(origin, raw)]
    try:
        lines = [line.strip() for line in raw.decode().splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise AuditError(f"public key file {path} is neither 32 raw bytes nor vkey text") from None
    if not lines:
        raise AuditError(f"public key file {path} is empty")
    return [parse_vkey(line) for line in lines]


def latest_checkpoint(directory: Path) -> tuple[TreeHead, str, datetime] | None:
    """The latest checkpoint in ``directory`` (tree head, note, when written), or None when there is none."""
    path = directory / "checkpoint"
    if not path.is_file():
        return None
    note = path.read_text()
    text = note[: note.rfind("\n\n") + 1] if "\n\n" in note else note
    return parse_checkpoint_text(text), note, datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def issue_checkpoint(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None, force: bool = False
) -> tuple[TreeHead, Path] | None:
    """Sign and write a checkpoint when one is due (or, with ``force``, whenever the log grew).

    Returns:
        The new tree head and its file, or None when none was due.
    """
    directory = settings.audit_checkpoint_dir
    last = latest_checkpoint(directory)
    size = current_size(conn)
    last_size, last_at = (last[0].size, last[2]) if last else (None, None)
    if force:
        due = size > 0 and size != last_size
    else:
        due = checkpoint_due(
            size=size,
            last_size=last_size,
            last_issued_at=last_at,
            now=now or datetime.now(UTC),
            every_entries=settings.audit.checkpoint_every_entries,
            every_seconds=settings.audit.checkpoint_every_s,
        )
    if not due:
        return None
    head, note = sign_tree_head(conn, origin=settings.audit.origin, skey=server_skey(settings))
    directory.mkdir(parents=True, exist_ok=True)
    numbered = directory / f"checkpoint.{head.size}"
    _write_atomically(numbered, note)
    if last is None or head.size > last[0].size:
        _write_atomically(directory / "checkpoint", note)
    log.info("audit checkpoint at size %d written to %s", head.size, numbered)
    return head, numbered
