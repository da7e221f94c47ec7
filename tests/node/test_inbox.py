"""Peers' txs held, not admitted (node/inbox.py): the inbox's bounds and order, and a
validator that holds a peer's tx instead of admitting it until it may propose soon, or
until the tx has waited its hold (``hold_s``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.types import SignedTx
from node.inbox import MIN_HOLD_S, Inbox, hold_s_for
from node.service import Node
from tests.node.harness import (
    make_homes,
    make_tx,
    start_nodes,
    stop_nodes,
    wait_for,
    wait_for_mesh,
)


def test_the_inbox_keeps_its_bounds_by_dropping_the_oldest() -> None:
    txs = [make_tx(0, n) for n in range(5)]
    size = len(txs[0].encoded)
    inbox = Inbox(max_txs=3, max_bytes=10 * size)
    assert [inbox.add(stx, float(i)) for i, stx in enumerate(txs)] == [0, 0, 0, 1, 1]
    assert inbox.hashes() == [t.hash for t in txs[2:]] and len(inbox) == 3
    assert inbox.size_bytes == sum(len(t.encoded) for t in txs[2:])
    by_bytes = Inbox(max_txs=100, max_bytes=2 * size + size // 2)
    assert [by_bytes.add(stx, float(i)) for i, stx in enumerate(txs[:3])] == [0, 0, 1]
    assert by_bytes.hashes() == [t.hash for t in txs[1:3]]
    with pytest.raises(ValueError):
        Inbox(max_txs=0, max_bytes=1)


def test_the_inbox_hands_out_the_oldest_first_and_forgets_the_committed() -> None:
    txs = [make_tx(0, n) for n in range(4)]
    inbox = Inbox(max_txs=10, max_bytes=1 << 20)
    for i, stx in enumerate(txs):
        inbox.add(stx, float(i))
    inbox.add(txs[0], 99.0)  # held already: neither moved nor re-timed
    assert inbox.oldest_s() == 0.0 and txs[0].hash in inbox
    inbox.discard([txs[1].hash, b"\x00" * 32])
    assert inbox.get(txs[1].hash) is None and inbox.get(txs[2].hash) == txs[2]
    assert inbox.take(arrived_before_s=2.5) == [txs[0], txs[2]]
    assert inbox.oldest_s() == 3.0
    assert inbox.take() == [txs[3]]
    assert len(inbox) == 0 and inbox.size_bytes == 0 and inbox.oldest_s() is None


def test_a_peers_tx_is_held_as_long_as_a_view_may_last_and_at_least_two_seconds() -> None:
    assert hold_s_for(8_000) == 8.0 and hold_s_for(4_000) == 4.0
    assert hold_s_for(500) == MIN_HOLD_S == 2.0


def _added(nodes: list[Node]) -> list[set[bytes]]:
    """What each node's mempool admits from now on."""
    seen: list[set[bytes]] = [set() for _ in nodes]
    for n, hashes in zip(nodes, seen, strict=True):
        n.mempool.on_added.append(hashes.update)
    return seen


async def test_only_the_next_proposers_admit_a_peers_tx(tmp_path: Path) -> None:
    # An idle chain stays at one height (empty blocks 20 s apart) until the tx's block,
    # which the proposer makes after its batch wait, before anyone's hold runs out.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=20_000, view_timeout_ms=60_000,
                                         block_overrides={"batch_interval_ms": 500}))
    try:
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        assert all(n.hold_s == 60.0 for n in nodes)  # a view timeout: none is admitted by age here
        soon = [n._may_propose_soon() for n in nodes]
        assert soon.count(True) == 2, soon  # the proposer of this height and of the next
        origin = soon.index(False)
        holder = next(i for i, s in enumerate(soon) if not s and i != origin)
        added = _added(nodes)
        stx = make_tx(0, 0, key="held")
        await nodes[origin].submit([stx])
        await wait_for(lambda: stx.hash in nodes[holder].inbox, what="the tx held by the other non-proposer")
        assert not nodes[holder].mempool.has(stx.hash)
        # Its signature was checked on arrival: the block that carries it need not.
        assert nodes[holder].mempool.is_verified(stx)
        assert nodes[holder].tx_status(stx.hash)["status"] == "pending"
        forged = SignedTx(make_tx(3, 0).tx, b"\x01" * 64)
        assert nodes[holder].admit_from_peer([forged]) == []
        assert forged.hash not in nodes[holder].inbox  # a bad signature is not held
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes),
                       timeout_s=20, what="the tx committed")
        assert len(nodes[holder].inbox) == 0  # forgotten once committed
        admitted_by = {i for i, hashes in enumerate(added) if stx.hash in hashes}
        assert admitted_by == {i for i, s in enumerate(soon) if s} | {origin}
        assert not nodes[holder].mempool.has(stx.hash)
    finally:
        await stop_nodes(nodes)


async def test_a_held_tx_is_admitted_once_it_has_waited(tmp_path: Path) -> None:
    # The proposers wait 30 s before proposing a block that is not full: the tx stays
    # pending, and the validator that held it admits it after its hold.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=30_000, view_timeout_ms=60_000,
                                         block_overrides={"batch_interval_ms": 30_000}))
    try:
        for n in nodes:
            n.hold_s = 0.3
        await wait_for_mesh(nodes)
        await wait_for(lambda: len({n.replica.height for n in nodes}) == 1, what="every replica at one height")
        soon = [n._may_propose_soon() for n in nodes]
        origin = soon.index(False)
        holder = next(i for i, s in enumerate(soon) if not s and i != origin)
        stx = make_tx(1, 0, key="aged")
        await nodes[origin].submit([stx])
        await wait_for(lambda: nodes[holder].mempool.has(stx.hash), timeout_s=10,
                       what="the held tx admitted after its hold")
        assert len(nodes[holder].inbox) == 0
        assert all(n.store.tx_location(stx.hash) is None for n in nodes)  # still pending
    finally:
        await stop_nodes(nodes)


async def test_a_validator_admits_what_it_holds_when_its_turn_comes(tmp_path: Path) -> None:
    # A tx that only one validator has, held while others propose empty blocks: it is
    # proposed, and committed, only because the holder admits it as its turn nears.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=150))
    try:
        for n in nodes:
            n.hold_s = 600.0  # never admitted by age here
        await wait_for_mesh(nodes)
        await wait_for(lambda: nodes[0].store.height >= 1, what="the first block")
        added = _added(nodes)
        holder = next(n for n in nodes if not n._may_propose_soon())
        stx: SignedTx = make_tx(2, 0, key="only one has it")
        assert holder.admit_from_peer([stx]) == []  # held, not admitted
        held_at = holder.store.height
        assert stx.hash in holder.inbox and not holder.mempool.has(stx.hash)
        await wait_for(lambda: all(n.store.tx_location(stx.hash) is not None for n in nodes),
                       timeout_s=20, what="the held tx committed")
        height, _ = holder.store.tx_location(stx.hash)  # type: ignore[misc]
        assert height > held_at
        vs = holder.store.validator_set(height)
        assert vs is not None and vs.proposer(height, 0) == holder.key.public_key
        assert stx.hash in added[nodes.index(holder)]
    finally:
        await stop_nodes(nodes)


async def test_a_proposer_to_be_admits_what_it_holds_before_what_arrives(tmp_path: Path) -> None:
    # A sender's nonce 0 held, then its nonce 1 arrives once the validator may propose:
    # both are admitted, in nonce order (nonce 1 alone would be a nonce gap).
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=20_000, view_timeout_ms=60_000))
    try:
        await wait_for(lambda: nodes[0].store.height >= 1, what="the first block")
        holder = next(n for n in nodes if not n._may_propose_soon())
        first, second = make_tx(4, 0, key="in order"), make_tx(4, 1, key="in order")
        assert holder.admit_from_peer([first]) == []
        holder._may_propose_soon = lambda: True  # type: ignore[method-assign]
        assert holder.admit_from_peer([second]) == [first.hash, second.hash]
        assert holder.mempool.has(first.hash) and holder.mempool.has(second.hash)
        assert len(holder.inbox) == 0
        # Past its bound the inbox drops the oldest, and the node counts it.
        holder._may_propose_soon = lambda: False  # type: ignore[method-assign]
        holder.inbox.max_txs = 1
        older, newer = make_tx(5, 0, key="bounded"), make_tx(6, 0, key="bounded")
        assert holder.admit_from_peer([older, newer]) == []
        assert holder.inbox.hashes() == [newer.hash]
        holder.refresh_metrics()
        sample = holder.metrics.registry.get_sample_value
        assert sample("hkchain_inbox_dropped_total") == 1.0 and sample("hkchain_inbox_txs") == 1.0
    finally:
        await stop_nodes(nodes)


async def test_unpayable_txs_a_peer_pushes_leave_the_view_timer_idle(tmp_path: Path) -> None:
    # Txs whose signatures verify but whose sender cannot pay: held, then refused when
    # admitted. Neither ends the idle wait of a validator's view timer, so no one can set
    # every view timer running by pushing them. A payable tx, once admitted, does.
    nodes = await start_nodes(make_homes(tmp_path, 4, empty_block_interval_ms=30_000, view_timeout_ms=60_000))
    try:
        for n in nodes:
            n.hold_s = 0.3
        await wait_for_mesh(nodes, first_block=True, timeout_s=30)
        holders = [n for n in nodes if not n._may_propose_soon()]
        height = nodes[0].store.height
        assert len(holders) == 2 and all(h.replica.idle for h in holders)
        junk = [make_tx(7, i, key="junk") for i in range(5)]  # user 7 has nothing
        for h in holders:
            assert h.admit_from_peer(junk) == []
            assert all(t.hash in h.inbox for t in junk)
        assert all(h.replica.idle for h in holders)
        await wait_for(lambda: all(len(h.inbox) == 0 for h in holders), what="the junk taken from the inbox")
        assert not any(h.holds_tx(t.hash) for h in holders for t in junk)  # refused on admission
        assert all(h.replica.idle for h in holders)
        assert all(len(n.network.peers) == 3 for n in nodes)  # no peer blamed for it
        assert nodes[0].store.height == height
        payable = make_tx(5, 0, key="payable")
        assert holders[0].admit_from_peer([payable]) == []
        await wait_for(lambda: holders[0].mempool.has(payable.hash) or holders[0].store.tx_location(payable.hash)
                       is not None, what="the payable tx admitted")
        assert not holders[0].replica.idle or holders[0].store.height > height
    finally:
        await stop_nodes(nodes)
