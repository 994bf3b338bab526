"""Witness cosignatures of the audit log's checkpoints (``audit_cosignatures``, migration 0073): SQL only."""

from __future__ import annotations

from datetime import datetime

import psycopg

__all__ = ["cosignature_lines", "save_cosignature"]


def save_cosignature(
    conn: psycopg.Connection,
    *,
    tree_size: int,
    root_hash: bytes,
    witness_name: str,
    key_id: bytes,
    witness_vkey: str,
    signature_line: str,
    cosigned_at: datetime,
) -> None:
    """Keep a verified cosignature; a witness's newer cosignature of the same size replaces its older one."""
    conn.execute(
        "INSERT INTO audit_cosignatures (tree_size, root_hash, witness_name, key_id, witness_vkey, signature_line,"
        " cosigned_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (tree_size, witness_name, key_id) DO UPDATE SET signature_line = EXCLUDED.signature_line,"
        " cosigned_at = EXCLUDED.cosigned_at, received_at = now()"
        " WHERE audit_cosignatures.cosigned_at < EXCLUDED.cosigned_at",
        (tree_size, root_hash, witness_name, key_id, witness_vkey, signature_line, cosigned_at),
    )


def cosignature_lines(conn: psycopg.Connection, *, tree_size: int, root_hash: bytes) -> list[str]:
    """The signature lines received for the checkpoint of ``tree_size`` with ``root_hash``, by witness name."""
    rows = conn.execute(
        "SELECT signature_line FROM audit_cosignatures WHERE tree_size = %s AND root_hash = %s"
        " ORDER BY witness_name, key_id",
        (tree_size, root_hash),
    ).fetchall()
    return [str(r[0]) for r in rows]
