"""The audit log's signed checkpoints on disk: the server's key, issuing them, and the published folder.

The folder holds ``checkpoint`` (the latest, as C2SP tlog-tiles serves it) and ``checkpoint.<size>`` for
every one issued. It is meant to be copied out and published: what it holds lives outside the database, so
an insider who rewrites the database cannot rewrite it too.

Issuance has two triggers. The schedule (:func:`issue_checkpoint`, run by ``farmtrust audit checkpoint
--if-due`` or ``--watch``) signs one every ``every_entries`` entries or ``every_s`` seconds, whichever comes
first. A receipt (:func:`checkpoint_covering`) needs one that covers its entry: when the latest does not,
one is signed then, at the log's committed size, and it counts as the schedule's latest too (the clock and
the entry count restart from it). So the schedule bounds how stale the published checkpoint gets when few
receipts are asked for; receipts only make checkpoints more frequent. Only committed entries are ever
signed: a checkpoint over an entry whose transaction then rolled back would be a fork of the log.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import psycopg

from credit.audit import generate_signing_key, public_key_of
from credit.entry_signing import Ed25519EntrySigner, EntrySigner
from credit.errors import AuditError
from credit.signed_note import NoteKey, note_key, parse_vkey, skey_from_seed
from credit.transparency import checkpoint_due
from credit.tree_head import TreeHead, parse_checkpoint_text
from usecases.audit import current_size, sign_tree_head

log = logging.getLogger(__name__)

__all__ = [
    "CheckpointIssuer",
    "checkpoint_covering",
    "ensure_server_key",
    "issue_checkpoint",
    "issued_checkpoint",
    "latest_checkpoint",
    "load_public_keys",
]


@contextmanager
def _issuing(directory: Path) -> Iterator[None]:
    """One issuer at a time across the API's processes and threads (``checkpoint`` never goes back in size)."""
    directory.mkdir(parents=True, exist_ok=True)
    with directory.with_name(f".{directory.name}.lock").open("a") as handle:  # beside it: the folder is published
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class AuditSchedule(Protocol):
    """The ``audit`` settings a checkpoint issuer reads."""

    @property
    def origin(self) -> str: ...
    @property
    def checkpoint_every_entries(self) -> int: ...
    @property
    def checkpoint_every_s(self) -> float: ...


class AuditConfig(Protocol):
    """What the API's and the CLI's settings both say about the audit log."""

    @property
    def audit(self) -> AuditSchedule: ...
    @property
    def audit_key_file(self) -> Path: ...
    @property
    def audit_checkpoint_dir(self) -> Path: ...


@dataclass(frozen=True)
class CheckpointIssuer:
    """Who signs the log's checkpoints, where they go and how often they are due."""

    origin: str
    key_file: Path
    directory: Path
    every_entries: int = 1000
    every_s: float = 300.0

    @classmethod
    def from_config(cls, config: AuditConfig) -> CheckpointIssuer:
        """The issuer the settings describe (origin, key, folder, schedule)."""
        return cls(
            origin=config.audit.origin,
            key_file=config.audit_key_file,
            directory=config.audit_checkpoint_dir,
            every_entries=config.audit.checkpoint_every_entries,
            every_s=config.audit.checkpoint_every_s,
        )

    def skey(self) -> str:
        """The server's signing key as a note skey named after the log's origin (created on first use)."""
        return _keys(self.key_file, self.origin).skey

    def public_keys(self) -> list[NoteKey]:
        """The server's verifier key."""
        return [_keys(self.key_file, self.origin).vkey]

    def entry_signer(self) -> EntrySigner:
        """The server's key as the signer of audit entries (the same key as the checkpoints')."""
        return _keys(self.key_file, self.origin).signer


@dataclass(frozen=True)
class _ServerKeys:
    stamp: int
    skey: str
    vkey: NoteKey
    signer: Ed25519EntrySigner


_key_cache: dict[tuple[Path, str], _ServerKeys] = {}


def _keys(path: Path, origin: str) -> _ServerKeys:
    """The key file's skey, verifier key and entry signer, read again only when the file changes."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        stamp = -1
    cached = _key_cache.get((path, origin))
    if cached is None or cached.stamp != stamp:
        seed = ensure_server_key(path, origin=origin)
        cached = _ServerKeys(
            path.stat().st_mtime_ns,
            skey_from_seed(origin, seed),
            note_key(origin, public_key_of(seed)),
            Ed25519EntrySigner(seed),
        )
        _key_cache[(path, origin)] = cached
    return cached


def ensure_server_key(path: Path, *, origin: str) -> bytes:
    """The raw Ed25519 key at ``path``; created on first use with ``.pub`` (raw) and ``.vkey`` (note form) beside it."""
    if not path.is_file():
        _create_key(path)
    seed = path.read_bytes()
    public = public_key_of(seed)
    pub, vkey = path.with_suffix(".pub"), path.with_suffix(".vkey")
    if not pub.is_file() or pub.read_bytes() != public:
        _write_atomically_bytes(pub, public)
    text = note_key(origin, public).vkey + "\n"
    if not vkey.is_file() or vkey.read_text() != text:
        _write_atomically_bytes(vkey, text.encode())
    return seed


def _create_key(path: Path) -> None:
    """Write a new key to ``path`` unless another process just did (then the first one's key stays).

    The API's processes start together: two keys would sign the log's entries and checkpoints differently.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(generate_signing_key())
        os.link(tmp, path)  # atomic, and never replaces: the first process's key wins
        log.info("created audit key %s", path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


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


def issued_checkpoint(directory: Path, size: int) -> tuple[TreeHead, str] | None:
    """The checkpoint this log signed at ``size`` (tree head and note), or None when it signed none."""
    path = directory / f"checkpoint.{size}"
    if not path.is_file():
        return None
    note = path.read_text()
    return parse_checkpoint_text(note[: note.rfind("\n\n") + 1]), note


def _write_atomically_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o644)  # published: mkstemp's 0600 would hide it from the web server serving the folder
    os.replace(tmp, path)


def _sign_and_write(
    conn: psycopg.Connection, issuer: CheckpointIssuer, last: TreeHead | None, size: int
) -> tuple[TreeHead, Path, str]:
    head, note = sign_tree_head(conn, origin=issuer.origin, skey=issuer.skey(), size=size)
    issuer.directory.mkdir(parents=True, exist_ok=True)
    numbered = issuer.directory / f"checkpoint.{head.size}"
    _write_atomically_bytes(numbered, note.encode())
    if last is None or head.size > last.size:
        _write_atomically_bytes(issuer.directory / "checkpoint", note.encode())
    log.info("audit checkpoint at size %d written to %s", head.size, numbered)
    return head, numbered, note


def issue_checkpoint(
    conn: psycopg.Connection, issuer: CheckpointIssuer, *, now: datetime | None = None, force: bool = False
) -> tuple[TreeHead, Path] | None:
    """Sign and write a checkpoint when one is due (or, with ``force``, whenever the log grew).

    ``conn`` must see only committed entries (no append of its own pending).

    Returns:
        The new tree head and its file, or None when none was due.
    """
    with _issuing(issuer.directory):
        last = latest_checkpoint(issuer.directory)
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
                every_entries=issuer.every_entries,
                every_seconds=issuer.every_s,
            )
        if not due:
            return None
        head, path, _ = _sign_and_write(conn, issuer, last[0] if last else None, size)
        return head, path


def checkpoint_covering(conn: psycopg.Connection, issuer: CheckpointIssuer, seq: int) -> tuple[TreeHead, str]:
    """The latest signed checkpoint (tree head, note) if it holds entry ``seq``; otherwise one signed now.

    ``conn`` must see only committed entries, ``seq`` among them. Receipts asked for at once share one
    signature: requests queue on the issuing lock, and the first signs at the log's committed size, which
    holds the entries of every request already waiting (each committed its entry before asking).

    Raises:
        AuditError: entry ``seq`` is not in the log (not committed, or never written), or the latest
            checkpoint is ahead of the log (no new one is signed then: it would fork the published log).
    """
    last = latest_checkpoint(issuer.directory)  # without the lock: files are replaced atomically
    if last is not None and last[0].size >= seq:
        return last[0], last[1]  # the receipt's root check against the log then catches a log behind it
    with _issuing(issuer.directory):
        last = latest_checkpoint(issuer.directory)
        if last is not None and last[0].size >= seq:
            return last[0], last[1]
        size = current_size(conn)
        if last is not None and last[0].size > size:
            raise AuditError(
                f"the published checkpoint at size {last[0].size} is ahead of the log ({size} entries): the log was"
                f" truncated, or {issuer.directory} holds another database's checkpoints"
            )
        if size < seq:
            raise AuditError(f"audit entry {seq} is not in the log's committed tree")
        head, _, note = _sign_and_write(conn, issuer, last[0] if last else None, size)
        return head, note
