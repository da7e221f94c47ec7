"""State sync in the store: serve the state tree of a kept height in parts, and build a
store from parts that are each checked against the hash their parent promised.

A part is the subtree at a nibble path of the state tree (storage/state.py), sent either
as its **node** (the bitmap of its non-empty slots and their hashes) or as its **leaves**
(every (key, value) of the state whose sha256(key) starts with the path, in key-hash
order). The receiver starts from the certified state root: the root's part must hash to
it; a node part's slot hashes are what its children's parts must hash to; a leaves part is
rebuilt here into the canonical subtree (the same code that builds blocks' trees) and must
hash to the expected slot. So every part is checked on arrival, alone: a peer that sends a
wrong one is caught at that part, and nothing of it is written.

Leaves parts are written to the store as they are accepted (tree nodes of version
``height``, the flat value table, the key preimages); the internal nodes above them, kept
in memory (a few hundred), are written by ``finish`` once every slot is resolved, when
their children's versions and leaf flags are known. ``install_snapshot`` then writes the
head (block, certificate, validator sets) in one synced batch: until then the store has no
head and a restart starts the sync over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from core.errors import ValidationError
from core.hashing import ZERO_HASH
from core.types import Block, CommitCertificate, ValidatorSet
from storage import packing, schema
from storage.api import KeyValueStore
from storage.errors import CorruptStore
from storage.state import (
    _NIBBLE_BYTES,
    _U64,
    EMPTY_ROOT,
    MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES,
    MAX_TREE_DEPTH,
    NODE_TAG,
    Ref,
    StateTree,
    TreeUpdate,
    _decode_leaf,
    _decode_node,
    _encode_ref,
    _nibble,
    _Node,
    _slots,
)

_sha256 = hashlib.sha256
WRITE_BATCH = 50_000  # pending puts of accepted parts written at once


class BadStatePart(ValidationError):
    """A part that does not match the hash its parent promised (the sender's fault)."""

    code = "bad_state_part"


@dataclass(frozen=True)
class Part:
    """One part: a node (``bitmap`` non-zero, one hash per set bit) or leaves."""

    path: bytes  # nibbles, one per byte
    bitmap: int
    hashes: tuple[bytes, ...]
    entries: tuple[tuple[bytes, bytes], ...]


# --- serving ----------------------------------------------------------------------------


def _node_part(path: bytes, node: _Node) -> Part:
    hashes = tuple(node.hashes[i * 32 : i * 32 + 32] for i in _slots(node.present))
    return Part(path, node.present, hashes, ())


def read_part(
    tree: StateTree,
    root: Ref | None,
    path: bytes,
    leaves_from_depth: int,
    max_entries: int,
    max_bytes: int,
    walked: dict[bytes, _Node] | None = None,
) -> Part | None:
    """The part at ``path`` of the tree of ``root`` (None: no subtree starts there).

    Shallower than ``leaves_from_depth`` an internal node is sent as a node; deeper, as
    its leaves, unless they exceed ``max_entries`` or ``max_bytes`` (then as a node, and
    the asker goes one level down). Reads immutable tree nodes only: safe off the loop.
    ``walked`` keeps the nodes above the path for the next call on the same tree.
    """
    ref = root
    for depth in range(len(path)):
        if ref is None or ref[2]:
            return None
        above = path[:depth]
        node = walked.get(above) if walked is not None else None
        if node is None:
            node = tree._load_node(schema.state_node_path(above), ref[1], None)
            if walked is not None:
                walked[above] = node
        ref = node.child(path[depth])
    if ref is None:
        return None
    prefix = schema.state_node_path(path)
    if ref[2]:
        kh, value = tree._load_leaf(prefix, ref[1], None)
        return Part(path, 0, (), ((_preimage(tree, kh), value),))
    node = tree._load_node(prefix, ref[1], None)
    if len(path) < leaves_from_depth:
        return _node_part(path, node)
    entries: list[tuple[bytes, bytes]] = []
    size = 0
    kv_get = tree._kv.get
    node_prefix = schema.STATE_NODE
    # Depth-first in slot order, so the leaves come in key-hash order.
    stack: list[tuple[bytes, _Node]] = [(path, node)]
    pos: list[int] = [0]
    while stack:
        p, n = stack[-1]
        slots = _slots(n.present)
        i = pos[-1]
        if i >= len(slots):
            stack.pop()
            pos.pop()
            continue
        pos[-1] = i + 1
        slot = slots[i]
        child = p + _NIBBLE_BYTES[slot]
        key = node_prefix + n.versions[slot * 8 : slot * 8 + 8] + schema.state_node_path(child)
        data = kv_get(key)
        if data is None:
            raise CorruptStore(f"state tree: missing node {key.hex()}")
        if n.leaves >> slot & 1:
            kh, value = _decode_leaf(data)
            k = _preimage(tree, kh)
            entries.append((k, value))
            size += len(k) + len(value) + 8
            if len(entries) > max_entries or size > max_bytes:
                return _node_part(path, node)
        else:
            stack.append((child, _decode_node(data)))
            pos.append(0)
    return Part(path, 0, (), tuple(entries))


def _preimage(tree: StateTree, key_hash: bytes) -> bytes:
    key = tree._kv.get(schema.state_preimage_key(key_hash))
    if key is None or _sha256(key).digest() != key_hash:
        raise CorruptStore(f"state key of hash {key_hash.hex()} is not indexed")
    return key


# --- building ---------------------------------------------------------------------------


class SnapshotBuilder:
    """Checks parts against the state root of ``height`` and writes them to ``kv``."""

    def __init__(self, kv: KeyValueStore, height: int, state_root: bytes) -> None:
        self.kv = kv
        self.height = height
        self.state_root = state_root
        self._tree = StateTree(kv, cache_depth=0)
        # path -> the hash its part must have: the slots not resolved yet
        self._expected: dict[bytes, bytes] = {} if state_root == EMPTY_ROOT else {b"": state_root}
        self._nodes: dict[bytes, tuple[int, tuple[bytes, ...]]] = {}
        self._refs: dict[bytes, Ref] = {}
        self.entries = 0
        self.parts = 0
        self._writes: list[tuple[bytes, bytes]] = []  # accepted, not yet written

    def flush(self) -> None:
        """Write what accepted parts left pending (one unsynced batch: the store is not
        in use before ``install_snapshot`` makes it whole)."""
        if self._writes:
            with self.kv.batch(sync=False) as wb:
                for key, value in self._writes:
                    wb.put(key, value)
            self._writes = []

    @property
    def done(self) -> bool:
        return not self._expected

    def wanted(self) -> list[bytes]:
        """The paths still to fetch, in tree order."""
        return sorted(self._expected)

    def accept(self, part: Part) -> None:
        """Check ``part`` and keep it; BadStatePart (nothing written) if it does not fit."""
        expected = self._expected.get(part.path)
        if expected is None:
            raise BadStatePart(f"a part for path {part.path.hex()}, which was not asked for")
        if len(part.path) >= MAX_TREE_DEPTH:
            raise BadStatePart("a part deeper than the tree can be")
        if part.bitmap:
            if part.entries or len(part.hashes) != part.bitmap.bit_count():
                raise BadStatePart("a node part carries one hash per slot and no leaves")
            slots = [ZERO_HASH] * 16
            for i, h in zip(_slots(part.bitmap), part.hashes, strict=True):
                slots[i] = h
            if _sha256(NODE_TAG + b"".join(slots)).digest() != expected:
                raise BadStatePart(f"the node at path {part.path.hex()} does not hash to its slot")
            del self._expected[part.path]
            self._nodes[part.path] = (part.bitmap, part.hashes)
            for i, h in zip(_slots(part.bitmap), part.hashes, strict=True):
                self._expected[part.path + _NIBBLE_BYTES[i]] = h
            self.parts += 1
            return
        upd, live = self._build(part)
        ref = upd.root_ref
        if ref is None or ref[0] != expected:
            raise BadStatePart(f"the leaves at path {part.path.hex()} do not hash to their slot")
        writes = self._writes
        writes.extend(upd.new_nodes.items())
        for kh, key, value in live:
            writes.append((schema.state_value_key(key), value))
            writes.append((schema.state_preimage_key(kh), key))
        if len(writes) >= WRITE_BATCH:
            self.flush()
        del self._expected[part.path]
        self._refs[part.path] = ref
        self.entries += len(live)
        self.parts += 1

    def _build(self, part: Part) -> tuple[TreeUpdate, list[tuple[bytes, bytes, bytes]]]:
        if not part.entries:
            raise BadStatePart("a part with neither a node nor leaves")
        path = part.path
        live = []
        for key, value in part.entries:
            if not 0 < len(key) <= MAX_STATE_KEY_BYTES or len(value) > MAX_STATE_VALUE_BYTES:
                raise BadStatePart("a state key or value over the limits")
            kh = _sha256(key).digest()
            if any(_nibble(kh, d) != path[d] for d in range(len(path))):
                raise BadStatePart(f"a key outside the part's path {path.hex()}")
            live.append((kh, key, value))
        live.sort()
        if any(live[i][0] == live[i + 1][0] for i in range(len(live) - 1)):
            raise BadStatePart("a key twice in one part")
        upd = TreeUpdate(None, self.height, {})
        upd.root_ref = self._tree._build(upd, path, [(kh, v) for kh, _, v in live])
        return upd, live

    def finish(self) -> Ref | None:
        """Write the internal nodes above the leaves; the root's reference. Call once
        ``done``."""
        if self._expected:
            raise CorruptStore("state sync: finish before every part arrived")
        self.flush()
        if self.state_root == EMPTY_ROOT:
            return None
        version = _U64.pack(self.height)
        with self.kv.batch(sync=False) as wb:
            for path in sorted(self._nodes, key=len, reverse=True):
                bitmap, _ = self._nodes[path]
                hashes = [ZERO_HASH] * 16
                versions = [bytes(8)] * 16
                leaves = 0
                for i in _slots(bitmap):
                    ref = self._refs[path + _NIBBLE_BYTES[i]]
                    hashes[i] = ref[0]
                    versions[i] = _U64.pack(ref[1])
                    if ref[2]:
                        leaves |= 1 << i
                node = _Node(b"".join(hashes), b"".join(versions), bitmap, leaves)
                wb.put(schema.STATE_NODE + version + schema.state_node_path(path), node.encode())
                self._refs[path] = (node.hash(), self.height, False)
        root = self._refs[b""]
        if root[0] != self.state_root:  # every part was checked: only a bug gets here
            raise CorruptStore("state sync: the built tree differs from the checked parts")
        return root


def install_snapshot(
    kv: KeyValueStore,
    genesis: Block,
    block: Block,
    certificate: CommitCertificate,
    root: Ref | None,
    validator_sets: dict[int, ValidatorSet],
    valset_changes: Iterable[tuple[int, bytes]] = (),
) -> None:
    """Make ``block`` (its state built by a SnapshotBuilder) the head of the store in
    ``kv``, with genesis as block 0 and no history between: one synced batch."""
    height = block.height
    if height < 1 or certificate.height != height or certificate.block_hash != block.hash:
        raise CorruptStore("state sync: snapshot block and certificate disagree")
    with kv.batch(sync=True) as wb:
        for b in (genesis, block):
            wb.put(schema.block_key(b.height), packing.pack_block(b.encode()))
            wb.put(schema.block_hash_key(b.hash), schema.be64(b.height))
        wb.put(schema.certificate_key(height), certificate.encode())
        for h, vs in validator_sets.items():
            wb.put(schema.validators_key(h), vs.encode())
        for h, record in valset_changes:
            wb.put(schema.valset_change_key(h), record)
        wb.put(schema.state_root_key(height), _encode_ref(root))
        wb.put(schema.META_PRUNED, schema.be64(height))
        wb.put(schema.META_ACCOUNTS_FROM, schema.be64(height + 1))
        wb.put(schema.META_PREIMAGES, b"\x01")
        wb.put(schema.META_SNAPSHOT, schema.be64(height))
        wb.put(schema.META_HEAD, schema.be64(height))


def read_parts(
    tree: StateTree,
    root: Ref | None,
    paths: Sequence[bytes],
    leaves_from_depth: int,
    max_entries: int,
    max_bytes: int,
    kept: Callable[[], bool],
    max_total_entries: int | None = None,
) -> list[Part] | None:
    """``read_part`` for each path within ``max_bytes`` and ``max_total_entries`` in all
    (at least one part); None if the height stopped being kept meanwhile (its nodes
    pruned by a later commit)."""
    out: list[Part] = []
    size = 0
    entries = 0
    walked: dict[bytes, _Node] = {}
    for path in paths:
        try:
            part = read_part(tree, root, path, leaves_from_depth, max_entries, max_bytes, walked)
        except CorruptStore:
            if not kept():
                return None
            raise
        if part is None:
            break  # not a subtree of this tree: the asker gets what came before
        out.append(part)
        size += 64 + 32 * len(part.hashes) + sum(len(k) + len(v) + 8 for k, v in part.entries)
        entries += len(part.entries)
        if size >= max_bytes or (max_total_entries is not None and entries >= max_total_entries):
            break
    return out
