"""Reads of the audit log's Merkle tree (``audit_tree_nodes``, migration 0070): SQL only.

The tree's rows are written by the database itself, in the transaction of each ``audit_log`` insert
(trigger ``audit_log_merkle_tree``), so no append path can skip them. What a proof needs is computed by
:mod:`credit.merkle`; :mod:`usecases.audit` puts the two together.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from credit.merkle import Node

__all__ = ["load_leaf_hashes", "load_nodes", "load_nodes_and_size", "tree_size"]


def tree_size(conn: psycopg.Connection) -> int:
    """The number of leaves in the tree (0 when the log is empty)."""
    row = conn.execute("SELECT max(idx) FROM audit_tree_nodes WHERE level = 0").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def load_nodes(conn: psycopg.Connection, nodes: Iterable[Node]) -> dict[Node, bytes]:
    """The hashes of ``nodes``, in one query; a node not stored is absent from the result."""
    wanted = list(set(nodes))
    if not wanted:
        return {}
    rows = conn.execute(
        "SELECT n.level, n.idx, n.hash FROM audit_tree_nodes n"
        " JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
        ([n.level for n in wanted], [n.idx for n in wanted]),
    ).fetchall()
    return {Node(int(r[0]), int(r[1])): bytes(r[2]) for r in rows}


def load_nodes_and_size(conn: psycopg.Connection, nodes: Iterable[Node]) -> tuple[int, dict[Node, bytes]]:
    """The tree's size now and the hashes of ``nodes``, in one round trip (a proof is then one query)."""
    wanted = list(set(nodes))
    rows = conn.execute(
        "SELECT (SELECT coalesce(max(idx) + 1, 0) FROM audit_tree_nodes WHERE level = 0), n.level, n.idx, n.hash"
        " FROM (SELECT 1) AS one LEFT JOIN (audit_tree_nodes n"
        " JOIN unnest(%s::smallint[], %s::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx) ON true",
        ([n.level for n in wanted], [n.idx for n in wanted]),
    ).fetchall()
    return int(rows[0][0]), {Node(int(r[1]), int(r[2])): bytes(r[3]) for r in rows if r[1] is not None}


def load_leaf_hashes(conn: psycopg.Connection, *, start: int = 0, end: int | None = None) -> list[bytes]:
    """The stored leaf hashes ``[start, end)`` in order (all from ``start`` when ``end`` is None)."""
    rows = conn.execute(
        "SELECT hash FROM audit_tree_nodes WHERE level = 0 AND idx >= %s AND (%s::bigint IS NULL OR idx < %s)"
        " ORDER BY idx",
        (start, end, end),
    ).fetchall()
    return [bytes(r[0]) for r in rows]
