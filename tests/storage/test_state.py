"""The state commitment: canonical roots, proofs that fail on any tampering, overlays."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from core import codec
from core.errors import DecodeError
from storage.kv import MemoryStore
from storage.state import (
    EMPTY_ROOT,
    PROOF_EMPTY,
    PROOF_INCLUSION,
    PROOF_OTHER_LEAF,
    Overlay,
    StateLimitError,
    StateProof,
    StateStore,
    state_root_of,
    verify_state_proof,
)

KEYS = [b"k%d" % i for i in range(40)]
keys = st.sampled_from(KEYS)
values = st.binary(min_size=0, max_size=12)
writes = st.lists(st.tuples(keys, st.one_of(st.none(), values)), max_size=80)


def commit(store: StateStore, overlay: Overlay) -> None:
    update = overlay.update()
    height = store.height + 1
    with store.kv.batch(sync=True) as wb:  # what ChainStore.commit_block does for state
        store.stage(update, wb, height)
    store.committed(update, height)


def new_store(keep_heights: int | None = None) -> StateStore:
    return StateStore(MemoryStore(), keep_heights=keep_heights, cache_depth=2)


def final_state(ws: list[tuple[bytes, bytes | None]]) -> dict[bytes, bytes]:
    model: dict[bytes, bytes | None] = {}
    for k, v in ws:
        model[k] = v
    return {k: v for k, v in model.items() if v is not None}


def apply_in_blocks(ws: list[tuple[bytes, bytes | None]], cuts: list[int]) -> StateStore:
    store = new_store(keep_heights=3)
    bounds = sorted({0, len(ws), *(c % (len(ws) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        overlay = store.overlay()
        for k, v in ws[lo:hi]:
            if v is None:
                overlay.delete(k)
            else:
                overlay.set(k, v)
        commit(store, overlay)
    return store


def test_empty_state_has_the_well_known_root() -> None:
    store = new_store()
    assert store.root == EMPTY_ROOT == hashlib.sha256(b"hkchain/state/empty").digest()
    assert store.overlay().root() == EMPTY_ROOT
    assert state_root_of([]) == EMPTY_ROOT
    overlay = store.overlay()
    overlay.set(b"a", b"1")
    overlay.delete(b"a")
    assert overlay.root() == EMPTY_ROOT


def test_root_commits_to_every_key_and_value() -> None:
    base = {b"a": b"1", b"b": b"2"}
    roots = {
        state_root_of(base.items()),
        state_root_of({**base, b"a": b"1x"}.items()),
        state_root_of({**base, b"c": b""}.items()),
        state_root_of({b"a": b"1"}.items()),
        state_root_of({b"a": b"2", b"b": b"1"}.items()),
    }
    assert len(roots) == 5


@given(writes, st.lists(st.integers(min_value=0, max_value=100), max_size=6), st.randoms())
def test_root_is_independent_of_order_and_blocks(
    ws: list[tuple[bytes, bytes | None]], cuts: list[int], rnd: random.Random
) -> None:
    expected = state_root_of(final_state(ws).items())
    store = apply_in_blocks(ws, cuts)
    assert store.root == expected
    # the same final writes, each key once, in another order and another split
    final_writes: list[tuple[bytes, bytes | None]] = list(dict(ws).items())
    rnd.shuffle(final_writes)
    other = apply_in_blocks(final_writes, [rnd.randrange(100) for _ in range(3)])
    assert other.root == expected
    for k in KEYS:
        assert store.get(k) == final_state(ws).get(k)


@given(writes, st.lists(st.integers(min_value=0, max_value=100), max_size=4))
def test_proofs_verify_for_present_and_absent_keys(
    ws: list[tuple[bytes, bytes | None]], cuts: list[int]
) -> None:
    store = apply_in_blocks(ws, cuts)
    model = final_state(ws)
    for k in [*KEYS, b"never-written"]:
        value, proof = store.prove(k)
        assert value == model.get(k)
        assert verify_state_proof(store.root, k, value, proof)
        assert proof.verify(store.root, k, value)
        assert not verify_state_proof(store.root, k, (value or b"") + b"x", proof)
        if value is not None:
            assert proof.kind == PROOF_INCLUSION
            assert not verify_state_proof(store.root, k, None, proof)
        else:
            assert proof.kind in (PROOF_EMPTY, PROOF_OTHER_LEAF)


@pytest.mark.parametrize("survivors", [0, 1, 2, 3, 17])
def test_deleting_many_keys_in_one_block_collapses_the_tree(survivors: int) -> None:
    """Deletes that empty whole subtrees at once must give the canonical shape back."""
    rng = random.Random(survivors)
    items = {b"key%d" % i: b"v%d" % i for i in range(400)}
    store = new_store(keep_heights=2)
    overlay = store.overlay()
    for k, v in items.items():
        overlay.set(k, v)
    commit(store, overlay)
    keep = set(rng.sample(sorted(items), survivors))
    overlay = store.overlay()
    for k in items:
        if k not in keep:
            overlay.delete(k)
    expected = state_root_of((k, items[k]) for k in keep)
    assert overlay.root() == expected
    commit(store, overlay)
    assert store.root == expected
    # and the same survivors are reached by a few deletes at a time
    stepwise = new_store(keep_heights=2)
    overlay = stepwise.overlay()
    for k, v in items.items():
        overlay.set(k, v)
    commit(stepwise, overlay)
    doomed = [k for k in items if k not in keep]
    for i in range(0, len(doomed), 37):
        overlay = stepwise.overlay()
        for k in doomed[i : i + 37]:
            overlay.delete(k)
        commit(stepwise, overlay)
    assert stepwise.root == expected


def _flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


def _tamperings(proof: StateProof, bit: int) -> list[StateProof]:
    out = []
    for d, (bitmap, hashes) in enumerate(proof.levels):
        for i in range(len(hashes)):
            levels = list(proof.levels)
            hs = list(hashes)
            hs[i] = _flip(hs[i], bit)
            levels[d] = (bitmap, tuple(hs))
            out.append(
                StateProof(proof.kind, tuple(levels), proof.other_key_hash, proof.other_value_hash)
            )
    if proof.levels:
        out.append(
            StateProof(proof.kind, proof.levels[1:], proof.other_key_hash, proof.other_value_hash)
        )
        bitmap, hashes = proof.levels[-1]
        if hashes:  # move a sibling to another slot
            free = [i for i in range(16) if not bitmap >> i & 1]
            moved = (bitmap & (bitmap - 1)) | (1 << free[bit % len(free)])
            levels = [*proof.levels[:-1], (moved, hashes)]
            out.append(
                StateProof(proof.kind, tuple(levels), proof.other_key_hash, proof.other_value_hash)
            )
    if proof.kind == PROOF_OTHER_LEAF:
        out.append(
            StateProof(
                proof.kind, proof.levels, _flip(proof.other_key_hash, bit), proof.other_value_hash
            )
        )
        out.append(
            StateProof(
                proof.kind, proof.levels, proof.other_key_hash, _flip(proof.other_value_hash, bit)
            )
        )
        out.append(StateProof(PROOF_EMPTY, proof.levels))
    if proof.kind == PROOF_EMPTY and proof.levels:
        out.append(StateProof(PROOF_OTHER_LEAF, proof.levels, bytes(32), bytes(32)))
    return out


@settings(max_examples=60)
@given(
    st.integers(min_value=1, max_value=300), st.integers(min_value=0, max_value=255), st.randoms()
)
def test_any_tampering_fails(n_keys: int, bit: int, rnd: random.Random) -> None:
    items = {b"key%d" % i: b"value%d" % i for i in range(n_keys)}
    store = new_store()
    overlay = store.overlay()
    for k, v in items.items():
        overlay.set(k, v)
    commit(store, overlay)
    root = store.root
    present = rnd.choice(list(items))
    absent = b"absent%d" % rnd.randrange(10**6)
    for key in (present, absent):
        value, proof = store.prove(key)
        assert verify_state_proof(root, key, value, proof)
        assert not verify_state_proof(_flip(root, bit), key, value, proof)
        assert not verify_state_proof(root, key + b"!", value, proof) or value is None
        for bad in _tamperings(proof, bit):
            assert not verify_state_proof(root, key, value, bad), bad
    # a proof for one key says nothing about another present key
    other = rnd.choice(list(items))
    if other != present:
        value, proof = store.prove(present)
        assert not verify_state_proof(root, other, value, proof)
        assert not verify_state_proof(root, other, items[other], proof)


def test_proof_round_trips_through_the_codec() -> None:
    store = new_store()
    overlay = store.overlay()
    for i in range(200):
        overlay.set(b"key%d" % i, b"v%d" % i)
    commit(store, overlay)
    kinds = set()
    for key in [b"key7", *(b"absent%d" % i for i in range(60))]:
        value, proof = store.prove(key)
        kinds.add(proof.kind)
        wire = codec.encode(proof.to_value())
        back = StateProof.from_value(codec.decode(wire))
        assert back == proof
        assert verify_state_proof(store.root, key, value, back)
    assert kinds == {PROOF_INCLUSION, PROOF_EMPTY, PROOF_OTHER_LEAF}


@given(
    st.recursive(
        st.none() | st.integers() | st.binary(max_size=40),
        lambda c: st.lists(c, max_size=5),
        max_leaves=30,
    )
)
def test_proof_decoding_raises_only_decode_error(value: object) -> None:
    try:
        proof = StateProof.from_value(value)
    except DecodeError:
        return
    assert proof.to_value() == value  # whatever decodes is canonical


@pytest.mark.parametrize(
    "value",
    [
        [0, [], b"", b"", b""],
        [3, [], b"", b""],
        [0, [[1, []]], b"", b""],
        [0, [[1 << 16, []]], b"", b""],
        [0, [[1, [b"x" * 31]]], b"", b""],
        [2, [], b"", b""],
        [0, [], bytes(32), bytes(32)],
        [True, [], b"", b""],
        [0, [[1, [bytes(32)]]] * 65, b"", b""],
    ],
)
def test_proof_decoding_is_strict(value: object) -> None:
    with pytest.raises(DecodeError):
        StateProof.from_value(value)


def test_writes_are_checked() -> None:
    overlay = new_store().overlay()
    with pytest.raises(StateLimitError):
        overlay.set(b"", b"v")
    with pytest.raises(StateLimitError):
        overlay.set(b"k" * 1025, b"v")
    with pytest.raises(StateLimitError):
        overlay.set(b"k", b"v" * ((1 << 20) + 1))
    with pytest.raises(TypeError):
        overlay.set("k", b"v")  # type: ignore[arg-type]
    assert overlay.changes() == {}


def test_reads_remembered_by_an_overlay_never_give_a_stale_root() -> None:
    store = new_store()
    first = store.overlay()
    first.set(b"k", b"v0")
    first.set(b"other", b"x")
    commit(store, first)
    reader = store.overlay()
    assert reader.get(b"k") == b"v0"  # remembered as the committed value
    writer = store.overlay()
    writer.set(b"k", b"v1")
    commit(store, writer)  # the committed value moves on under the reader
    reader.set(b"k", b"v0")  # back to what the reader once saw: must not look unchanged
    assert reader.root() == state_root_of([(b"k", b"v0"), (b"other", b"x")])
    # and a reader whose memo is current skips nothing either
    fresh = store.overlay()
    assert fresh.get(b"k") == b"v1"
    fresh.set(b"k", b"v1")
    assert fresh.root() == store.root
    fresh.set(b"k", b"v2")
    assert fresh.root() == state_root_of([(b"k", b"v2"), (b"other", b"x")])


def test_old_heights_are_provable_until_pruned() -> None:
    store = new_store(keep_heights=2)
    history = []
    for h in range(6):
        overlay = store.overlay()
        overlay.set(b"counter", b"%d" % h)
        overlay.set(b"k%d" % h, b"x")
        commit(store, overlay)
        history.append(store.root)
    for h in (3, 4, 5):
        value, proof = store.prove(b"counter", h)
        assert value == b"%d" % h
        assert verify_state_proof(history[h], b"counter", value, proof)
        value, proof = store.prove(b"k5", h)
        assert (value is None) == (h < 5)
        assert verify_state_proof(history[h], b"k5", value, proof)
    for h in (0, 1, 2, 6):
        with pytest.raises(KeyError):
            store.prove(b"counter", h)


def test_pruning_deletes_replaced_nodes() -> None:
    kv = MemoryStore()
    store = StateStore(kv, keep_heights=1, cache_depth=1)
    for h in range(40):
        overlay = store.overlay()
        for i in range(50):
            overlay.set(b"k%d" % i, b"%d" % h)
        commit(store, overlay)
    node_count = sum(1 for _ in kv.iterate(b"s1/"))
    # 50 leaves and their internal nodes, twice (two kept heights) at most
    assert node_count <= 2 * (50 + 1 + 16 + 50)
    assert store.prove(b"k3")[0] == b"39"


class OverlayMachine(RuleBasedStateMachine):
    """Stacked overlays and commits of the bottom one, against plain dicts."""

    def __init__(self) -> None:
        super().__init__()
        self.store = new_store(keep_heights=4)
        self.committed: dict[bytes, bytes] = {}
        self.overlays: list[Overlay] = [self.store.overlay()]
        self.layers: list[dict[bytes, bytes | None]] = [{}]

    def view(self, depth: int) -> dict[bytes, bytes]:
        merged: dict[bytes, bytes | None] = dict(self.committed)
        for layer in self.layers[: depth + 1]:
            merged.update(layer)
        return {k: v for k, v in merged.items() if v is not None}

    @rule(key=keys, value=values)
    def set(self, key: bytes, value: bytes) -> None:
        self.overlays[-1].set(key, value)
        self.layers[-1][key] = value

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self.overlays[-1].delete(key)
        self.layers[-1][key] = None

    @rule(key=keys)
    def read(self, key: bytes) -> None:
        for depth, overlay in enumerate(self.overlays):
            assert overlay.get(key) == self.view(depth).get(key)

    @precondition(lambda self: len(self.overlays) < 4)
    @rule()
    def push(self) -> None:
        self.overlays.append(self.overlays[-1].overlay())
        self.layers.append({})

    @precondition(lambda self: len(self.overlays) > 1)
    @rule()
    def drop_top(self) -> None:
        self.overlays.pop()
        self.layers.pop()

    @rule()
    def commit_bottom(self) -> None:
        commit(self.store, self.overlays[0])
        self.committed = self.view(0)
        self.overlays.pop(0)
        self.layers.pop(0)
        if not self.overlays:
            self.overlays.append(self.store.overlay())
            self.layers.append({})

    @invariant()
    def roots_match_the_model(self) -> None:
        assert self.store.root == state_root_of(self.committed.items())
        top = len(self.overlays) - 1
        assert self.overlays[top].root() == state_root_of(self.view(top).items())
        assert self.overlays[top].changes() == self.layers[top]


TestOverlayMachine = OverlayMachine.TestCase
TestOverlayMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)


@given(st.randoms(), st.integers(min_value=1, max_value=60))
@settings(max_examples=25, deadline=None)
def test_read_then_write_blocks_on_a_deep_tree_match_the_reference(
    rnd: random.Random, writes: int
) -> None:
    # 2,000 keys make a tree three levels deep, so the one-key descent reaches leaves
    # whose old value the overlay read (and some it did not read, or that are absent).
    model = {b"acct/%d" % i: b"%d" % i for i in range(2_000)}
    store = new_store(keep_heights=2)
    first = store.overlay()
    for k, v in model.items():
        first.set(k, v)
    commit(store, first)
    for _ in range(3):
        overlay = store.overlay()
        for _ in range(writes):
            key = b"acct/%d" % rnd.randrange(2_100)
            if rnd.random() < 0.8:
                assert overlay.get(key) == model.get(key)
            value = rnd.choice([model.get(key) or b"new", b"v%d" % rnd.randrange(9), None])
            if value is None:
                overlay.delete(key)
                model.pop(key, None)
            else:
                overlay.set(key, value)
                model[key] = value
        assert overlay.root() == state_root_of(model.items())
        commit(store, overlay)
        assert store.root == state_root_of(model.items())
        key = rnd.choice(sorted(model))
        value, proof = store.prove(key)
        assert value == model[key] and proof.verify(store.root, key, value)


def test_a_snapshot_reads_its_version_and_keeps_writes_to_itself() -> None:
    store = new_store(keep_heights=8)
    overlay = store.overlay()
    for i in range(50):
        overlay.set(b"k%d" % i, b"v%d" % i)
    commit(store, overlay)
    snap = store.snapshot()
    assert snap.height == store.height
    overlay = store.overlay()
    overlay.set(b"k1", b"changed")
    overlay.delete(b"k2")
    overlay.set(b"new", b"x")
    commit(store, overlay)
    assert (snap.get(b"k1"), snap.get(b"k2"), snap.get(b"new")) == (b"v1", b"v2", None)
    assert snap.get(b"absent") is None
    snap.set(b"k3", b"scratch")
    snap.delete(b"k4")
    assert (snap.get(b"k3"), snap.get(b"k4")) == (b"scratch", None)
    assert (store.get(b"k1"), store.get(b"k3"), store.get(b"k4")) == (b"changed", b"v3", b"v4")
    assert store.snapshot().get(b"new") == b"x"
