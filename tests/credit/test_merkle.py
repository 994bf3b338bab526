"""credit/merkle.py against published RFC 6962 vectors and a recursive reference written from the RFC text.

Vectors: github.com/transparency-dev/merkle, files rfc6962/rfc6962_test.go (TestRFC6962Hasher) and
proof/verify_test.go (``leaves``, ``roots``, ``inclusionProofs``, ``consistencyProofs``), the same data as
certificate-transparency-go's merkletree tests. Their leaf indices there are 1-based; here 0-based.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credit.errors import AuditError
from credit.merkle import (
    EMPTY_ROOT,
    Node,
    consistency_proof,
    consistency_proof_plan,
    hash_children,
    hash_leaf,
    inclusion_proof,
    new_nodes_for_leaf,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

LEAVES = [
    h(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
]
ROOTS = [
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
# (1-based leaf, tree size, proof) from proof/verify_test.go
INCLUSION = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (1, 1, []),
]
CONSISTENCY = [
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (1, 1, []),
]
LEAF_HASHES = [hash_leaf(x) for x in LEAVES]


def test_hasher_vectors():
    assert EMPTY_ROOT == h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert hash_leaf(b"") == h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
    assert hash_leaf(b"L123456") == h("395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56")
    assert hash_children(b"N123", b"N456") == h("aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb")


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_match_published(size):
    assert root_hash(LEAF_HASHES[:size]) == ROOTS[size - 1]


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION)
def test_inclusion_proofs_match_published(leaf, size, proof):
    expected = [h(x) for x in proof]
    assert inclusion_proof(leaf - 1, LEAF_HASHES[:size]) == expected
    assert verify_inclusion(leaf - 1, size, LEAF_HASHES[leaf - 1], expected, ROOTS[size - 1])


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY)
def test_consistency_proofs_match_published(old, new, proof):
    expected = [h(x) for x in proof]
    assert consistency_proof(old, LEAF_HASHES[:new]) == expected
    assert verify_consistency(old, new, ROOTS[old - 1], ROOTS[new - 1], expected)


@pytest.mark.parametrize(("leaf", "size", "proof"), INCLUSION[:4])
def test_corrupted_inclusion_proofs_fail(leaf, size, proof):
    """The probes of verify_test.go's corruptInclusionProof."""
    good = [h(x) for x in proof]
    i, root, lh = leaf - 1, ROOTS[size - 1], LEAF_HASHES[leaf - 1]
    some = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    probes = [
        (i - 1, size, root, lh, good),
        (i + 1, size, root, lh, good),
        (i ^ 2, size, root, lh, good),
        (i, size * 2, root, lh, good),
        (i, size // 2, root, lh, good),
        (i, size, root, b"WrongLeaf", good),
        (i, size, EMPTY_ROOT, lh, good),
        (i, size, some, lh, good),
        (i, size, root, lh, [*good, b""]),
        (i, size, root, lh, [*good, root]),
        (i, size, root, lh, [b"", *good]),
        (i, size, root, lh, [root, *good]),
        (i, size, root, lh, good[:-1]),
        (i, size, root, lh, [good[0], some, *good[1:]]),
    ]
    for k in range(len(good)):
        flipped = list(good)
        flipped[k] = bytes([flipped[k][0] ^ 8]) + flipped[k][1:]
        probes.append((i, size, root, lh, flipped))
    for index, n, r, leaf_hash, p in probes:
        assert not verify_inclusion(index, n, leaf_hash, p, r), (index, n, p)


@pytest.mark.parametrize(("old", "new", "proof"), CONSISTENCY[:4])
def test_corrupted_consistency_proofs_fail(old, new, proof):
    """The probes of verify_test.go's corruptConsistencyProof."""
    good = [h(x) for x in proof]
    r1, r2 = ROOTS[old - 1], ROOTS[new - 1]
    probes = [
        (old - 1, new, r1, r2, good),
        (old + 1, new, r1, r2, good),
        (old ^ 2, new, r1, r2, good),
        (old, new * 2, r1, r2, good),
        (old, new // 2, r1, r2, good),
        (old, new, b"WrongRoot", r2, good),
        (old, new, r1, b"WrongRoot", good),
        (old, new, r2, r1, good),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*good, b""]),
        (old, new, r1, r2, [*good, r1]),
        (old, new, r1, r2, [*good, r2]),
        (old, new, r1, r2, [b"", *good]),
        (old, new, r1, r2, [r1, *good]),
        (old, new, r1, r2, [r2, *good]),
        (old, new, r1, r2, [good[0], *good]),
        (old, new, r1, r2, good[:-1]),
    ]
    for k in range(len(good)):
        flipped = list(good)
        flipped[k] = bytes([flipped[k][0] ^ 16]) + flipped[k][1:]
        probes.append((old, new, r1, r2, flipped))
    for o, n, a, b, p in probes:
        assert not verify_consistency(o, n, a, b, p), (o, n, p)


def test_trivial_consistency_cases():
    """verify_test.go TestVerifyConsistency: sizes that are always consistent, and time travel."""
    r1, r2 = hashlib.sha256(b"1").digest(), hashlib.sha256(b"2").digest()
    assert verify_consistency(0, 0, r1, r1, [])
    assert verify_consistency(0, 1, r1, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])
    assert not verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_bad_arguments_are_named():
    with pytest.raises(AuditError, match="index=3"):
        inclusion_proof(3, LEAF_HASHES[:3])
    with pytest.raises(AuditError, match="old_size=5"):
        consistency_proof_plan(5, 4)


def test_new_nodes_for_leaf():
    # leaf 7 (the 8th) completes the subtrees [6,8), [4,8) and [0,8)
    assert new_nodes_for_leaf(7) == [Node(0, 7), Node(1, 3), Node(2, 1), Node(3, 0)]
    assert new_nodes_for_leaf(4) == [Node(0, 4)]


# --- a reference written straight from RFC 6962 section 2.1, on lists, recursively ---


def _k(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d):
    if len(d) == 0:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m, d):
    if len(d) <= 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m, d, b):
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


entries = st.lists(st.binary(max_size=8), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(entries, st.data())
def test_proofs_agree_with_the_rfc_reference(data_list, data):
    leaf_hashes = [hash_leaf(x) for x in data_list]
    n = len(data_list)
    root = root_hash(leaf_hashes)
    assert root == ref_mth(data_list)
    m = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(m, leaf_hashes)
    assert proof == ref_path(m, data_list)
    assert verify_inclusion(m, n, leaf_hashes[m], proof, root)
    old = data.draw(st.integers(1, n))
    cproof = consistency_proof(old, leaf_hashes)
    assert cproof == (ref_subproof(old, data_list, True) if old < n else [])
    assert verify_consistency(old, n, ref_mth(data_list[:old]), root, cproof)
    if cproof:
        bad = [*cproof]
        bad[-1] = hashlib.sha256(bad[-1]).digest()
        assert not verify_consistency(old, n, ref_mth(data_list[:old]), root, bad)
    if old < n:  # a changed old leaf: the old root no longer matches
        changed = [*data_list[: old - 1], data_list[old - 1] + b"!"]
        assert not verify_consistency(old, n, ref_mth(changed), root, cproof)


@pytest.mark.parametrize("size", [1_000_000, 2**20, 2**20 + 1, 999_983])
def test_proofs_at_a_million_entries_read_logarithmically_many_nodes(size):
    """Every proof element is a handful of stored subtrees: at most (log2 n)^2 / 2 in all, in practice ~2 log2 n."""
    from credit.merkle import inclusion_proof_plan

    log2 = size.bit_length()
    for index in (0, size // 3, size - 1):
        assert len(inclusion_proof_plan(index, size).nodes()) <= 2 * log2
    for old in (1, size // 2 + 7, size - 1):
        assert len(consistency_proof_plan(old, size).nodes()) <= 2 * log2


def test_root_after_appending_equals_the_recursive_reference():
    from credit.merkle import range_nodes, root_after_appending

    d = [bytes([i]) * 3 for i in range(40)]
    for old in range(0, 21):
        frontier = [ref_mth(d[n.idx << n.level : (n.idx + 1) << n.level]) for n in range_nodes(0, old)] if old else []
        for new in range(old + 1, 41):
            leaves = [hashlib.sha256(b"\x00" + x).digest() for x in d[old:new]]
            assert root_after_appending(old, frontier, leaves) == ref_mth(d[:new]), (old, new)
