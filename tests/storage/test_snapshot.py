"""State sync in the store: parts served from a kept height rebuild the same tree, and a
part that does not hash to its slot is refused with nothing written."""

from __future__ import annotations

import hashlib
import random

import pytest

from storage import schema
from storage.chain import ChainStore
from storage.kv import MemoryStore
from storage.snapshot import BadStatePart, Part, SnapshotBuilder, read_parts
from storage.state import StateStore, _encode_ref


def _state(n: int, seed: int = 1) -> tuple[StateStore, int]:
    store = StateStore(MemoryStore(), keep_heights=None)
    rng = random.Random(seed)
    height = 0
    for start in range(0, n, 500):
        upd = store.compute({b"k/%06d" % i: rng.randbytes(rng.randrange(0, 20))
                             for i in range(start, min(n, start + 500))})
        with store.kv.batch() as wb:
            store.stage(upd, wb, height)
        store.committed(upd, height)
        height += 1
    # a few deletes, so the tree has collapsed nodes too
    upd = store.compute({b"k/%06d" % i: None for i in range(0, n, 7)})
    with store.kv.batch() as wb:
        store.stage(upd, wb, height)
    store.committed(upd, height)
    return store, height


def _sync(src: StateStore, height: int, dst: MemoryStore, *, leaves_from_depth: int = 2,
          max_entries: int = 50, tamper: int | None = None) -> SnapshotBuilder:
    root = src.tree.root_at(height)
    b = SnapshotBuilder(dst, height, src.root)
    rounds = 0
    while not b.done:
        rounds += 1
        assert rounds < 10_000
        parts = read_parts(src.tree, root, b.wanted()[:16], leaves_from_depth, max_entries,
                           1 << 20, lambda: True)
        assert parts
        for part in parts:
            if tamper is not None and part.entries and b.parts == tamper:
                k, v = part.entries[0]
                part = Part(part.path, 0, (), ((k, v + b"!"), *part.entries[1:]))
                b.flush()
                before = dict(dst.iterate())
                with pytest.raises(BadStatePart):
                    b.accept(part)
                b.flush()
                assert dict(dst.iterate()) == before, "a refused part wrote something"
                return b
            b.accept(part)
    return b


@pytest.mark.parametrize("n", [0, 1, 2, 40, 3000])
def test_parts_rebuild_the_same_tree_and_values(n: int) -> None:
    src, height = _state(n) if n else (StateStore(MemoryStore(), keep_heights=None), 0)
    if not n:
        upd = src.compute({})
        with src.kv.batch() as wb:
            src.stage(upd, wb, 0)
        src.committed(upd, 0)
    dst = MemoryStore()
    b = _sync(src, height, dst)
    root = b.finish()
    built = StateStore(dst, keep_heights=None)
    with dst.batch() as wb:
        wb.put(schema.state_root_key(height), _encode_ref(root))
    built.load(height)
    assert built.root == src.root
    want = {k[len(schema.STATE_VALUE):]: v for k, v in src.kv.iterate(schema.STATE_VALUE)}
    got = {k[len(schema.STATE_VALUE):]: v for k, v in dst.iterate(schema.STATE_VALUE)}
    assert got == want
    for key in list(want)[:50]:
        assert built.tree.lookup(built.root_ref, key) == want[key]
        value, proof = built.prove(key)
        assert value == want[key] and proof.verify(src.root, key, value)
    # the rebuilt tree takes further blocks like the original
    changes: dict[bytes, bytes | None] = {b"new": b"1", **{k: None for k in list(want)[:5]}}
    assert built.compute(changes).root == src.compute(changes).root


def test_a_tampered_leaf_is_refused_and_writes_nothing() -> None:
    src, height = _state(400)
    _sync(src, height, MemoryStore(), tamper=3)


def test_a_node_part_that_does_not_hash_is_refused() -> None:
    src, height = _state(400)
    b = SnapshotBuilder(MemoryStore(), height, src.root)
    [part] = read_parts(src.tree, src.tree.root_at(height), [b""], 2, 50, 1 << 20, lambda: True) or []
    assert part.bitmap
    bad = Part(b"", part.bitmap, (b"\x00" * 32, *part.hashes[1:]), ())
    with pytest.raises(BadStatePart):
        b.accept(bad)
    with pytest.raises(BadStatePart):  # never asked for
        b.accept(Part(b"\x01", part.bitmap, part.hashes, ()))
    b.accept(part)
    assert len(b.wanted()) == part.bitmap.bit_count()


def test_old_stores_get_their_preimages_indexed() -> None:
    kv = MemoryStore()
    store = ChainStore(kv)
    assert kv.get(schema.META_PREIMAGES) is not None
    kv.put(schema.state_value_key(b"old"), b"v")
    kv.delete(schema.META_PREIMAGES)
    ChainStore(kv)
    assert kv.get(schema.state_preimage_key(hashlib.sha256(b"old").digest())) == b"old"
    del store
