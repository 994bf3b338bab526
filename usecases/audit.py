"""The audit log's Merkle tree: tree heads and proofs from the stored nodes (O(log n) reads each).

The nodes are written by the database with each append (migration 0070); :mod:`credit.merkle` says which
nodes a proof needs and folds them; :mod:`store.audit_tree` reads them in one query.
"""

from __future__ import annotations

import psycopg

from credit.errors import AuditError
from credit.merkle import EMPTY_ROOT, consistency_proof_plan, hash_nodes, inclusion_proof_plan, range_nodes
from store.audit_tree import load_nodes, tree_size

__all__ = ["consistency_proof", "current_size", "inclusion_proof", "root_at"]


def current_size(conn: psycopg.Connection) -> int:
    """The number of entries in the tree now."""
    return tree_size(conn)


def _checked_size(conn: psycopg.Connection, size: int) -> None:
    now = tree_size(conn)
    if not 0 <= size <= now:
        raise AuditError(f"tree size={size} is outside the log, which has {now} entries")


def root_at(conn: psycopg.Connection, size: int) -> bytes:
    """The root hash of the tree over the first ``size`` entries.

    Raises:
        AuditError: ``size`` is above the log's size, or a node is missing (the tree was tampered with).
    """
    _checked_size(conn, size)
    if size == 0:
        return EMPTY_ROOT
    nodes = range_nodes(0, size)
    hashes = load_nodes(conn, nodes)
    missing = [n for n in nodes if n not in hashes]
    if missing:
        raise AuditError(f"Merkle node level={missing[0].level} index={missing[0].idx} is missing from the tree")
    return hash_nodes([hashes[n] for n in nodes])


def inclusion_proof(conn: psycopg.Connection, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` (entry ``index + 1``) in the tree of ``size`` entries.

    Raises:
        AuditError: the index or size is outside the log.
    """
    _checked_size(conn, size)
    plan = inclusion_proof_plan(index, size)
    return plan.proof(load_nodes(conn, plan.nodes()))


def consistency_proof(conn: psycopg.Connection, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``new_size`` entries extends the tree of ``old_size``.

    Raises:
        AuditError: a size is outside the log, or ``old_size`` is above ``new_size``.
    """
    _checked_size(conn, new_size)
    plan = consistency_proof_plan(old_size, new_size)
    return plan.proof(load_nodes(conn, plan.nodes()))
