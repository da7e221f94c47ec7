"""Merkle roots over ordered lists (a block's txs and receipts), with inclusion proofs.

The tree is RFC 6962's: leaves hashed as H(0x00 || leaf), nodes as H(0x01 || left ||
right), a list of n > 1 leaves split at the largest power of two below n. The root of the
empty list is H(b""). Domain separation stops a node being passed off as a leaf.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.hashing import DOMAIN_MERKLE_LEAF, DOMAIN_MERKLE_NODE, sha256
from core.schema import HASH, U64, Seq, Wired, record, wire

EMPTY_ROOT = sha256(b"")
MAX_PROOF_DEPTH = 64


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(DOMAIN_MERKLE_LEAF + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(DOMAIN_MERKLE_NODE + left + right)


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    # Bottom-up pairing gives the same tree as the recursive RFC 6962 split: an odd node
    # at the end of a level is carried up unchanged.
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The root over ``leaves`` (raw leaf bytes, e.g. tx hashes)."""
    if not leaves:
        return EMPTY_ROOT
    return _root_of_hashes([leaf_hash(x) for x in leaves])


@record(None)
@dataclass(frozen=True)
class MerkleProof(Wired):
    """The audit path of leaf ``index`` in a tree of ``size`` leaves, bottom-up."""

    index: int = wire(U64)
    size: int = wire(U64)
    path: tuple[bytes, ...] = wire(Seq(HASH, MAX_PROOF_DEPTH))


def merkle_proof(leaves: Sequence[bytes], index: int) -> MerkleProof:
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    path: list[bytes] = []
    level = [leaf_hash(x) for x in leaves]
    i = index
    while len(level) > 1:
        sibling = i ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        nxt = [node_hash(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
        i //= 2
    return MerkleProof(index, len(leaves), tuple(path))


def verify_merkle_proof(root: bytes, leaf: bytes, proof: MerkleProof) -> bool:
    """True if ``leaf`` is at ``proof.index`` of the tree with ``root``."""
    if not 0 <= proof.index < proof.size or len(proof.path) > MAX_PROOF_DEPTH:
        return False
    h = leaf_hash(leaf)
    i, width = proof.index, proof.size
    path = iter(proof.path)
    while width > 1:
        if i ^ 1 < width:  # has a sibling at this level
            sib = next(path, None)
            if sib is None:
                return False
            h = node_hash(sib, h) if i & 1 else node_hash(h, sib)
        i //= 2
        width = (width + 1) // 2
    return next(path, None) is None and h == root
