"""ChainStore round trips, refusals that write nothing, reopen, schema check; the WAL."""

from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path

import pytest

from core.errors import DecodeError
from core.hashing import ZERO_HASH
from core.types import Block, CommitCertificate, Receipt, SignedTx, Validator, ValidatorSet
from storage import api, packing, schema
from storage.chain import ChainStore
from storage.errors import (
    BlockMismatch,
    CorruptStore,
    SchemaVersionError,
    StateRootMismatch,
    StorageError,
    WrongHeight,
)
from storage.kv import MemoryStore
from storage.leveldb import LevelDBStore
from storage.state import EMPTY_ROOT, Overlay, verify_state_proof
from storage.wal import ConsensusWAL
from tools.blocks import (
    VALIDATORS,
    certify,
    make_block,
    receipt_for,
    transfer,
)

NEXT_VALIDATORS = ValidatorSet((*VALIDATORS.validators, Validator(b"\x07" * 32, "new")))

WAL_RECORD_LIMIT = 4096


def block_for(
    store: ChainStore, writes: dict[bytes, bytes | None], n_txs: int = 3
) -> tuple[Block, CommitCertificate | None, list[Receipt], Overlay]:
    height = store.height + 1
    overlay = store.overlay()
    for k, v in writes.items():
        if v is None:
            overlay.delete(k)
        else:
            overlay.set(k, v)
    txs = [transfer(height * 100 + i) for i in range(n_txs)]
    receipts = [receipt_for(t, i) for i, t in enumerate(txs)]
    head = store.head
    block = make_block(height, ZERO_HASH if head is None else head.hash, txs, receipts, overlay)
    return block, (certify(block) if height else None), receipts, overlay


def commit(store: ChainStore, writes: dict[bytes, bytes | None], n_txs: int = 3) -> Block:
    block, cert, receipts, overlay = block_for(store, writes, n_txs)
    store.commit_block(block, cert, receipts, overlay, VALIDATORS)
    return block


@pytest.fixture(params=["memory", "leveldb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ChainStore:
    if request.param == "memory":
        return ChainStore.in_memory(keep_heights=4)
    return ChainStore.open(tmp_path / "chain", keep_heights=4)


def test_empty_store(store: ChainStore) -> None:
    assert store.height == -1
    assert store.head is None
    assert store.state_root == EMPTY_ROOT
    assert store.block(0) is None
    assert store.certificate(0) is None
    assert store.receipts(0) == []
    assert store.validator_set(0) is None
    assert store.state().get(b"k") is None


def test_commit_and_read_back(store: ChainStore) -> None:
    genesis = commit(store, {b"alice": b"100", b"bob": b"5"})
    assert store.height == 0
    assert store.certificate(0) is None
    assert store.validator_set(0) == VALIDATORS  # genesis header names the set
    blocks = [genesis]
    for h in range(1, 4):
        blocks.append(commit(store, {b"alice": b"%d" % (100 - h), b"h%d" % h: b"x"}, n_txs=h))
    assert store.height == 3
    assert store.state_root == blocks[-1].header.state_root
    for h, block in enumerate(blocks):
        got = store.block(h)
        assert got == block
        assert got is not None and got.encode() == block.encode()
        assert store.block_by_hash(block.hash) == block
        assert store.validator_set(h + 1) == VALIDATORS
        receipts = store.receipts(h)
        assert [r.tx_hash for r in receipts] == [t.hash for t in block.txs]
        for i, tx in enumerate(block.txs):
            assert store.tx_location(tx.hash) == (h, i)
            assert store.receipt(tx.hash) == receipts[i]
        if h:
            cert = store.certificate(h)
            assert cert is not None and cert.block_hash == block.hash
    # stored packed (storage/packing.py): the canonical encodings, compressed
    packed_block = store.kv.get(schema.block_key(2))
    assert packed_block is not None and packing.unpack_block(packed_block) == blocks[2].encode()
    packed = store.kv.get(schema.receipts_key(2))
    assert packed is not None
    # each receipt without its tx hash, which the block holds (34 bytes a tx)
    assert packing.without_hashes(packed)
    hashes = [t.hash for t in blocks[2].txs]
    assert packing.unpack_receipts(packed, hashes) == [r.encode() for r in store.receipts(2)]
    raw = [r.encode() for r in store.receipts(2)]
    assert len(packing.pack_receipts(raw)) - len(packed) >= 30 * len(raw) - 16
    with pytest.raises(DecodeError):
        packing.unpack_receipts(packed)  # without the hashes it cannot be read
    assert store.kv.get(schema.receipt_key(2, 1)) is None  # no per-receipt copy
    assert store.state().get(b"alice") == b"97"
    assert store.block(9) is None and store.block(-1) is None
    assert store.block_by_hash(b"\x01" * 32) is None
    assert store.receipt(b"\x02" * 32) is None and store.tx_location(b"\x02" * 32) is None


def test_prove_against_header_roots(store: ChainStore) -> None:
    blocks = [commit(store, {b"k": b"%d" % h, b"only%d" % h: b"1"}) for h in range(7)]
    for h in range(2, 7):  # keep_heights=4: heights 2..6 are kept
        root = blocks[h].header.state_root
        value, proof = store.prove(b"k", h)
        assert value == b"%d" % h
        assert verify_state_proof(root, b"k", value, proof)
        value, proof = store.prove(b"only6", h)
        assert value == (b"1" if h == 6 else None)
        assert verify_state_proof(root, b"only6", value, proof)
    with pytest.raises(KeyError):
        store.prove(b"k", 1)
    with pytest.raises(KeyError):
        store.prove(b"k", 7)
    value, proof = store.prove(b"k")
    assert value == b"6" and verify_state_proof(store.state_root, b"k", value, proof)


def _kv_snapshot(store: ChainStore) -> list[tuple[bytes, bytes]]:
    return list(store.kv.iterate())


def test_refused_commits_write_nothing(store: ChainStore) -> None:
    commit(store, {b"a": b"1"})
    commit(store, {b"a": b"2"})
    before = _kv_snapshot(store)
    root = store.state_root
    block, cert, receipts, overlay = block_for(store, {b"a": b"3", b"b": b"4"})

    bad_height = dataclasses.replace(block, header=dataclasses.replace(block.header, height=5))
    with pytest.raises(WrongHeight) as e1:
        store.commit_block(bad_height, cert, receipts, overlay, VALIDATORS)
    assert e1.value.code == "wrong_height"

    other_root = dataclasses.replace(
        block, header=dataclasses.replace(block.header, state_root=b"\x05" * 32)
    )
    with pytest.raises(StateRootMismatch) as e2:
        store.commit_block(other_root, certify(other_root), receipts, overlay, VALIDATORS)
    assert e2.value.code == "state_root_mismatch"

    with pytest.raises(BlockMismatch):
        store.commit_block(block, None, receipts, overlay, VALIDATORS)
    with pytest.raises(BlockMismatch):
        store.commit_block(block, certify(store.head), receipts, overlay, VALIDATORS)  # type: ignore[arg-type]
    with pytest.raises(BlockMismatch):
        store.commit_block(block, cert, receipts[:-1], overlay, VALIDATORS)
    with pytest.raises(BlockMismatch):
        store.commit_block(block, cert, receipts[::-1], overlay, VALIDATORS)
    orphan = dataclasses.replace(
        block, header=dataclasses.replace(block.header, prev_hash=b"\x09" * 32)
    )
    with pytest.raises(BlockMismatch):
        store.commit_block(orphan, certify(orphan), receipts, overlay, VALIDATORS)
    foreign = ChainStore.in_memory().overlay()
    with pytest.raises(StorageError):
        store.commit_block(block, cert, receipts, foreign, VALIDATORS)

    assert _kv_snapshot(store) == before
    assert store.height == 1 and store.state_root == root
    store.commit_block(block, cert, receipts, overlay, NEXT_VALIDATORS)
    assert store.height == 2
    assert store.validator_set(3) == NEXT_VALIDATORS
    assert store.state().get(b"b") == b"4"


def test_genesis_takes_no_certificate(store: ChainStore) -> None:
    block, _, receipts, overlay = block_for(store, {b"a": b"1"})
    with pytest.raises(BlockMismatch):
        store.commit_block(block, certify(block), receipts, overlay, VALIDATORS)
    assert store.height == -1


def test_pipelined_overlay_commits_after_its_parent(store: ChainStore) -> None:
    commit(store, {b"a": b"1"})
    # execute h+1 on an overlay stacked on h's uncommitted overlay
    block1, cert1, receipts1, overlay1 = block_for(store, {b"a": b"2", b"b": b"1"})
    overlay2 = overlay1.overlay()
    assert overlay2.get(b"a") == b"2"
    overlay2.set(b"c", b"3")
    overlay2.delete(b"b")
    store.commit_block(block1, cert1, receipts1, overlay1, VALIDATORS)
    txs: list[SignedTx] = [transfer(900)]
    receipts2 = [receipt_for(txs[0])]
    block2 = make_block(2, block1.hash, txs, receipts2, overlay2)
    store.commit_block(block2, certify(block2), receipts2, overlay2, VALIDATORS)
    assert store.state().get(b"a") == b"2"
    assert store.state().get(b"b") is None
    assert store.state().get(b"c") == b"3"


def test_reopen_resumes_at_the_head(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    blocks = [commit(store, {b"k%d" % h: b"v", b"n": b"%d" % h}) for h in range(5)]
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    assert store.height == 4
    assert store.head == blocks[-1]
    assert store.state_root == blocks[-1].header.state_root
    assert store.state().get(b"n") == b"4"
    commit(store, {b"n": b"5"})
    assert store.height == 5
    store.close()


def test_schema_version_is_checked(tmp_path: Path) -> None:
    kv = LevelDBStore(tmp_path / "db")
    kv.put(schema.META_SCHEMA, b"hkchain-store/0")
    kv.close()
    with pytest.raises(SchemaVersionError) as e:
        ChainStore.open(tmp_path / "db")
    assert e.value.code == "schema_version"
    foreign = MemoryStore()
    foreign.put(b"something", b"else")
    with pytest.raises(SchemaVersionError):
        ChainStore(foreign)
    fresh = MemoryStore()
    ChainStore(fresh)
    assert fresh.get(schema.META_SCHEMA) == schema.SCHEMA_VERSION


def _rewrite_as_layout_2(kv: LevelDBStore, heights: range) -> None:
    """Store blocks and receipts as layout 2 did: bare encodings, one value per receipt."""
    with kv.batch(sync=True) as wb:
        for h in heights:
            packed_block = kv.get(schema.block_key(h))
            assert packed_block is not None
            wb.put(schema.block_key(h), packing.unpack_block(packed_block))
            packed = kv.get(schema.receipts_key(h))
            if packed is not None:
                block = Block.decode(packing.unpack_block(packed_block))
                hashes = [t.hash for t in block.txs]
                for i, data in enumerate(packing.unpack_receipts(packed, hashes)):
                    wb.put(schema.receipt_key(h, i), data)
                wb.delete(schema.receipts_key(h))
        wb.put(schema.META_SCHEMA, b"hkchain-store/2")


def test_a_layout_2_store_opens_reads_and_goes_on(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    blocks = [commit(store, {b"n": b"%d" % h}, n_txs=h % 3) for h in range(4)]
    receipts = {h: store.receipts(h) for h in range(4)}
    kv = store.kv
    assert isinstance(kv, LevelDBStore)
    _rewrite_as_layout_2(kv, range(4))
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    assert store.kv.get(schema.META_SCHEMA) == schema.SCHEMA_VERSION  # restamped
    for h, block in enumerate(blocks):
        assert store.block(h) == block
        assert store.receipts(h) == receipts[h]
        for i, tx in enumerate(block.txs):
            assert store.receipt(tx.hash) == receipts[h][i]
    new = commit(store, {b"n": b"4"}, n_txs=2)
    assert store.block(4) == new and len(store.receipts(4)) == 2
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    assert store.block(3) == blocks[3] and store.block(4) == new
    store.close()


def test_a_layout_3_store_with_hashes_in_its_receipts_opens_and_goes_on(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    blocks = [commit(store, {b"n": b"%d" % h}, n_txs=2) for h in range(3)]
    receipts = {h: store.receipts(h) for h in range(3)}
    with store.kv.batch(sync=True) as wb:  # as layout 3 packed them: each with its tx hash
        for h in range(3):
            wb.put(schema.receipts_key(h), packing.pack_receipts([r.encode() for r in receipts[h]]))
        wb.put(schema.META_SCHEMA, b"hkchain-store/3")
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    assert store.kv.get(schema.META_SCHEMA) == schema.SCHEMA_VERSION
    for h, block in enumerate(blocks):
        packed = store.kv.get(schema.receipts_key(h))
        assert packed is not None and not packing.without_hashes(packed)
        assert store.receipts(h) == receipts[h]
        for i, tx in enumerate(block.txs):
            assert store.receipt(tx.hash) == receipts[h][i]
    commit(store, {b"n": b"3"}, n_txs=2)
    packed = store.kv.get(schema.receipts_key(3))
    assert packed is not None and packing.without_hashes(packed)
    assert len(store.receipts(3)) == 2
    store.close()


def test_a_damaged_packed_value_is_a_corrupt_store(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    blocks = [commit(store, {b"n": b"%d" % h}, n_txs=2) for h in range(3)]
    good = store.kv.get(schema.receipts_key(1))
    assert good is not None
    store.kv.put(schema.block_key(1), packing.MARK_ZLIB + b"not zlib")
    store.kv.put(schema.receipts_key(1), good[:-4])
    with pytest.raises(CorruptStore):
        store.block(1)
    with pytest.raises(CorruptStore):
        store.receipts(1)
    with pytest.raises(CorruptStore):
        store.receipt(blocks[1].txs[0].hash)
    # a well-formed value whose offsets run past its end
    store.kv.put(schema.receipts_key(1), packing.MARK_ZLIB + zlib.compress(
        b"\x00\x00\x00\x01\x00\x00\x00\x09abc"))
    with pytest.raises(CorruptStore):
        store.receipt(blocks[1].txs[0].hash)
    assert store.block(2) == blocks[2]
    store.close()


def test_implementations_conform_to_the_interfaces(tmp_path: Path) -> None:
    # mypy checks these assignments against the Protocols of storage/api.py
    chain: api.ChainStore = ChainStore.in_memory()
    overlay: api.StateOverlay = chain.overlay()
    child: api.StateOverlay = overlay.overlay()
    proof: api.StateProof = chain.prove(b"k")[1]
    kvs: list[api.KeyValueStore] = [MemoryStore(), LevelDBStore(tmp_path / "db")]
    wal: api.ConsensusWAL = ConsensusWAL(kvs[0], max_record_bytes=1024)
    assert chain.height == -1 and child.get(b"k") is None and wal.load() is None
    assert proof.verify(chain.state_root, b"k", None)
    for kv in kvs:
        kv.close()


def test_schema_prefixes_are_prefix_free() -> None:
    for a in schema.ALL_PREFIXES:
        for b in schema.ALL_PREFIXES:
            assert a == b or not b.startswith(a)


def test_wal_save_and_load(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    wal = ConsensusWAL(store.kv, max_record_bytes=WAL_RECORD_LIMIT)
    assert wal.load() is None
    wal.save(b"vote-1")
    wal.save(b"vote-2")
    assert wal.load() == b"vote-2"
    with pytest.raises(StorageError):
        wal.save(b"x" * (WAL_RECORD_LIMIT + 1))
    assert wal.load() == b"vote-2"
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    assert ConsensusWAL(store.kv, max_record_bytes=WAL_RECORD_LIMIT).load() == b"vote-2"
    assert ConsensusWAL(store.kv, b"other", max_record_bytes=WAL_RECORD_LIMIT).load() is None
    store.close()


def test_account_history_newest_first_with_a_cursor(store: ChainStore) -> None:
    commit(store, {})  # genesis: the history starts at height 0
    alice, bob = "hk1alice", "hk1bob"
    for _ in range(3):
        block, cert, receipts, overlay = block_for(store, {}, n_txs=3)
        store.commit_block(block, cert, receipts, overlay, VALIDATORS,
                           accounts=[(alice, 0), (bob, 1), (alice, 2)])
    assert store.account_history_from() == 0
    every = store.account_txs(alice, None, 100)
    assert every == [(3, 2), (3, 0), (2, 2), (2, 0), (1, 2), (1, 0)]
    assert store.account_txs(alice, None, 2) == [(3, 2), (3, 0)]
    assert store.account_txs(alice, (3, 0), 3) == [(2, 2), (2, 0), (1, 2)]
    assert store.account_txs(alice, (2, 0), 10) == [(1, 2), (1, 0)]
    assert store.account_txs(alice, (1, 0), 10) == []
    assert store.account_txs(bob, None, 10) == [(3, 1), (2, 1), (1, 1)]
    # "hk1alice" must not see the history of an account whose name extends it.
    assert store.account_txs("hk1alic", None, 10) == []
    block, cert, receipts, overlay = block_for(store, {}, n_txs=1)
    with pytest.raises(StorageError):
        store.commit_block(block, cert, receipts, overlay, VALIDATORS, accounts=[(alice, 5)])
    assert store.height == 3 and store.account_txs(alice, None, 1) == [(3, 2)]


def test_account_history_starts_where_the_store_first_indexed(tmp_path: Path) -> None:
    kv = MemoryStore()
    store = ChainStore(kv)
    commit(store, {})
    commit(store, {})
    kv.delete(schema.META_ACCOUNTS_FROM)  # a store written before the account history
    reopened = ChainStore(kv)
    assert reopened.account_history_from() is None
    commit(reopened, {})
    assert reopened.account_history_from() == 2


def test_wal_keeps_block_bodies_until_told_to_forget_them(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    wal = ConsensusWAL(store.kv, max_record_bytes=WAL_RECORD_LIMIT)
    a, b = b"\x0a" * 32, b"\x0b" * 32
    assert wal.load_block(a) is None
    wal.save_block(a, b"block a")
    wal.save_block(b, b"block b")
    wal.save(b"names b")  # a synced write: the bodies put before it are durable with it
    with pytest.raises(StorageError) as err:
        wal.save_block(a, b"x" * (wal.max_block_bytes + 1))
    assert err.value.code == "wal_block_too_large" and wal.load_block(a) == b"block a"
    wal.keep_blocks((b,))
    assert wal.load_block(a) is None and wal.load_block(b) == b"block b"
    store.close()
    store = ChainStore.open(tmp_path / "chain")
    again = ConsensusWAL(store.kv, max_record_bytes=WAL_RECORD_LIMIT)
    assert again.load_block(b) == b"block b"
    assert ConsensusWAL(store.kv, b"other", max_record_bytes=WAL_RECORD_LIMIT).load_block(b) is None
    again.keep_blocks(())  # learns what is kept from the store after a restart
    assert again.load_block(b) is None
    store.close()


def test_wal_keeps_block_bodies_packed(tmp_path: Path) -> None:
    store = ChainStore.open(tmp_path / "chain")
    wal = ConsensusWAL(store.kv, max_record_bytes=WAL_RECORD_LIMIT)
    body = b"\x93" + b"the same address and token name " * 200
    a, b, c = b"\x0a" * 32, b"\x0b" * 32, b"\x0c" * 32
    wal.save_block(a, body)
    stored = store.kv.get(schema.wal_block_prefix(b"consensus") + a)
    assert stored is not None and stored[:1] == packing.MARK_ZLIB and len(stored) < len(body) // 5
    assert wal.load_block(a) == body
    # A bare body kept by an earlier build is still read; a damaged one is a fault of the store.
    store.kv.put(schema.wal_block_prefix(b"consensus") + b, body)
    assert wal.load_block(b) == body
    store.kv.put(schema.wal_block_prefix(b"consensus") + c, packing.MARK_ZLIB + b"not zlib")
    with pytest.raises(CorruptStore):
        wal.load_block(c)
    store.close()


def test_bytes_by_family_names_every_record(store: ChainStore) -> None:
    assert set(schema.FAMILY_NAMES) == set(schema.ALL_PREFIXES)
    for h in range(3):
        commit(store, {b"n": b"%d" % h}, n_txs=2)
    families = schema.bytes_by_family(store.kv)
    assert "unknown" not in families
    packed = store.kv.get(schema.receipts_key(1))
    assert packed is not None
    receipts = sum(len(k) + len(v) for k, v in store.kv.iterate(schema.RECEIPTS))
    assert families["receipts"] == receipts >= len(packed) + len(schema.receipts_key(1))
    assert families["blocks"] > 0 and families["tx index"] == 6 * (len(schema.TX_INDEX) + 32 + 12)
    store.kv.put(b"zz-stray", b"12345")
    assert schema.bytes_by_family(store.kv)["unknown"] == len(b"zz-stray") + 5


def test_an_unchanged_validator_set_is_stored_once(store: ChainStore) -> None:
    genesis, cert, receipts, overlay = block_for(store, {b"n": b"0"})
    store.commit_block(genesis, cert, receipts, overlay, VALIDATORS)
    for h in range(1, 3):
        commit(store, {b"n": b"%d" % h})
    block, cert, receipts, overlay = block_for(store, {b"n": b"3"})
    store.commit_block(block, cert, receipts, overlay, NEXT_VALIDATORS)  # a change
    block, cert, receipts, overlay = block_for(store, {b"n": b"4"})
    store.commit_block(block, cert, receipts, overlay, NEXT_VALIDATORS)  # it stays
    full = VALIDATORS.encode()
    assert store.kv.get(schema.validators_key(1)) == full
    for h in (2, 3):  # the same set: a reference to height 1's entry
        assert store.kv.get(schema.validators_key(h)) == packing.MARK_SAME + schema.be64(1)
    assert store.kv.get(schema.validators_key(4)) == NEXT_VALIDATORS.encode()
    assert store.kv.get(schema.validators_key(5)) == packing.MARK_SAME + schema.be64(4)
    for h in range(0, 4):
        assert store.validator_set(h) == VALIDATORS
    assert store.validator_set(4) == store.validator_set(5) == NEXT_VALIDATORS
    assert store.validator_set(6) is None
    # a reference that points forward, or to nothing, is a damaged store
    store.kv.put(schema.validators_key(3), packing.MARK_SAME + schema.be64(5))
    with pytest.raises(CorruptStore):
        store.validator_set(3)
    store.kv.put(schema.validators_key(3), packing.MARK_SAME + schema.be64(2) + b"x")
    with pytest.raises(CorruptStore):
        store.validator_set(3)


def test_a_validator_set_is_decoded_once_while_it_stays(
    store: ChainStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    genesis, cert, receipts, overlay = block_for(store, {b"n": b"0"})
    store.commit_block(genesis, cert, receipts, overlay, VALIDATORS)
    commit(store, {b"n": b"1"})
    block, cert, receipts, overlay = block_for(store, {b"n": b"2"})
    store.commit_block(block, cert, receipts, overlay, NEXT_VALIDATORS)
    decoded: list[int] = []
    real = ValidatorSet.decode.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ValidatorSet], data: bytes) -> ValidatorSet:
        decoded.append(len(data))
        vs: ValidatorSet = real(cls, data)
        return vs

    monkeypatch.setattr(ValidatorSet, "decode", classmethod(counting))
    first = store.validator_set(1)
    assert first == VALIDATORS and store.validator_set(2) is first and len(decoded) == 1
    assert store.validator_set(3) == NEXT_VALIDATORS and len(decoded) == 2  # another set
    assert store.validator_set(1) == VALIDATORS and len(decoded) == 3
    # A set stored anew under a height is read anew, never answered from what was seen.
    store.kv.put(schema.validators_key(2), NEXT_VALIDATORS.encode())
    assert store.validator_set(2) == NEXT_VALIDATORS
