"""The audit log's signed checkpoints from the settings: :mod:`usecases.checkpoint_files` configured.

The folder (``settings.audit_checkpoint_dir``) holds ``checkpoint`` (the latest) and ``checkpoint.<size>``
for every one issued; the key is ``settings.audit_key_file``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import psycopg

from credit.entry_signing import EntrySigner
from credit.signed_note import skey_from_seed
from credit.tree_head import TreeHead
from farmtrust.settings import Settings
from usecases import checkpoint_files
from usecases.checkpoint_files import CheckpointIssuer, ensure_server_key, latest_checkpoint, load_public_keys

__all__ = [
    "checkpoint_issuer",
    "ensure_server_key",
    "entry_signer",
    "issue_checkpoint",
    "latest_checkpoint",
    "load_public_keys",
    "server_skey",
]


def checkpoint_issuer(settings: Settings) -> CheckpointIssuer:
    """The issuer the settings describe (origin, key, folder, schedule)."""
    return CheckpointIssuer.from_config(settings)


def entry_signer(settings: Settings) -> EntrySigner:
    """The server's key as the signer of audit entries (created on first use, like the checkpoints' key)."""
    return checkpoint_issuer(settings).entry_signer()


def server_skey(settings: Settings) -> str:
    """The server's checkpoint signing key as a note skey named after the log's origin."""
    seed = ensure_server_key(settings.audit_key_file, origin=settings.audit.origin)
    return skey_from_seed(settings.audit.origin, seed)


def issue_checkpoint(
    conn: psycopg.Connection, settings: Settings, *, now: datetime | None = None, force: bool = False
) -> tuple[TreeHead, Path] | None:
    """Sign and write a checkpoint when one is due (or, with ``force``, whenever the log grew).

    Returns:
        The new tree head and its file, or None when none was due.
    """
    return checkpoint_files.issue_checkpoint(conn, checkpoint_issuer(settings), now=now, force=force)
