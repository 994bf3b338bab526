"""The audit log's signed checkpoints from the settings: :mod:`usecases.checkpoint_files` configured.

The folder (``settings.audit_checkpoint_dir``) holds ``checkpoint`` (the latest) and ``checkpoint.<size>``
for every one issued; the key is ``settings.audit_key_file``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
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
    "start_checkpoint_schedule",
    "watch_checkpoints",
]


log = logging.getLogger(__name__)


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


def watch_checkpoints(
    settings: Settings,
    *,
    interval_s: float,
    stop: threading.Event,
    on_issued: Callable[[TreeHead, Path], None] | None = None,
) -> None:
    """Issue a checkpoint whenever one is due (``audit checkpoint --if-due``), looking every ``interval_s``.

    Runs until ``stop`` is set; the database connection is reopened after an error (logged, not raised).
    """
    assert settings.db.url, "watch_checkpoints needs settings.db.url"
    while not stop.is_set():
        try:
            with psycopg.connect(settings.db.url) as conn:
                while not stop.is_set():
                    issued = issue_checkpoint(conn, settings)
                    conn.commit()  # end the read: the next look sees the entries committed meanwhile
                    if issued is not None and on_issued is not None:
                        on_issued(*issued)
                    stop.wait(interval_s)
        except (psycopg.Error, OSError) as exc:
            log.warning("checkpoint schedule: %s; trying again in %.0f s", exc, interval_s)
            stop.wait(interval_s)


def start_checkpoint_schedule(
    settings: Settings, *, stop: threading.Event, interval_s: float = 5.0
) -> threading.Thread:
    """:func:`watch_checkpoints` in a daemon thread (the demo's, while it serves); set ``stop`` to end it."""
    thread = threading.Thread(
        target=watch_checkpoints,
        kwargs={"settings": settings, "interval_s": interval_s, "stop": stop},
        name="audit-checkpoints",
        daemon=True,
    )
    thread.start()
    return thread
