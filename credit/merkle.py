"""RFC 6962 / RFC 9162 Merkle tree hashing, inclusion and consistency proofs, as pure functions.

A leaf hashes as ``SHA-256(0x00 || entry)`` and a node as ``SHA-256(0x01 || left || right)``; the tree
over ``n`` leaves splits at the largest power of two below ``n`` (RFC 9162 section 2.1.1).

Proof generation never needs the leaves themselves: every proof element is the hash of a leaf range, and
every range a proof uses is a run of *complete, aligned subtrees* (a :class:`Node`, ``(level, idx)``
covering leaves ``[idx * 2**level, (idx + 1) * 2**level)``). A store that keeps each complete
subtree's hash therefore answers any proof with O(log n) node reads (:func:`inclusion_proof_plan`,
:func:`consistency_proof_plan`, then :func:`hash_nodes`). Verification follows the iterative algorithms
of RFC 9162 sections 2.1.3.2 and 2.1.4.2 and needs no store at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from credit.errors import AuditError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Node",
    "ProofPlan",
    "consistency_proof",
    "consistency_proof_plan",
    "hash_children",
    "hash_leaf",
    "hash_nodes",
    "inclusion_proof",
    "inclusion_proof_plan",
    "new_nodes_for_leaf",
    "range_nodes",
    "root_after_appending",
    "root_from_inclusion_proof",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]


class Node(NamedTuple):
    """A complete, aligned subtree: leaves ``[idx * 2**level, (idx + 1) * 2**level)``."""

    level: int
    idx: int


class ProofPlan(NamedTuple):
    """The nodes a proof needs, and how they fold into the proof's hashes (one tuple per proof element)."""

    elements: tuple[tuple[Node, ...], ...]

    def nodes(self) -> set[Node]:
        """Every node to read, once."""
        return {n for element in self.elements for n in element}

    def proof(self, hashes: Mapping[Node, bytes]) -> list[bytes]:
        """The proof, from the hash of each node in :meth:`nodes`.

        Raises:
            AuditError: a needed node is missing from ``hashes``.
        """
        return [hash_nodes([_lookup(hashes, n) for n in element]) for element in self.elements]


def _lookup(hashes: Mapping[Node, bytes], node: Node) -> bytes:
    try:
        return hashes[node]
    except KeyError:
        raise AuditError(f"Merkle node level={node.level} index={node.idx} is missing from the tree") from None


def hash_leaf(entry: bytes) -> bytes:
    """The leaf hash ``SHA-256(0x00 || entry)``."""
    return hashlib.sha256(b"\x00" + entry).digest()


def hash_children(left: bytes, right: bytes) -> bytes:
    """The interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def hash_nodes(hashes: Sequence[bytes]) -> bytes:
    """The hash of a leaf range from its complete subtrees, largest first (as :func:`range_nodes` lists them).

    The RFC splits a range at its largest power of two, so the range's hash is the right fold
    ``H(n0, H(n1, ... H(n_k-1, n_k)))``.
    """
    if not hashes:
        raise AuditError("a Merkle range needs at least one node")
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = hash_children(h, acc)
    return acc


def root_after_appending(old_size: int, frontier: Sequence[bytes], leaf_hashes: Sequence[bytes]) -> bytes:
    """The root of the tree of ``old_size + len(leaf_hashes)`` leaves, from the old tree's complete subtrees.

    Args:
        old_size: the leaves already in the tree.
        frontier: the hashes of ``range_nodes(0, old_size)``, largest first (empty when ``old_size`` is 0).
        leaf_hashes: the appended leaves' hashes, in order.

    Raises:
        AuditError: the frontier does not have one hash per complete subtree, or the tree stays empty.
    """
    levels = [n.level for n in range_nodes(0, old_size)] if old_size else []
    if len(frontier) != len(levels):
        raise AuditError(f"a tree of {old_size} leaves has {len(levels)} complete subtrees, not {len(frontier)}")
    stack = list(zip(levels, frontier, strict=True))
    for leaf in leaf_hashes:
        level, node = 0, leaf
        while stack and stack[-1][0] == level:  # two equal subtrees side by side merge into their parent
            _, left = stack.pop()
            level, node = level + 1, hash_children(left, node)
        stack.append((level, node))
    return hash_nodes([h for _, h in stack])


def range_nodes(start: int, end: int) -> tuple[Node, ...]:
    """The complete subtrees, largest first, that make up leaves ``[start, end)`` of a proof.

    Every range an RFC 9162 proof uses starts at a multiple of the largest power of two it holds, so the
    greedy split below yields strictly decreasing sizes.
    """
    if not 0 <= start < end:
        raise AuditError(f"Merkle range [{start}, {end}) is empty or negative")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        while start % (1 << level):
            level -= 1
        nodes.append(Node(level, start >> level))
        start += 1 << level
    return tuple(nodes)


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _inclusion_ranges(index: int, start: int, end: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(old: int, start: int, end: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    complete = True
    while True:
        n = end - start
        if old == n:
            if not complete:
                ranges.append((start, end))
            break
        k = _split(n)
        if old <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, old, complete = start + k, old - k, False
    ranges.reverse()
    return ranges


def _check_size(name: str, value: int) -> None:
    if value < 0:
        raise AuditError(f"Merkle {name}={value}; it must be 0 or more")


def inclusion_proof_plan(index: int, size: int) -> ProofPlan:
    """The nodes of the inclusion proof of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1).

    Raises:
        AuditError: ``index`` is not a leaf of that tree.
    """
    _check_size("size", size)
    if not 0 <= index < size:
        raise AuditError(f"Merkle leaf index={index} is outside a tree of size {size}")
    return ProofPlan(tuple(range_nodes(s, e) for s, e in _inclusion_ranges(index, 0, size)))


def consistency_proof_plan(old_size: int, new_size: int) -> ProofPlan:
    """The nodes of the proof that the tree of ``new_size`` extends the one of ``old_size`` (RFC 9162 2.1.4.1).

    Empty when ``old_size`` is 0 or equal to ``new_size``.

    Raises:
        AuditError: ``old_size`` is negative or above ``new_size``.
    """
    _check_size("old_size", old_size)
    if old_size > new_size:
        raise AuditError(f"Merkle old_size={old_size} is above new_size={new_size}: a log never shrinks")
    if old_size in (0, new_size):
        return ProofPlan(())
    return ProofPlan(tuple(range_nodes(s, e) for s, e in _consistency_ranges(old_size, 0, new_size)))


def new_nodes_for_leaf(index: int) -> list[Node]:
    """The complete subtrees that leaf ``index`` finishes, bottom up, starting with the leaf itself."""
    _check_size("index", index)
    nodes = [Node(0, index)]
    level = 0
    while index & 1:
        index >>= 1
        level += 1
        nodes.append(Node(level, index))
    return nodes


def _from_leaves(leaf_hashes: Sequence[bytes]) -> Callable[[Node], bytes]:
    cache: dict[Node, bytes] = {}

    def node_hash(node: Node) -> bytes:
        if node.level == 0:
            return leaf_hashes[node.idx]
        if node not in cache:
            left = node_hash(Node(node.level - 1, 2 * node.idx))
            right = node_hash(Node(node.level - 1, 2 * node.idx + 1))
            cache[node] = hash_children(left, right)
        return cache[node]

    return node_hash


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of a list of leaf hashes (:data:`EMPTY_ROOT` for none)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    # a stack of complete subtrees (the "compact range"): merge equal levels as leaves arrive
    stack: list[tuple[int, bytes]] = []
    for leaf in leaf_hashes:
        level, acc = 0, leaf
        while stack and stack[-1][0] == level:
            acc = hash_children(stack.pop()[1], acc)
            level += 1
        stack.append((level, acc))
    return hash_nodes([h for _, h in stack])


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The inclusion proof of leaf ``index`` in the tree over ``leaf_hashes`` (held in memory)."""
    plan = inclusion_proof_plan(index, len(leaf_hashes))
    node_hash = _from_leaves(leaf_hashes)
    return plan.proof({n: node_hash(n) for n in plan.nodes()})


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The consistency proof from the first ``old_size`` leaves to all of ``leaf_hashes`` (held in memory)."""
    plan = consistency_proof_plan(old_size, len(leaf_hashes))
    node_hash = _from_leaves(leaf_hashes)
    return plan.proof({n: node_hash(n) for n in plan.nodes()})


def _check_hashes(proof: Iterable[bytes], *more: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in (*proof, *more)):
        raise AuditError(f"every Merkle hash must be {HASH_SIZE} bytes")


def root_from_inclusion_proof(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size`` (RFC 9162 2.1.3.2).

    Raises:
        AuditError: the index is outside the tree, a hash is not 32 bytes, or the proof has the wrong length.
    """
    _check_size("size", size)
    if not 0 <= index < size:
        raise AuditError(f"Merkle leaf index={index} is outside a tree of size {size}")
    _check_hashes(proof, leaf_hash)
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise AuditError(f"inclusion proof has {len(proof)} hashes; too many for index {index} of {size}")
        if fn & 1 or fn == sn:
            r = hash_children(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hash_children(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise AuditError(f"inclusion proof has {len(proof)} hashes; too few for index {index} of {size}")
    return r


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree of ``size`` with ``root``.

    A malformed proof (wrong length, wrong hash size, index outside the tree) is simply not valid.
    """
    try:
        return root_from_inclusion_proof(index, size, leaf_hash, proof) == root
    except AuditError:
        return False


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree ``(new_size, new_root)`` extends ``(old_size, old_root)`` (RFC 9162 2.1.4.2).

    A malformed proof is simply not valid.
    """
    if old_size < 0 or old_size > new_size:
        return False
    if any(len(h) != HASH_SIZE for h in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
