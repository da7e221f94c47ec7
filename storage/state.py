"""The state commitment: a 16-ary Merkle radix tree over sha256(key) -> value.

Shape (Jellyfish-style). A key's path is the 64 nibbles of sha256(key). An internal node
has 16 child slots; a subtree that holds a single key is a leaf placed at the shallowest
slot where its path is unique, and a node left with one leaf child after a delete gives
that leaf to its parent. So the tree is a function of the key-value set only: any order
or any split into blocks of the same final writes gives the same root.

Hashes (SHA-256, tags distinct from core.merkle's):
  leaf     = H(0x10 || sha256(key) || sha256(value))
  internal = H(0x11 || slot_0 || ... || slot_15)      (an empty slot is 32 zero bytes)
  root of the empty state = EMPTY_ROOT = H(b"hkchain/state/empty")
A 16-ary node costs one 513-byte hash per level (about 5 levels at 1M keys), which is
what keeps updates fast in Python; the price is proofs of up to 15 sibling hashes per
level (about 2.4 KB at 1M keys).

Storage. Nodes are immutable and keyed by (version, nibble path): a block at height h
writes new nodes with version h and never overwrites, so the tree of every kept height
stays readable (``prove(key, height)``). Version first, under the store's last prefix,
makes each block's nodes one key range above all others, which LevelDB moves down its
levels without merging (schema.state_node_key). A replaced node is listed in one stale record
under the height that replaced it; once that height is ``keep_heights`` behind the head
the listed nodes are deleted, so the trees of the last ``keep_heights`` + 1 heights are
provable (DEFAULT_KEEP_HEIGHTS = 256; None keeps every height). Decoded internal nodes of
the top ``cache_depth`` levels of the head tree stay in memory (at most 16**cache_depth
live ones, about 1 KB each); deeper nodes and leaves are read from the KV store. The
head's values are also kept in a flat table (schema.STATE_VALUE) so reads never walk
the tree.

Cost of a block. Keys are sorted by hash and applied in one pass, so nodes shared by
several keys are rewritten once; per key the work is about log16(state size) node
rewrites. A leaf being replaced must be recognised as the key's own: the overlay keeps
the committed values execution read, and a leaf whose hash matches needs no read back.

Overlays hold pending writes in a dict over the committed state or another overlay;
``root()`` runs the tree update in memory and caches the result, which ChainStore then
writes in the block's batch. Writes are absolute values, so an overlay stacked on one
that has since been committed still computes the right root.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from core.errors import DecodeError
from core.hashing import HASH_SIZE, ZERO_HASH
from core.schema import HASH, B, Pair, Seq, U, Wired, record, wire
from storage import schema
from storage.api import KeyValueStore, WriteBatch
from storage.errors import CorruptStore, StorageError

EMPTY_ROOT = hashlib.sha256(b"hkchain/state/empty").digest()
LEAF_TAG = b"\x10"
NODE_TAG = b"\x11"
MAX_STATE_KEY_BYTES = 1024
MAX_STATE_VALUE_BYTES = 1 << 20
MAX_TREE_DEPTH = 64  # nibbles in a sha256
DEFAULT_KEEP_HEIGHTS = 256
DEFAULT_CACHE_DEPTH = 4
MAX_CACHE_DEPTH = 6
MAX_PRUNE_HEIGHTS_PER_COMMIT = 8
MAX_REMEMBERED_READS = 100_000

_ENC_INTERNAL = 1  # in root references
_ENC_LEAF = 2
_ENC_SPARSE = 3  # internal node: present bits, leaf bits, (hash, version) per child
_ENC_DENSE = 4  # internal node: present bits, leaf bits, 16 hashes, 16 versions
_DENSE_MIN_CHILDREN = 8
_DENSE_BYTES = 5 + 16 * 32 + 16 * 8
_ZERO_VERSION = bytes(8)
_SPARSE_HEAD = bytes((_ENC_SPARSE,))
_DENSE_HEAD = bytes((_ENC_DENSE,))
_U64 = struct.Struct(">Q")
_U16 = struct.Struct(">H")
_U16x2 = struct.Struct(">HH")
_LEAF_HEAD = bytes((_ENC_LEAF,))
_NIBBLE_BYTES = tuple(bytes((i,)) for i in range(16))
_LENGTH_BYTES = tuple(bytes((i,)) for i in range(MAX_TREE_DEPTH + 1))
_sha256 = hashlib.sha256
_NODE = schema.STATE_NODE


class StateLimitError(StorageError):
    """A state key or value over the size limits (a bug of the writer)."""

    code = "state_limit"


def leaf_hash(key_hash: bytes, value: bytes) -> bytes:
    return _sha256(LEAF_TAG + key_hash + _sha256(value).digest()).digest()


@functools.cache  # at most 65,536 entries: one per 16-bit mask
def _slots(mask: int) -> tuple[int, ...]:
    """The set slots of a node's 16-bit mask, so loops skip empty slots."""
    return tuple(i for i in range(16) if mask >> i & 1)


def _nibble(key_hash: bytes, depth: int) -> int:
    b = key_hash[depth >> 1]
    return b & 15 if depth & 1 else b >> 4


# --- nodes ------------------------------------------------------------------------------

# A reference to a child: (hash, version, is_leaf). None is an empty slot.
Ref = tuple[bytes, int, bool]


class _Node:
    """A decoded internal node, packed: the 16 slot hashes as one 512-byte string (an
    empty slot is 32 zero bytes), the 16 versions as one 128-byte string, and bitmasks
    of the non-empty slots and of the slots holding leaves. Packed strings keep a node
    at two objects, and make its hash and its dense encoding single C calls."""

    __slots__ = ("hashes", "leaves", "present", "versions")

    def __init__(self, hashes: bytes, versions: bytes, present: int, leaves: int) -> None:
        self.hashes = hashes
        self.versions = versions
        self.present = present
        self.leaves = leaves

    def child(self, i: int) -> Ref | None:
        if not self.present >> i & 1:
            return None
        return (
            self.hashes[i * 32 : i * 32 + 32],
            _U64.unpack_from(self.versions, i * 8)[0],
            bool(self.leaves >> i & 1),
        )

    def with_child(self, i: int, ref: Ref | None) -> _Node:
        bit = 1 << i
        o = i * 32
        v = i * 8
        if ref is None:
            return _Node(
                self.hashes[:o] + ZERO_HASH + self.hashes[o + 32 :],
                self.versions[:v] + _ZERO_VERSION + self.versions[v + 8 :],
                self.present & ~bit,
                self.leaves & ~bit,
            )
        return _Node(
            self.hashes[:o] + ref[0] + self.hashes[o + 32 :],
            self.versions[:v] + _U64.pack(ref[1]) + self.versions[v + 8 :],
            self.present | bit,
            self.leaves | bit if ref[2] else self.leaves & ~bit,
        )

    def hash(self) -> bytes:
        return _sha256(NODE_TAG + self.hashes).digest()

    def encode(self) -> bytes:
        present = self.present
        if present.bit_count() >= _DENSE_MIN_CHILDREN:
            return _DENSE_HEAD + _U16x2.pack(present, self.leaves) + self.hashes + self.versions
        parts = [_SPARSE_HEAD + _U16x2.pack(present, self.leaves)]
        hashes, versions = self.hashes, self.versions
        for i in _slots(present):
            parts.append(hashes[i * 32 : i * 32 + 32])
            parts.append(versions[i * 8 : i * 8 + 8])
        return b"".join(parts)


def _decode_node(data: bytes) -> _Node:
    kind = data[0] if data else -1
    if kind == _ENC_DENSE:
        if len(data) != _DENSE_BYTES:
            raise CorruptStore("state tree: dense node of the wrong length")
        present, leaves = _U16x2.unpack_from(data, 1)
        return _Node(data[5:517], data[517:645], present, leaves)
    if kind != _ENC_SPARSE or len(data) < 5:
        raise CorruptStore("state tree: expected an internal node")
    present, leaves = _U16x2.unpack_from(data, 1)
    hashes = [ZERO_HASH] * 16
    versions = [_ZERO_VERSION] * 16
    off = 5
    for i in _slots(present):
        hashes[i] = data[off : off + 32]
        versions[i] = data[off + 32 : off + 40]
        off += 40
    if off != len(data) or leaves & ~present:
        raise CorruptStore("state tree: malformed sparse node")
    return _Node(b"".join(hashes), b"".join(versions), present, leaves)


def _decode_leaf(data: bytes) -> tuple[bytes, bytes]:
    if len(data) < 33 or data[0] != _ENC_LEAF:
        raise CorruptStore("state tree: expected a leaf")
    return data[1:33], data[33:]


def _encode_ref(ref: Ref | None) -> bytes:
    if ref is None:
        return b"\x00"
    return bytes((_ENC_LEAF if ref[2] else _ENC_INTERNAL,)) + ref[0] + _U64.pack(ref[1])


def _decode_ref(data: bytes) -> Ref | None:
    if data == b"\x00":
        return None
    if len(data) != 41 or data[0] not in (_ENC_INTERNAL, _ENC_LEAF):
        raise CorruptStore("state tree: bad root reference")
    return (data[1:33], _U64.unpack_from(data, 33)[0], data[0] == _ENC_LEAF)


# --- proofs ---------------------------------------------------------------------------

PROOF_INCLUSION = 0  # the key's own leaf
PROOF_EMPTY = 1  # the key's path ends in an empty slot (or the state is empty)
PROOF_OTHER_LEAF = 2  # the key's path ends in the leaf of another key


@record(None)
@dataclass(frozen=True)
class StateProof(Wired):
    """The path from the root to where ``key`` is or would be.

    ``levels[d]`` is (bitmap, hashes) of the node at depth d: the bit of every non-empty
    slot other than the key's own, and their hashes in slot order. For PROOF_OTHER_LEAF,
    ``other_key_hash``/``other_value_hash`` describe the leaf found instead.
    """

    WIRE_NOTE: ClassVar[str] = ("kind 0 inclusion, 1 absence (empty slot), 2 absence "
                                "(another key's leaf); one hash per set bit of a level's "
                                "bitmap; the other hashes are 32 bytes for kind 2, empty "
                                "otherwise (section 8).")

    kind: int = wire(U(PROOF_INCLUSION, PROOF_OTHER_LEAF))
    levels: tuple[tuple[int, tuple[bytes, ...]], ...] = wire(
        Seq(Pair(U(0, (1 << 16) - 1), Seq(HASH, 15)), MAX_TREE_DEPTH))
    other_key_hash: bytes = wire(B(max_size=HASH_SIZE), default=b"")
    other_value_hash: bytes = wire(B(max_size=HASH_SIZE), default=b"")

    def _decoded(self, value: Any) -> None:
        """Strict beyond the field types: the counts and sizes that fit together."""
        for bitmap, hashes in self.levels:
            if len(hashes) != bitmap.bit_count():
                raise DecodeError("state proof: one hash per bitmap bit")
        want = HASH_SIZE if self.kind == PROOF_OTHER_LEAF else 0
        if len(self.other_key_hash) != want or len(self.other_value_hash) != want:
            raise DecodeError("state proof: other-leaf hashes only for kind 2, 32 bytes")

    def verify(self, root: bytes, key: bytes, value: bytes | None) -> bool:
        return verify_state_proof(root, key, value, self)


def verify_state_proof(root: bytes, key: bytes, value: bytes | None, proof: StateProof) -> bool:
    """True iff ``proof`` shows that under ``root`` the state maps ``key`` to ``value``
    (None: ``key`` is absent). A pure function: a light client needs only this module."""
    if type(key) is not bytes or (value is not None and type(value) is not bytes):
        return False
    levels = proof.levels
    if len(levels) > MAX_TREE_DEPTH:
        return False
    kh = _sha256(key).digest()
    h: bytes | None
    if proof.kind == PROOF_INCLUSION:
        if value is None:
            return False
        h = leaf_hash(kh, value)
    elif proof.kind == PROOF_EMPTY:
        if value is not None:
            return False
        h = None
    elif proof.kind == PROOF_OTHER_LEAF:
        okh = proof.other_key_hash
        if value is not None or len(okh) != HASH_SIZE or okh == kh:
            return False
        if len(proof.other_value_hash) != HASH_SIZE:
            return False
        if any(_nibble(okh, d) != _nibble(kh, d) for d in range(len(levels))):
            return False  # that leaf could not sit on the key's path
        h = _sha256(LEAF_TAG + okh + proof.other_value_hash).digest()
    else:
        return False
    for depth in range(len(levels) - 1, -1, -1):
        bitmap, hashes = levels[depth]
        n = _nibble(kh, depth)
        if bitmap >> n & 1 or bitmap.bit_count() != len(hashes) or bitmap >> 16:
            return False
        if bitmap == 0 and h is None:
            return False
        slots = [ZERO_HASH] * 16
        it = iter(hashes)
        for i in range(16):
            if bitmap >> i & 1:
                slots[i] = next(it)
        slots[n] = ZERO_HASH if h is None else h
        h = _sha256(NODE_TAG + b"".join(slots)).digest()
    if h is None:
        return root == EMPTY_ROOT
    return h == root


# --- the tree update ------------------------------------------------------------------


class TreeUpdate:
    """The result of applying changes to one tree: new nodes to write, replaced ones."""

    __slots__ = (
        "base_root",
        "cached_nodes",
        "changes",
        "known",
        "new_nodes",
        "root_ref",
        "stale",
        "version",
        "version_bytes",
    )

    def __init__(self, base_root: Ref | None, version: int, changes: dict[bytes, bytes | None]):
        self.base_root = base_root
        self.version = version
        self.version_bytes = _U64.pack(version)
        self.changes = changes
        self.known: dict[bytes, bytes] = {}
        self.new_nodes: dict[bytes, bytes] = {}
        self.cached_nodes: dict[bytes, _Node] = {}
        self.stale: list[bytes] = []
        self.root_ref: Ref | None = base_root

    @property
    def root(self) -> bytes:
        return EMPTY_ROOT if self.root_ref is None else self.root_ref[0]


class StateTree:
    """The versioned node store and the update algorithm."""

    def __init__(self, kv: KeyValueStore, *, cache_depth: int = DEFAULT_CACHE_DEPTH) -> None:
        self._kv = kv
        self._cache_depth = cache_depth
        self._cache: dict[bytes, _Node] = {}
        if not 0 <= cache_depth <= MAX_CACHE_DEPTH:
            raise ValueError(f"cache_depth must be in 0..{MAX_CACHE_DEPTH}")
        # Twice the live internal nodes above cache_depth: room for nodes read by an
        # overlay's root() that a concurrent commit has since replaced.
        self._cache_limit = 2 * (16**cache_depth - 1) // 15 + 64

    # reads (``prefix`` is schema.state_node_path(path); a node key is _NODE + version + it)

    def _load_node(self, prefix: bytes, version: int, pending: dict[bytes, bytes] | None) -> _Node:
        key = _NODE + _U64.pack(version) + prefix
        node = self._cache.get(key)
        if node is not None:
            return node
        data = pending.get(key) if pending is not None else None
        if data is None:
            data = self._kv.get(key)
            if data is None:
                raise CorruptStore(f"state tree: missing node {key.hex()}")
        node = _decode_node(data)
        if pending is not None and prefix[0] < self._cache_depth:
            if len(self._cache) >= self._cache_limit:
                self._cache.clear()
            self._cache[key] = node
        return node

    def _load_leaf(
        self, prefix: bytes, version: int, pending: dict[bytes, bytes] | None
    ) -> tuple[bytes, bytes]:
        key = _NODE + _U64.pack(version) + prefix
        data = pending.get(key) if pending is not None else None
        if data is None:
            data = self._kv.get(key)
            if data is None:
                raise CorruptStore(f"state tree: missing leaf {key.hex()}")
        return _decode_leaf(data)

    # the update

    def compute(
        self,
        root: Ref | None,
        changes: dict[bytes, bytes | None],
        version: int,
        known: dict[bytes, bytes | None] | None = None,
    ) -> TreeUpdate:
        """Apply ``changes`` to the tree at ``root``. ``known`` may give keys' values in
        that tree (what execution read): a leaf whose hash matches is not read back."""
        upd = TreeUpdate(root, version, changes)
        hashed = [(_sha256(k).digest(), k, v) for k, v in changes.items()]
        items = sorted([(kh, v) for kh, _, v in hashed])
        if known:
            for kh, k, _ in hashed:
                old = known.get(k)
                if old is not None:
                    upd.known[kh] = old
        if items:
            upd.root_ref = self._update(upd, root, b"", items)
        return upd

    def _stale(self, upd: TreeUpdate, prefix: bytes, version: int) -> None:
        key = _NODE + _U64.pack(version) + prefix
        if version == upd.version and key in upd.new_nodes:
            del upd.new_nodes[key]  # made and replaced within this update: never written
            upd.cached_nodes.pop(key, None)
        else:
            upd.stale.append(key)

    def _put_leaf(self, upd: TreeUpdate, prefix: bytes, key_hash: bytes, value: bytes) -> Ref:
        upd.new_nodes[_NODE + upd.version_bytes + prefix] = _LEAF_HEAD + key_hash + value
        return (
            _sha256(LEAF_TAG + key_hash + _sha256(value).digest()).digest(),
            upd.version,
            True,
        )

    def _put_node(self, upd: TreeUpdate, prefix: bytes, node: _Node) -> Ref:
        key = _NODE + upd.version_bytes + prefix
        upd.new_nodes[key] = node.encode()
        if prefix[0] < self._cache_depth:
            upd.cached_nodes[key] = node
        return (_sha256(NODE_TAG + node.hashes).digest(), upd.version, False)

    def _build(self, upd: TreeUpdate, path: bytes, live: list[tuple[bytes, bytes]]) -> Ref | None:
        """A fresh subtree at ``path`` holding ``live`` (sorted by key hash)."""
        if not live:
            return None
        prefix = schema.state_node_path(path)
        if len(live) == 1:
            return self._put_leaf(upd, prefix, live[0][0], live[0][1])
        depth = len(path)
        if depth >= MAX_TREE_DEPTH:
            raise CorruptStore("state tree: two keys with one hash")
        hashes = [ZERO_HASH] * 16
        versions = [_ZERO_VERSION] * 16
        present = leaves = 0
        i, n = 0, len(live)
        while i < n:
            nib = _nibble(live[i][0], depth)
            j = i + 1
            while j < n and _nibble(live[j][0], depth) == nib:
                j += 1
            ref = self._build(upd, path + _NIBBLE_BYTES[nib], live[i:j])
            assert ref is not None
            hashes[nib] = ref[0]
            versions[nib] = _U64.pack(ref[1])
            present |= 1 << nib
            if ref[2]:
                leaves |= 1 << nib
            i = j
        node = _Node(b"".join(hashes), b"".join(versions), present, leaves)
        return self._put_node(upd, prefix, node)

    def _update(
        self, upd: TreeUpdate, ref: Ref | None, path: bytes, items: list[tuple[bytes, bytes | None]]
    ) -> Ref | None:
        """The subtree at ``path`` (now ``ref``) after applying ``items`` (sorted)."""
        if ref is None:
            return self._build(upd, path, [(k, v) for k, v in items if v is not None])
        pending = upd.new_nodes
        prefix = schema.state_node_path(path)
        if ref[2]:
            if len(items) == 1 and upd.known:
                old = upd.known.get(items[0][0])
                if old is not None and leaf_hash(items[0][0], old) == ref[0]:
                    lkh, lvalue = items[0][0], old
                else:
                    lkh, lvalue = self._load_leaf(prefix, ref[1], pending)
            else:
                lkh, lvalue = self._load_leaf(prefix, ref[1], pending)
            if len(items) == 1 and items[0][0] == lkh:
                value = items[0][1]
                if value == lvalue:
                    return ref
                self._stale(upd, prefix, ref[1])
                if value is None:
                    return None
                return self._put_leaf(upd, prefix, lkh, value)
            live: list[tuple[bytes, bytes]] = []
            placed = False
            for k, v in items:
                if not placed and k >= lkh:
                    placed = True
                    if k != lkh:
                        live.append((lkh, lvalue))
                if v is not None:
                    live.append((k, v))
            if not placed:
                live.append((lkh, lvalue))
            if len(live) == 1 and live[0][0] == lkh and live[0][1] == lvalue:
                return ref  # only deletes of absent keys
            self._stale(upd, prefix, ref[1])
            return self._build(upd, path, live)

        if len(items) == 1:
            return self._update_one(upd, ref, path, items)
        node = orig = self._load_node(prefix, ref[1], pending)
        depth = len(path)
        i, n = 0, len(items)
        while i < n:
            nib = _nibble(items[i][0], depth)
            j = i + 1
            while j < n and _nibble(items[j][0], depth) == nib:
                j += 1
            child = orig.child(nib)
            new = self._update(upd, child, path + _NIBBLE_BYTES[nib], items[i:j])
            if new != child:
                node = node.with_child(nib, new)
            i = j
        if node is orig:
            return ref
        self._stale(upd, prefix, ref[1])
        return self._finish_node(upd, prefix, path, node)

    def _finish_node(self, upd: TreeUpdate, prefix: bytes, path: bytes, node: _Node) -> Ref | None:
        """Write a changed internal node, or what replaces it if it lost children: nothing
        (no child left) or its only leaf, which moves up to this node's place."""
        present = node.present
        if present == 0:
            return None
        if present.bit_count() == 1 and node.leaves == present:
            s = present.bit_length() - 1
            child_prefix = schema.state_node_path(path + _NIBBLE_BYTES[s])
            version = _U64.unpack_from(node.versions, s * 8)[0]
            lkh, lvalue = self._load_leaf(child_prefix, version, upd.new_nodes)
            self._stale(upd, child_prefix, version)
            return self._put_leaf(upd, prefix, lkh, lvalue)
        return self._put_node(upd, prefix, node)

    def _update_one(
        self, upd: TreeUpdate, ref: Ref, path: bytes, items: list[tuple[bytes, bytes | None]]
    ) -> Ref | None:
        """``_update`` of one key under an internal node of the committed tree: the common
        case below the top levels. A loop down and a loop up with the node operations
        inlined, as this is the hottest code of a block commit."""
        pending = upd.new_nodes
        kh = items[0][0]
        depth = len(path)
        trail: list[tuple[bytes, int, _Node, int]] = []
        child: Ref | None = ref
        while child is not None and not child[2]:
            prefix = _LENGTH_BYTES[depth] + path
            node = self._load_node(prefix, child[1], pending)
            b = kh[depth >> 1]
            nib = b & 15 if depth & 1 else b >> 4
            trail.append((prefix, child[1], node, nib))
            bit = 1 << nib
            if node.present & bit:
                o = nib << 5
                child = (
                    node.hashes[o : o + 32],
                    _U64.unpack_from(node.versions, nib << 3)[0],
                    bool(node.leaves & bit),
                )
            else:
                child = None
            path += _NIBBLE_BYTES[nib]
            depth += 1
        new = self._update(upd, child, path, items)
        if new == child:
            return ref
        version = upd.version
        version_bytes = upd.version_bytes
        stale = upd.stale
        cache_depth = self._cache_depth
        for prefix, old_version, node, nib in reversed(trail):
            path = path[:-1]
            depth -= 1
            stale.append(_NODE + _U64.pack(old_version) + prefix)  # trail nodes are all committed
            bit = 1 << nib
            o = nib << 5
            v = nib << 3
            if new is None:
                hashes = node.hashes[:o] + ZERO_HASH + node.hashes[o + 32 :]
                versions = node.versions[:v] + _ZERO_VERSION + node.versions[v + 8 :]
                present = node.present & ~bit
                leaves = node.leaves & ~bit
            else:
                hashes = node.hashes[:o] + new[0] + node.hashes[o + 32 :]
                versions = node.versions[:v] + _U64.pack(new[1]) + node.versions[v + 8 :]
                present = node.present | bit
                leaves = node.leaves | bit if new[2] else node.leaves & ~bit
            if present & (present - 1) == 0:  # at most one child left
                new = self._finish_node(upd, prefix, path, _Node(hashes, versions, present, leaves))
                continue
            fresh = _Node(hashes, versions, present, leaves)
            key = _NODE + version_bytes + prefix
            pending[key] = fresh.encode()
            if depth < cache_depth:
                upd.cached_nodes[key] = fresh
            new = (_sha256(NODE_TAG + hashes).digest(), version, False)
        return new

    # commit

    def write(self, upd: TreeUpdate, batch: WriteBatch, height: int) -> None:
        """Stage ``upd`` (computed with version == height) into the block's batch."""
        for key, data in upd.new_nodes.items():
            batch.put(key, data)
        if upd.stale:
            # One record per height lists the replaced nodes: prune reads it back.
            batch.put(
                schema.state_stale_key(height),
                b"".join([_U16.pack(len(k)) + k for k in upd.stale]),
            )
        batch.put(schema.state_root_key(height), _encode_ref(upd.root_ref))

    def committed(self, upd: TreeUpdate) -> None:
        """Adopt ``upd``'s nodes in the cache once its batch is durable."""
        cache = self._cache
        for key in upd.stale:
            cache.pop(key, None)
        if len(cache) + len(upd.cached_nodes) > self._cache_limit:
            cache.clear()
        cache.update(upd.cached_nodes)

    def prune(self, batch: WriteBatch, first: int, last: int) -> None:
        """Delete nodes replaced at heights first..last and the roots they belonged to."""
        for height in range(first, last + 1):
            stale_key = schema.state_stale_key(height)
            record = self._kv.get(stale_key)
            if record is not None:
                off = 0
                while off < len(record):
                    (length,) = _U16.unpack_from(record, off)
                    batch.delete(record[off + 2 : off + 2 + length])
                    off += 2 + length
                batch.delete(stale_key)
            if height > 0:
                batch.delete(schema.state_root_key(height - 1))

    def root_at(self, height: int) -> Ref | None:
        data = self._kv.get(schema.state_root_key(height))
        if data is None:
            raise KeyError(f"state of height {height} is not kept")
        return _decode_ref(data)

    def lookup(self, root: Ref | None, key: bytes) -> bytes | None:
        """The value of ``key`` in the tree of ``root``, read from its immutable nodes."""
        kh = _sha256(key).digest()
        path = b""
        ref = root
        while ref is not None and not ref[2]:
            nib = _nibble(kh, len(path))
            ref = self._load_node(schema.state_node_path(path), ref[1], None).child(nib)
            path += _NIBBLE_BYTES[nib]
        if ref is None:
            return None
        lkh, lvalue = self._load_leaf(schema.state_node_path(path), ref[1], None)
        return lvalue if lkh == kh else None

    def _read(self, prefix: bytes, version: int, pending: dict[bytes, bytes]) -> bytes:
        """A node's bytes from ``pending`` (an update not yet written) or the store,
        without touching the cache: for proofs against an update before its commit."""
        key = _NODE + _U64.pack(version) + prefix
        data = pending.get(key)
        if data is None:
            data = self._kv.get(key)
            if data is None:
                raise CorruptStore(f"state tree: missing node {key.hex()}")
        return data

    def prove(self, root: Ref | None, key: bytes,
              pending: dict[bytes, bytes] | None = None) -> tuple[bytes | None, StateProof]:
        """(value, proof) of ``key`` in the tree of ``root``; ``pending``: the new nodes
        of an update of which ``root`` is the result, not yet committed."""
        kh = _sha256(key).digest()
        levels: list[tuple[int, tuple[bytes, ...]]] = []
        path = b""
        ref = root
        while ref is not None and not ref[2]:
            prefix = schema.state_node_path(path)
            node = (self._load_node(prefix, ref[1], None) if pending is None
                    else _decode_node(self._read(prefix, ref[1], pending)))
            nib = _nibble(kh, len(path))
            bitmap = 0
            sibs = []
            for i in range(16):
                if i != nib and node.present >> i & 1:
                    bitmap |= 1 << i
                    sibs.append(node.hashes[i * 32 : i * 32 + 32])
            levels.append((bitmap, tuple(sibs)))
            ref = node.child(nib)
            path += _NIBBLE_BYTES[nib]
        if ref is None:
            return None, StateProof(PROOF_EMPTY, tuple(levels))
        prefix = schema.state_node_path(path)
        lkh, lvalue = (self._load_leaf(prefix, ref[1], None) if pending is None
                       else _decode_leaf(self._read(prefix, ref[1], pending)))
        if lkh == kh:
            return lvalue, StateProof(PROOF_INCLUSION, tuple(levels))
        return None, StateProof(PROOF_OTHER_LEAF, tuple(levels), lkh, _sha256(lvalue).digest())


# --- the state store and overlays --------------------------------------------------------


def _check_write(key: bytes, value: bytes | None) -> None:
    if type(key) is not bytes or (value is not None and type(value) is not bytes):
        raise TypeError("state keys and values are bytes")
    if not 0 < len(key) <= MAX_STATE_KEY_BYTES:
        raise StateLimitError(f"state key of {len(key)} bytes (1..{MAX_STATE_KEY_BYTES})")
    if value is not None and len(value) > MAX_STATE_VALUE_BYTES:
        raise StateLimitError(f"state value of {len(value)} bytes (max {MAX_STATE_VALUE_BYTES})")


class StateStore:
    """The committed state: tree + flat value table at the head, and its overlays.

    ChainStore drives it: ``stage`` puts a block's state into the block's batch and
    ``committed`` adopts it once the batch is written.
    """

    def __init__(
        self,
        kv: KeyValueStore,
        *,
        keep_heights: int | None = DEFAULT_KEEP_HEIGHTS,
        cache_depth: int = DEFAULT_CACHE_DEPTH,
    ) -> None:
        if keep_heights is not None and keep_heights < 1:
            raise ValueError("keep_heights must be >= 1 (or None to keep every height)")
        self._kv = kv
        self.tree = StateTree(kv, cache_depth=cache_depth)
        self.keep_heights = keep_heights
        # Heights whose trees must outlive keep_heights for now (state sync serving a
        # snapshot): a commit prunes no height at or above the lowest it returns.
        self.prune_floor: Callable[[], int | None] | None = None
        # (height, root) of the head, replaced as one object so a reader on another
        # thread never pairs one commit's height with another's root.
        self._head: tuple[int, Ref | None] = (-1, None)
        self.serial = 0  # bumped on every commit: invalidates cached overlay roots

    @property
    def kv(self) -> KeyValueStore:
        return self._kv

    def load(self, height: int) -> None:
        self._head = (height, None if height < 0 else self.tree.root_at(height))
        self.serial += 1

    @property
    def height(self) -> int:
        return self._head[0]

    @property
    def root_ref(self) -> Ref | None:
        return self._head[1]

    @property
    def root(self) -> bytes:
        ref = self._head[1]
        return EMPTY_ROOT if ref is None else ref[0]

    def get(self, key: bytes) -> bytes | None:
        return self._kv.get(schema.state_value_key(key))

    def overlay(self) -> Overlay:
        return Overlay(self, None)

    def compute(
        self, changes: dict[bytes, bytes | None], known: dict[bytes, bytes | None] | None = None
    ) -> TreeUpdate:
        height, root = self._head
        return self.tree.compute(root, changes, height + 1, known)

    def stage(self, upd: TreeUpdate, batch: WriteBatch, height: int) -> None:
        if upd.version != height or upd.base_root != self.root_ref:
            raise StorageError("state update was computed for another head")
        self.tree.write(upd, batch, height)
        for key, value in upd.changes.items():
            if value is None:
                batch.delete(schema.state_value_key(key))
            else:
                batch.put(schema.state_value_key(key), value)
                batch.put(schema.state_preimage_key(_sha256(key).digest()), key)
        if self.keep_heights is not None:
            last = height - self.keep_heights
            floor = self.prune_floor() if self.prune_floor is not None else None
            if floor is not None:
                last = min(last, floor)  # pruning up to it keeps its tree and root
            pruned = self._kv.get(schema.META_PRUNED)
            first = 1 if pruned is None else schema.from_be64(pruned) + 1
            last = min(last, first + MAX_PRUNE_HEIGHTS_PER_COMMIT - 1)
            if last >= first:
                self.tree.prune(batch, first, last)
                batch.put(schema.META_PRUNED, schema.be64(last))

    def committed(self, upd: TreeUpdate, height: int) -> None:
        self.tree.committed(upd)
        self._head = (height, upd.root_ref)
        self.serial += 1

    def snapshot(self) -> StateSnapshot:
        """A scratch view of the head state as it is now, for dry runs off the event loop:
        it reads the head's tree nodes, which no later commit changes (a tree version is
        deleted only ``keep_heights`` blocks after it was replaced), and keeps its writes
        to itself."""
        height, root = self._head
        return StateSnapshot(self.tree, height, root)

    def prove(self, key: bytes, height: int | None = None) -> tuple[bytes | None, StateProof]:
        head, root = self._head
        if height is not None and height != head:
            if height > head or height < 0:
                raise KeyError(f"no state at height {height}")
            if self.keep_heights is not None and height < head - self.keep_heights:
                raise KeyError(f"state of height {height} is pruned")
            root = self.tree.root_at(height)
        return self.tree.prove(root, key)


class Overlay:
    """Pending writes over the committed state (``base`` None) or another overlay."""

    def __init__(self, store: StateStore, base: Overlay | None) -> None:
        self._store = store
        self._base = base
        self._changes: dict[bytes, bytes | None] = {}
        self._serial = 0
        self._cached: tuple[tuple[int, ...], TreeUpdate] | None = None
        # Committed values read through this (bottom) overlay, valid while the store's
        # serial is unchanged; they spare the tree update from reading leaves back.
        self._reads: dict[bytes, bytes | None] = {}
        self._reads_serial = store.serial

    @property
    def store(self) -> StateStore:
        return self._store

    def get(self, key: bytes) -> bytes | None:
        o: Overlay | None = self
        last = self
        while o is not None:
            changes = o._changes
            if key in changes:
                return changes[key]
            last = o
            o = o._base
        store = self._store
        if last._reads_serial != store.serial:
            last._reads = {}
            last._reads_serial = store.serial
        value = store.get(key)
        if len(last._reads) < MAX_REMEMBERED_READS:
            last._reads[key] = value
        return value

    def set(self, key: bytes, value: bytes) -> None:
        _check_write(key, value)
        self._changes[key] = value
        self._serial += 1

    def delete(self, key: bytes) -> None:
        _check_write(key, None)
        self._changes[key] = None
        self._serial += 1

    def changes(self) -> dict[bytes, bytes | None]:
        return dict(self._changes)

    def overlay(self) -> Overlay:
        return Overlay(self._store, self)

    def _chain(self) -> list[Overlay]:
        chain: list[Overlay] = []
        o: Overlay | None = self
        while o is not None:
            chain.append(o)
            o = o._base
        chain.reverse()
        return chain

    def all_changes(self) -> dict[bytes, bytes | None]:
        """The changes of this overlay and all its bases, nearest winning."""
        merged: dict[bytes, bytes | None] = {}
        for o in self._chain():
            merged.update(o._changes)
        return merged

    def update(self) -> TreeUpdate:
        """The tree update these changes make to the committed head (cached)."""
        store = self._store
        stamp = (store.serial, *(o._serial for o in self._chain()))
        if self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        chain = self._chain()
        bottom = chain[0]
        known = bottom._reads if bottom._reads_serial == store.serial else None
        upd = store.compute(self.all_changes(), known)
        self._cached = (stamp, upd)
        return upd

    def root(self) -> bytes:
        return self.update().root


class StateSnapshot:
    """core.state.StateView over one committed tree version; writes stay in memory and
    are never committed. Safe to use from another thread than the committing one."""

    def __init__(self, tree: StateTree, height: int, root: Ref | None) -> None:
        self._tree = tree
        self.height = height
        self._root = root
        self._values: dict[bytes, bytes | None] = {}

    def get(self, key: bytes) -> bytes | None:
        if key in self._values:
            return self._values[key]
        value = self._tree.lookup(self._root, key)
        self._values[key] = value
        return value

    def set(self, key: bytes, value: bytes) -> None:
        _check_write(key, value)
        self._values[key] = value

    def delete(self, key: bytes) -> None:
        _check_write(key, None)
        self._values[key] = None


def state_root_of(items: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The root of a state holding exactly ``items`` (a reference for tests and tools)."""
    from storage.kv import MemoryStore

    store = StateStore(MemoryStore(), keep_heights=None)
    return store.compute(dict(items)).root
