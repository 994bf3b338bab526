"""The audit log's Merkle tree: tree heads and proofs from the stored nodes (O(log n) reads each).

The nodes are written by the database with each append (migration 0070); :mod:`credit.merkle` says which
nodes a proof needs and folds them; :mod:`store.audit_tree` reads them in one query.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg

from credit.audit import AuditProblem, AuditReport, verify_chain
from credit.entry_signing import SignedHash, entry_signature_problems
from credit.errors import AuditError
from credit.merkle import (
    EMPTY_ROOT,
    Node,
    consistency_proof_plan,
    hash_nodes,
    inclusion_proof_plan,
    range_nodes,
    verify_consistency,
)
from credit.merkle import root_hash as merkle_root
from credit.signed_note import NoteKey
from credit.transparency import Receipt, entry_leaf_hash
from credit.tree_head import TreeHead, sign_checkpoint_note, verify_checkpoint_note
from store.audit import load_entries, load_entry, load_signed_hashes
from store.audit_tree import load_nodes, load_nodes_and_size, tree_size

__all__ = [
    "consistency_proof",
    "current_size",
    "inclusion_proof",
    "make_receipt",
    "prove_entry",
    "root_at",
    "sign_tree_head",
    "signed_hashes",
    "verify_extends",
]


def current_size(conn: psycopg.Connection) -> int:
    """The number of entries in the tree now."""
    return tree_size(conn)


def _check_size(size: int, now: int) -> None:
    if not 0 <= size <= now:
        raise AuditError(f"tree size={size} is outside the log, which has {now} entries")


def _nodes_within(conn: psycopg.Connection, nodes: Iterable[Node], size: int) -> dict[Node, bytes]:
    """The hashes of ``nodes``, read with the log's size in one query; refused when ``size`` is beyond the log."""
    now, hashes = load_nodes_and_size(conn, nodes)
    _check_size(size, now)
    return hashes


def root_at(conn: psycopg.Connection, size: int) -> bytes:
    """The root hash of the tree over the first ``size`` entries.

    Raises:
        AuditError: ``size`` is above the log's size, or a node is missing (the tree was tampered with).
    """
    nodes = range_nodes(0, size) if size > 0 else []
    hashes = _nodes_within(conn, nodes, size)
    if size == 0:
        return EMPTY_ROOT
    missing = [n for n in nodes if n not in hashes]
    if missing:
        raise AuditError(f"Merkle node level={missing[0].level} index={missing[0].idx} is missing from the tree")
    return hash_nodes([hashes[n] for n in nodes])


def inclusion_proof(conn: psycopg.Connection, index: int, size: int) -> list[bytes]:
    """The inclusion proof of leaf ``index`` (entry ``index + 1``) in the tree of ``size`` entries.

    Raises:
        AuditError: the index or size is outside the log.
    """
    plan = inclusion_proof_plan(index, size)
    return plan.proof(_nodes_within(conn, plan.nodes(), size))


def consistency_proof(conn: psycopg.Connection, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``new_size`` entries extends the tree of ``old_size``.

    Raises:
        AuditError: a size is outside the log, or ``old_size`` is above ``new_size``.
    """
    plan = consistency_proof_plan(old_size, new_size)
    return plan.proof(_nodes_within(conn, plan.nodes(), new_size))


def signed_hashes(conn: psycopg.Connection, *, start: int, end: int) -> tuple[list[bytes], list[SignedHash]]:
    """What a witness checks between tree sizes ``start`` and ``end``, hashes and signatures only.

    Returns the hashes of the old tree's complete subtrees (``range_nodes(0, start)``) and the entries
    ``start + 1 .. end`` (seq, kind, chain hash, signature: no content).

    Raises:
        AuditError: ``end`` is beyond the log, or ``start`` is above ``end``.
    """
    if not 0 <= start <= end:
        raise AuditError(f"from={start} is above to={end}: a log never shrinks")
    nodes = range_nodes(0, start) if start else ()
    hashes = _nodes_within(conn, nodes, end)
    return [_lookup_node(hashes, n) for n in nodes], load_signed_hashes(conn, after_seq=start, upto_seq=end)


def _lookup_node(hashes: dict[Node, bytes], node: Node) -> bytes:
    if node not in hashes:
        raise AuditError(f"Merkle node level={node.level} index={node.idx} is missing from the tree")
    return hashes[node]


def _root_from(hashes: dict, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    nodes = range_nodes(0, size)
    missing = [n for n in nodes if n not in hashes]
    if missing:
        raise AuditError(f"Merkle node level={missing[0].level} index={missing[0].idx} is missing from the tree")
    return hash_nodes([hashes[n] for n in nodes])


def sign_tree_head(
    conn: psycopg.Connection, *, origin: str, skey: str, size: int | None = None
) -> tuple[TreeHead, str]:
    """The log's tree head (at ``size``, a size just read; default: now), and its checkpoint signed with ``skey``."""
    size = tree_size(conn) if size is None else size
    head = TreeHead(origin, size, _root_from(load_nodes(conn, range_nodes(0, size)), size))
    return head, sign_checkpoint_note(head, skey)


def make_receipt(conn: psycopg.Connection, *, seq: int, checkpoint: str, keys: Iterable[NoteKey]) -> Receipt:
    """A receipt for entry ``seq`` proven against the signed ``checkpoint`` (which must already hold it).

    Raises:
        AuditError: no such entry, the checkpoint does not verify or predates the entry, or the log today
            no longer has the checkpoint's root at its size (it was rewritten).
    """
    return prove_entry(conn, seq=seq, head=verify_checkpoint_note(checkpoint, keys), checkpoint=checkpoint)


def prove_entry(conn: psycopg.Connection, *, seq: int, head: TreeHead, checkpoint: str) -> Receipt:
    """A receipt for entry ``seq`` against ``head``, the tree head of the already trusted ``checkpoint``.

    The server's own checkpoint (just signed, or read from its folder) needs no signature check;
    :func:`make_receipt` verifies any other first.

    Raises:
        AuditError: no such entry, the checkpoint predates the entry or is ahead of the log, or the log
            today no longer has the checkpoint's root at its size (it was rewritten).
    """
    entry = load_entry(conn, seq)
    if entry is None:
        raise AuditError(f"audit entry seq={seq} does not exist")
    if seq > head.size:
        raise AuditError(f"audit entry {seq} is newer than the checkpoint (size {head.size}); issue a new checkpoint")
    plan = inclusion_proof_plan(seq - 1, head.size)
    size, hashes = load_nodes_and_size(conn, {*range_nodes(0, head.size), *plan.nodes()})  # one read
    if head.size > size:
        raise AuditError(
            f"the checkpoint at size {head.size} is ahead of the log ({size} entries): the log was truncated,"
            " or the checkpoint folder holds another database's checkpoints"
        )
    if _root_from(hashes, head.size) != head.root:
        raise AuditError(f"the log's first {head.size} entries no longer match the checkpoint's root")
    proof = plan.proof(hashes)
    return Receipt(entry, seq - 1, entry_leaf_hash(entry.entry_hash), tuple(proof), checkpoint)


def verify_extends(conn: psycopg.Connection, *, checkpoint: str, keys: Iterable[NoteKey]) -> AuditReport:
    """Check that the log today is an extension of a signed checkpoint kept outside the database.

    Every entry is re-hashed (chain and Merkle leaves, no stored hash trusted); the first ``size`` entries
    must give the checkpoint's root, the stored tree must equal the entries, and the stored tree's
    consistency proof from the checkpoint must verify. Truncation, rewriting and deleted checkpoint rows
    all show here, since what is trusted (the checkpoint and its key) is not in the database. From the
    ``audit.signing_begins`` entry on, every entry must be signed by one of ``keys`` (forged appends).

    Raises:
        AuditError: the checkpoint is malformed or not signed by one of ``keys``.
    """
    keys = list(keys)
    head = verify_checkpoint_note(checkpoint, keys)
    entries = load_entries(conn)
    chain = verify_chain(entries)
    problems = [*chain.problems, *entry_signature_problems(entries, [k.public_key for k in keys])]
    n = len(entries)
    leaves = [entry_leaf_hash(e.entry_hash) for e in entries]
    if n < head.size:
        problems.append(
            AuditProblem(n, "truncated", f"the log has {n} entries; the kept checkpoint vouches for {head.size}")
        )
    elif merkle_root(leaves[: head.size]) != head.root:
        problems.append(
            AuditProblem(head.size, "rewritten", f"the first {head.size} entries differ from the kept checkpoint")
        )
    stored = tree_size(conn)
    root_now = merkle_root(leaves)
    if stored != n or root_at(conn, stored) != root_now:
        problems.append(AuditProblem(n, "tree_mismatch", f"the stored Merkle tree ({stored} leaves) is not the log's"))
    elif n >= head.size and not verify_consistency(
        head.size, n, head.root, root_now, consistency_proof(conn, head.size, n)
    ):
        problems.append(AuditProblem(n, "inconsistent", "the log is not an extension of the kept checkpoint"))
    return AuditReport(n, chain.last_seq, 1, True, tuple(problems))
