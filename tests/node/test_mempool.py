"""Mempool admission, ordering, bounds, nonce rules, and its journal across restarts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from core.crypto import address_of
from core.state import StateReader
from core.types import (
    VOTE_COMMIT,
    Block,
    BlockHeader,
    CommitCertificate,
    Receipt,
    SignedTx,
    Tx,
    Vote,
    receipts_root,
    tx_root,
)
from node.config import MempoolConfig
from node.genesis import ensure_genesis, parse_genesis
from node.mempool import Mempool, MempoolError
from storage.api import KeyValueStore
from storage.chain import ChainStore
from storage.leveldb import LevelDBStore
from storage.state import Overlay
from tests.node.fakes import KvExecutor, PowerLossStore
from tests.node.harness import CHAIN_ID, USER_KEYS, make_tx
from vm.api import BlockContext

VALIDATOR = USER_KEYS[7]


def fresh_store() -> ChainStore:
    store = ChainStore.in_memory()
    genesis = parse_genesis({
        "chain_id": CHAIN_ID, "genesis_time_ms": 1,
        "validators": [{"public_key": VALIDATOR.public_key.hex()}],
        "accounts": {k.address: 1000 for k in USER_KEYS[:6]},
    })
    ensure_genesis(store, genesis, KvExecutor(CHAIN_ID))
    return store


def make_pool(store: ChainStore, journal: KeyValueStore | None = None, *,
              state: Callable[[], StateReader] | None = None, **limits: int) -> Mempool:
    """A pool over ``store``'s head (or over ``state``, read at the store's height)."""
    config = MempoolConfig(**{"max_txs": 1000, "max_bytes": 1 << 20, "max_txs_per_sender": 100, **limits})
    return Mempool(config, CHAIN_ID, KvExecutor(CHAIN_ID), state or store.state, lambda: store.height, journal)


def refused(pool: Mempool, stx: SignedTx) -> str:
    with pytest.raises(MempoolError) as info:
        pool.add(stx)
    return info.value.code


def test_reap_orders_each_sender_by_nonce_and_interleaves_by_arrival() -> None:
    pool = make_pool(fresh_store())
    a1, a0, b0, a2, b1 = make_tx(0, 1), make_tx(0, 0), make_tx(1, 0), make_tx(0, 2), make_tx(1, 1)
    for t in (a1, a0, b0, a2, b1):
        pool.add(t)
    reaped = pool.reap(100, 1 << 20)
    assert [(t.tx.sender, t.tx.nonce) for t in reaped if t.tx.sender == a0.tx.sender] == [
        (a0.tx.sender, 0), (a0.tx.sender, 1), (a0.tx.sender, 2)]
    assert [t.tx.nonce for t in reaped if t.tx.sender == b0.tx.sender] == [0, 1]
    # a1 arrived first but must wait for a0; b0 arrived before a2 and goes before it.
    assert reaped.index(b0) < reaped.index(a2)
    assert len(pool.reap(2, 1 << 20)) == 2


def test_reap_skips_a_sender_with_a_nonce_gap() -> None:
    pool = make_pool(fresh_store())
    pool.add(make_tx(0, 1))
    assert pool.reap(100, 1 << 20) == []
    pool.add(make_tx(0, 0))
    assert [t.tx.nonce for t in pool.reap(100, 1 << 20)] == [0, 1]


def test_admission_refusals_have_clear_codes() -> None:
    pool = make_pool(fresh_store())
    good = make_tx(0, 0)
    assert pool.add(good) == good.hash
    assert pool.add(good) == good.hash  # idempotent
    assert refused(pool, make_tx(0, 0, value=2)) == "bad_nonce"  # nonce taken by a pending tx
    assert refused(pool, make_tx(0, 500)) == "nonce_gap"
    assert refused(pool, make_tx(0, 1, expiry=0)) == "invalid"  # fails validate_basic
    assert refused(pool, make_tx(6, 0)) == "insufficient_fee"  # user 6 has no balance
    forged = SignedTx(make_tx(1, 0).tx, b"\x01" * 64)
    assert refused(pool, forged) == "bad_signature"
    other_chain = Tx("other", USER_KEYS[1].public_key, 0, "kv", "set", ("k", 1), 10, 100).sign(USER_KEYS[1])
    assert refused(pool, other_chain) == "wrong_chain"
    assert len(pool) == 1


def test_signature_is_checked_once_and_remembered() -> None:
    pool = make_pool(fresh_store())
    stx = make_tx(2, 0)
    assert not pool.is_verified(stx)
    pool.add(stx)
    assert pool.is_verified(stx)
    # The same tx with another signature is not "verified".
    assert not pool.is_verified(SignedTx(stx.tx, b"\x02" * 64))


def test_bounds_answer_mempool_full() -> None:
    pool = make_pool(fresh_store(), max_txs=3, max_txs_per_sender=2)
    pool.add(make_tx(0, 0))
    pool.add(make_tx(0, 1))
    assert refused(pool, make_tx(0, 2)) == "mempool_full"  # per sender
    pool.add(make_tx(1, 0))
    assert refused(pool, make_tx(2, 0)) == "mempool_full"  # count
    small = make_pool(fresh_store(), max_bytes=64 * 1024)
    big = "x" * 20_000
    small.add(make_tx(0, 0, value=big))
    small.add(make_tx(0, 1, value=big))
    small.add(make_tx(0, 2, value=big))
    assert refused(small, make_tx(1, 0, value=big)) == "mempool_full"  # bytes
    assert small.size_bytes <= 64 * 1024


def test_remove_committed_drops_used_nonces_and_expired_txs() -> None:
    store = fresh_store()
    pool = make_pool(store)
    t0, t1 = make_tx(0, 0), make_tx(0, 1)
    rival = make_tx(1, 0, value="rival")
    short = make_tx(2, 0, expiry=1)
    for t in (t0, t1, short):
        pool.add(t)
    pool.add(make_tx(1, 0))
    # Block 1 commits t0 and a rival tx of user 1 that another node accepted.
    state = store.overlay()
    receipts = KvExecutor(CHAIN_ID).execute_block(state, BlockContext(CHAIN_ID, 1, 2, b"\x00" * 32), [t0, rival])
    _commit_state(store, state, [t0, rival], receipts)
    pool.remove_committed([t0, rival], 1)
    assert not pool.has(t0.hash) and pool.has(t1.hash)
    user1_pending = make_tx(1, 0)
    assert not pool.has(user1_pending.hash)
    why = pool.rejection(user1_pending.hash)
    assert why is not None and why.code == "bad_nonce"
    expired = pool.rejection(short.hash)
    assert expired is not None and expired.code == "expired"
    assert pool.pending_nonce(USER_KEYS[0].public_key) == 2
    assert pool.sender_of(address_of(USER_KEYS[0].public_key)) == USER_KEYS[0].public_key


def _commit_state(store: ChainStore, state: Overlay, txs: list[SignedTx], receipts: list[Receipt]) -> None:
    head = store.head
    assert head is not None
    header = BlockHeader(CHAIN_ID, 1, head.hash, tx_root(txs), state.root(),
                         receipts_root(receipts), VALIDATOR.public_key, 0, 2,
                         head.header.validator_set_hash)
    block = Block(header, tuple(txs))
    vote = Vote.create(VALIDATOR, VOTE_COMMIT, CHAIN_ID, 1, 0, block.hash)
    cert = CommitCertificate.from_votes([vote])
    vs = store.validator_set(1)
    assert vs is not None
    store.commit_block(block, cert, receipts, state, vs)


class CountingReads:
    """The head state, counting the reads of each key."""

    def __init__(self, store: ChainStore) -> None:
        self.store = store
        self.reads: dict[bytes, int] = {}

    def get(self, key: bytes) -> bytes | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        return self.store.state().get(key)


def test_admission_reads_a_head_value_once_per_height() -> None:
    store = fresh_store()
    counting = CountingReads(store)
    pool = make_pool(store, state=lambda: counting)
    assert all(isinstance(r, bytes) for r in pool.add_many([make_tx(0, n) for n in range(5)]))
    balance_key = b"bal/" + USER_KEYS[0].address.encode()
    assert counting.reads[balance_key] == 1  # five checks of the fee, one read


def test_a_value_read_for_admission_does_not_outlive_its_height() -> None:
    store = fresh_store()
    pool = make_pool(store)
    newcomer = 6  # no balance at genesis
    assert refused(pool, make_tx(newcomer, 0)) == "insufficient_fee"
    # Block 1 gives the newcomer points. Nothing tells the pool but the head's height.
    state = store.overlay()
    state.set(b"bal/" + USER_KEYS[newcomer].address.encode(), (1000).to_bytes(16, "big"))
    _commit_state(store, state, [], [])
    assert pool.add(make_tx(newcomer, 0)) == make_tx(newcomer, 0).hash


def test_journal_restores_pending_txs_and_rejections_after_a_restart(tmp_path: Path) -> None:
    store = fresh_store()
    journal = LevelDBStore(tmp_path / "mempool")
    pool = make_pool(store, journal)
    txs = [make_tx(0, n) for n in range(3)] + [make_tx(1, 0)]
    assert all(isinstance(r, bytes) for r in pool.add_many(txs))
    short = make_tx(2, 0, expiry=1)
    pool.add(short)
    pool.remove_committed([], 1)  # height 1 passed: the short-lived tx expired
    assert pool.rejection(short.hash) is not None
    pool.flush_journal()  # what the RPC awaits (persist) before it answers
    journal.close()  # the node dies here (its in-memory pool is lost)

    journal = LevelDBStore(tmp_path / "mempool")
    committed_elsewhere = txs[3].hash
    again = make_pool(store, journal)
    readmitted, dropped = again.recover(lambda h: h == committed_elsewhere)
    assert readmitted == 3 and dropped == 0
    assert all(again.has(t.hash) for t in txs[:3])
    assert not again.has(committed_elsewhere)
    why = again.rejection(short.hash)
    assert why is not None and why.code == "expired"
    assert [t.tx.nonce for t in again.reap(10, 1 << 20)] == [0, 1, 2]
    journal.close()
    # The committed one left the journal: a third start does not see it.
    journal = LevelDBStore(tmp_path / "mempool")
    third = make_pool(store, journal)
    assert third.recover(lambda h: False) == (3, 0)
    journal.close()


async def test_accepted_txs_survive_a_power_loss() -> None:
    store, journal = fresh_store(), PowerLossStore()
    pool = make_pool(store, journal)
    txs = [make_tx(0, n) for n in range(5)]
    assert all(isinstance(r, bytes) for r in pool.add_many(txs))
    await pool.persist()  # the RPC's 202 waits for this
    assert pool.journal_synced
    again = make_pool(store, journal.after_power_loss())
    assert again.recover(lambda h: False) == (5, 0)
    assert all(again.has(t.hash) for t in txs)


async def test_concurrent_submissions_share_one_fsync() -> None:
    store, journal = fresh_store(), PowerLossStore()
    pool = make_pool(store, journal)
    in_flight, release = threading.Event(), threading.Event()

    def hold() -> None:  # the first batch's fsync takes as long as the test wants
        in_flight.set()
        release.wait(10)

    journal.on_sync = hold
    pool.add(make_tx(0, 0))
    first = asyncio.create_task(pool.persist())
    while not in_flight.is_set():
        await asyncio.sleep(0.001)
    journal.on_sync = None
    waiting = []
    for user in range(1, 6):
        for n in range(10):
            pool.add(make_tx(user, n))
            waiting.append(asyncio.create_task(pool.persist()))
    await asyncio.sleep(0.01)
    assert not any(t.done() for t in waiting), "answered before its tx was on disk"
    release.set()
    await asyncio.gather(first, *waiting)
    # One fsync for the first tx, one for the 50 that queued behind it.
    assert journal.syncs == 2 and pool.journal_syncs == 2
    again = make_pool(store, journal.after_power_loss())
    assert again.recover(lambda h: False) == (51, 0)


def test_commits_and_drops_reach_the_journal_synced(tmp_path: Path) -> None:
    store, journal = fresh_store(), PowerLossStore()
    pool = make_pool(store, journal)
    short = make_tx(2, 0, expiry=1)
    pool.add(short)
    pool.add(make_tx(3, 0))
    pool.remove_committed([], 1)  # no loop here: queued until flushed
    pool.flush_journal()
    again = make_pool(store, journal.after_power_loss())
    assert again.recover(lambda h: False) == (1, 0)
    why = again.rejection(short.hash)
    assert why is not None and why.code == "expired"


async def test_txs_from_peers_are_not_journaled() -> None:
    """The node that accepted a tx journals it; the peers it reaches keep it in memory
    only, and their commits write no tombstone for it."""
    store, journal = fresh_store(), PowerLossStore()
    written = journal.written
    pool = make_pool(store, journal)
    peer, client = make_tx(0, 0), make_tx(1, 0)
    assert pool.add_many([peer], persist=False) == [peer.hash]
    pool.add(client)
    await pool.persist()
    assert written == [(b"p/" + client.hash, client.encoded)]
    # A restart finds the client's tx only (the peer's comes back by gossip) ...
    again = make_pool(store, journal.after_power_loss())
    assert again.recover(lambda h: False) == (1, 0)
    assert again.has(client.hash) and not again.has(peer.hash)
    # ... and a commit of both deletes the journaled one alone, re-admitted or not.
    written.clear()
    pool.remove_committed([peer, client], 1)
    pool.flush_journal()
    assert written == [(b"p/" + client.hash, None)]
    again_journal = again._journal
    assert again_journal is not None
    again.remove_committed([client], 1)
    again.flush_journal()
    assert again_journal.get(b"p/" + client.hash) is None
    assert make_pool(store, again_journal).recover(lambda h: False) == (0, 0)


def test_expiry_beyond_the_configured_maximum_is_refused() -> None:
    store = fresh_store()  # head at 0: the next height is 1
    pool = make_pool(store, max_expiry_blocks=50)
    assert refused(pool, make_tx(0, 0, expiry=1 + 51)) == "expiry_too_far"
    assert refused(pool, make_tx(0, 0, expiry=10_000_000)) == "expiry_too_far"
    assert not pool.has(make_tx(0, 0, expiry=1 + 51).hash)
    pool.add(make_tx(0, 0, expiry=1 + 50))


def test_the_expiry_heap_stays_within_twice_the_pool() -> None:
    store = fresh_store()
    pool = make_pool(store)
    for n in range(300):
        stx = make_tx(0, n % 50, key=f"k{n}")
        pool.add(stx)
        pool.remove_committed([stx], 0)  # committed (as far as the pool knows) at once
        assert len(pool._expiry) <= 2 * len(pool) + 64
